"""Writes the versioned reference geography into the lake (silver ``ref_*`` tables)."""

from __future__ import annotations

import logging

from civiclake.geography import CURRENT_VERSION, reference_rows
from civiclake.settings import Settings

log = logging.getLogger(__name__)

NUMERIC = {"min_lon", "min_lat", "max_lon", "max_lat", "centroid_lon", "centroid_lat"}


def run(spark, settings: Settings) -> dict[str, int]:
    counts = {}
    for kind in ("district", "streets", "communities", "grids"):
        rows = [
            {k: (float(v) if k in NUMERIC else v) for k, v in row.items()} | {"geo_version": CURRENT_VERSION}
            for row in reference_rows(kind)
        ]
        df = spark.createDataFrame(rows)
        df = df.select(*sorted(df.columns))
        path = settings.table_path("silver", f"ref_{kind}")
        df.coalesce(1).write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(path)
        counts[f"ref_{kind}"] = len(rows)
    log.info("reference geography %s loaded: %s", CURRENT_VERSION, counts)
    return counts

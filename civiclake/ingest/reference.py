"""The reference data (geography, case categories, the case funnel's channels) as silver ``ref_*`` tables.

Written whole on every run, so the lake holds the reference of the code that runs; the
governance ingest writes them before its tables, and dbt's reference sources read them.
Every geography row carries ``geo_version``, the version the run uses
(``civiclake.geography.active_version``: the current one, or ``CIVICLAKE_GEOGRAPHY_VERSION``
when a past run is reproduced), so the marts say which codes they are in.
"""

from __future__ import annotations

import logging

from civiclake.catalogue import CATEGORIES, FUNNEL_CHANNEL_NAMES
from civiclake.geography import active_version, reference_rows
from civiclake.settings import Settings

log = logging.getLogger(__name__)

NUMERIC = {"min_lon", "min_lat", "max_lon", "max_lat", "centroid_lon", "centroid_lat"}


def load_reference(spark, settings: Settings) -> dict[str, int]:
    """Overwrites every ``ref_*`` table; returns the rows written per table."""
    counts = {}
    version = active_version()
    for kind in ("district", "streets", "communities", "grids"):
        rows = [
            {k: (float(v) if k in NUMERIC else v) for k, v in row.items()} | {"geo_version": version}
            for row in reference_rows(kind, version)
        ]
        df = spark.createDataFrame(rows)
        df = df.select(*sorted(df.columns))
        path = settings.table_path("silver", f"ref_{kind}")
        df.coalesce(1).write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(path)
        counts[f"ref_{kind}"] = len(rows)
    categories = [
        {"category_code": c.code, "category_name": c.name, "department": c.department, "sla_days": c.sla_days}
        for c in CATEGORIES
    ]
    # Every channel of the case funnel, so that the marts name each channel a case came in by.
    channels = [{"channel_code": code, "channel_name": name} for code, name in FUNNEL_CHANNEL_NAMES.items()]
    for name, rows in (("categories", categories), ("channels", channels)):
        df = spark.createDataFrame(rows)
        df.select(*sorted(df.columns)).coalesce(1).write.format("delta").mode("overwrite").option(
            "overwriteSchema", "true"
        ).save(settings.table_path("silver", f"ref_{name}"))
        counts[f"ref_{name}"] = len(rows)
    log.info("reference geography %s loaded: %s", version, counts)
    return counts

"""The case funnel: every channel's cases in one silver table, ``silver.cases``.

For a logical date D it reads the case sources as silver holds them — governance cases
(grid workers, 找书记 appeals, 12345, the mini program), city-management cases (12345 calls,
patrols, the city system's own camera AI), Open311 requests (Longhua's app; New York's rows
under their own jurisdiction) and the events the district's frame models found in street
camera clips (silver.camera_events, spark_jobs/ingest_cameras.py) — takes every case reported before the end of D, gives it the funnel's
columns (civiclake/cases/funnel.py): a case id unique across sources, its channel, the
catalogue category its source category maps to (civiclake/reference/cases/
source_categories.yaml), whether staff chose that category, a common status, and MERGEs
it by ``case_id``. A row is rewritten only when something in it changed, so rerunning D
leaves the table as one run did, and a later day carries the status changes of older cases.

A source whose silver table does not exist yet (a family not connected) contributes
nothing; the run says so in its log.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta

from civiclake.cases import funnel
from civiclake.cases.categories import CAMERA, CITY, GOVERNANCE, OPEN311_PREFIX, load_categories
from civiclake.lake.writes import execute_merge, table_exists
from civiclake.settings import Settings
from civiclake.spark import local_checkpoint

log = logging.getLogger(__name__)

SOURCES = {
    "governance": "governance_cases",
    "city": "city_cases",
    "open311": "open311_requests",
    "camera": "camera_events",
}
_MAPPING_SOURCE = "_mapping_source"


class DuplicateCaseIdError(RuntimeError):
    pass


class NoCaseSourceError(RuntimeError):
    pass


def _lookup(mapping: dict[str, str], column: str):
    """``mapping[column]`` as a Spark expression (null for a value it does not list)."""
    from itertools import chain

    from pyspark.sql import functions as F

    return F.create_map(*[F.lit(v) for v in chain.from_iterable(mapping.items())])[F.col(column)]


def _column_or_null(df, name: str, kind: str):
    """``name`` of ``df``; null where a table written before the column existed lacks it."""
    from pyspark.sql import functions as F

    return F.col(name) if name in df.columns else F.lit(None).cast(kind)


def _governance(df):
    from pyspark.sql import functions as F

    return df.select(
        "case_id",
        F.lit("governance").alias("source_system"),
        F.col("case_id").alias("source_case_id"),
        "channel",
        F.lit(funnel.DISTRICT_JURISDICTION).alias("jurisdiction"),
        F.col("category").alias("source_category"),
        # Residents' words (and the grid worker's pick from them): the classifier decides.
        F.lit(False).alias("category_trusted"),
        "description",
        "district_code",
        "street_code",
        "community_code",
        "grid_code",
        "lon",
        "lat",
        _column_or_null(df, "asset_id", "string").alias("asset_id"),
        "reported_at",
        "closed_at",
        _lookup(funnel.GOVERNANCE_STATUSES, "status").alias("status"),
        _column_or_null(df, "feedback_text", "string").alias("feedback_text"),
        "updated_at",
        F.lit(GOVERNANCE).alias(_MAPPING_SOURCE),
    )


def _city(df):
    from pyspark.sql import functions as F

    return df.select(
        "case_id",
        F.lit("city").alias("source_system"),
        F.col("case_id").alias("source_case_id"),
        _lookup(funnel.CITY_CHANNELS, "source").alias("channel"),
        F.lit(funnel.DISTRICT_JURISDICTION).alias("jurisdiction"),
        F.col("category").alias("source_category"),
        # Chosen from the system's list by patrol staff, 12345 operators or the camera model.
        F.lit(True).alias("category_trusted"),
        "description",
        "district_code",
        "street_code",
        "community_code",
        "grid_code",
        "lon",
        "lat",
        "asset_id",
        "reported_at",
        "closed_at",
        _lookup(funnel.CITY_STATUSES, "status").alias("status"),
        F.lit(None).cast("string").alias("feedback_text"),
        "updated_at",
        F.lit(CITY).alias(_MAPPING_SOURCE),
    )


def _locate(batches):
    """District, street, community and grid of Longhua's Open311 requests, from their point."""
    import pandas as pd

    from civiclake.geography import load_geography

    geo = load_geography()
    for pdf in batches:
        located = [
            geo.locate(lon, lat)
            if j == funnel.DISTRICT_JURISDICTION and pd.notna(lon) and pd.notna(lat)
            else None
            for j, lon, lat in zip(pdf["jurisdiction"], pdf["lon"], pdf["lat"], strict=True)
        ]
        for field in ("district_code", "street_code", "community_code", "grid_code"):
            pdf[field] = [getattr(loc, field) if loc else None for loc in located]
        yield pdf


def _open311(df):
    from pyspark.sql import functions as F

    def wall_clock(column: str):
        # Open311 silver holds instants; the funnel keeps the jurisdiction's wall clock.
        return F.from_utc_timestamp(F.col(column), F.col("timezone"))

    open_status = F.when(
        F.trim(F.coalesce(F.col("agency_responsible"), F.lit(""))) != "", F.lit("in_progress")
    ).otherwise(F.lit("received"))
    selected = df.select(
        F.concat(F.lit("311:"), "jurisdiction", F.lit(":"), "service_request_id").alias("case_id"),
        F.lit("open311").alias("source_system"),
        F.col("service_request_id").alias("source_case_id"),
        F.lit(funnel.OPEN311_CHANNEL).alias("channel"),
        "jurisdiction",
        F.col("service_code").alias("source_category"),
        F.lit(False).alias("category_trusted"),
        "description",
        F.lit(None).cast("string").alias("district_code"),
        F.lit(None).cast("string").alias("street_code"),
        F.lit(None).cast("string").alias("community_code"),
        F.lit(None).cast("string").alias("grid_code"),
        "lon",
        "lat",
        F.lit(None).cast("string").alias("asset_id"),
        wall_clock("requested_at").alias("reported_at"),
        wall_clock("closed_at").alias("closed_at"),
        F.when(F.col("status") == funnel.OPEN311_CLOSED, F.lit("closed"))
        .otherwise(open_status)
        .alias("status"),
        F.col("status_notes").alias("feedback_text"),
        wall_clock("updated_at").alias("updated_at"),
        F.concat(F.lit(OPEN311_PREFIX), "jurisdiction").alias(_MAPPING_SOURCE),
    )
    return selected.mapInPandas(_locate, selected.schema)


def _camera(df):
    """A camera event as a case: its id, its class as the source category, trusted where the
    class's model card opens the gate (auto_dispatch), reported when the event started."""
    from pyspark.sql import functions as F

    from civiclake.frames.classes import load_classes

    names = {code: c.name_zh for code, c in load_classes().items()}
    # What a reviewer and a department read: the class, the camera, when and how sure.
    description = F.format_string(
        "视频监控识别：%s（%s），摄像头 %s，%s 至 %s，%d/%d 帧，峰值置信度 %.2f",
        F.coalesce(_lookup(names, "class"), F.col("class")),
        F.col("class"),
        F.col("camera_id"),
        F.date_format("started_at", "yyyy-MM-dd HH:mm:ss"),
        F.date_format("ended_at", "HH:mm:ss"),
        F.col("frames_seen"),
        F.col("frames_sampled"),
        F.col("peak_score"),
    )
    return df.select(
        F.col("event_id").alias("case_id"),
        F.lit(CAMERA).alias("source_system"),
        F.col("event_id").alias("source_case_id"),
        F.lit(funnel.CAMERA_CHANNEL).alias("channel"),
        F.lit(funnel.DISTRICT_JURISDICTION).alias("jurisdiction"),
        F.col("class").alias("source_category"),
        F.coalesce(F.col("auto_dispatch"), F.lit(False)).alias("category_trusted"),
        description.alias("description"),
        "district_code",
        "street_code",
        "community_code",
        "grid_code",
        "lon",
        "lat",
        F.lit(None).cast("string").alias("asset_id"),
        F.col("started_at").alias("reported_at"),
        F.lit(None).cast("timestamp").alias("closed_at"),
        F.lit("received").alias("status"),
        F.lit(None).cast("string").alias("feedback_text"),
        F.col("ended_at").alias("updated_at"),
        F.lit(CAMERA).alias(_MAPPING_SOURCE),
    )


def funnel_rows(spark, settings: Settings, logical_date: date, categories_path=None):
    """Every source case reported before the end of ``logical_date``, in the funnel's columns."""
    from pyspark.sql import functions as F

    mapping = load_categories(categories_path)
    end = datetime.combine(logical_date + timedelta(days=1), time())
    shapes = {"governance": _governance, "city": _city, "open311": _open311, "camera": _camera}
    parts = []
    for source, table in SOURCES.items():
        path = settings.table_path("silver", table)
        if not table_exists(spark, path):
            log.warning(
                "silver.%s does not exist (source %s not connected yet): no cases from it", table, source
            )
            continue
        parts.append(shapes[source](spark.read.format("delta").load(path)))
    if not parts:
        raise NoCaseSourceError(
            f"none of the case sources exists in the lake ({', '.join(f'silver.{t}' for t in SOURCES.values())}): "
            f"ingest governance, city or open311 for {logical_date} first"
        )
    cases = parts[0]
    for part in parts[1:]:
        cases = cases.unionByName(part)
    categories = spark.createDataFrame(
        mapping.rows(), f"{_MAPPING_SOURCE} string, source_category string, _category string"
    )
    types = {name: kind for name, kind, _ in funnel.COLUMNS}
    return (
        cases.where(F.col("reported_at") < F.lit(end))
        .join(F.broadcast(categories), [_MAPPING_SOURCE, "source_category"], "left")
        .withColumn("category", F.col("_category"))
        .select(*[F.col(c).cast(types[c]).alias(c) for c in funnel.COLUMN_NAMES])
    )


def _check_unique(rows) -> None:
    from pyspark.sql import functions as F

    clashes = rows.groupBy("case_id").agg(
        F.collect_set("source_system").alias("sources"), F.count("*").alias("n")
    )
    clashes = clashes.where("n > 1").limit(5).collect()
    if clashes:
        listed = "; ".join(f"{r.case_id} ({', '.join(sorted(r.sources))})" for r in clashes)
        raise DuplicateCaseIdError(
            f"case ids occur more than once across the case sources: {listed}; "
            "each source system's ids must be distinct (civiclake/cases/funnel.py)"
        )


def run(spark, settings: Settings, logical_date: date, *, categories_path=None) -> dict:
    """Builds ``silver.cases`` up to ``logical_date``; returns the day's cases per channel and
    what the MERGE landed."""
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    rows = local_checkpoint(funnel_rows(spark, settings, logical_date, categories_path))
    _check_unique(rows)
    path = settings.table_path("silver", funnel.TABLE)
    if not table_exists(spark, path):
        rows.limit(0).write.format("delta").save(path)
    changed = " or ".join(f"not (t.`{c}` <=> s.`{c}`)" for c in funnel.COLUMN_NAMES if c != "case_id")
    merge = (
        DeltaTable.forPath(spark, path)
        .alias("t")
        .merge(rows.alias("s"), "t.case_id = s.case_id")
        .whenMatchedUpdateAll(condition=changed)
        .whenNotMatchedInsertAll()
    )
    landed = execute_merge(spark, path, merge)

    start = datetime.combine(logical_date, time())
    groups = (
        rows.where(F.col("reported_at") >= F.lit(start))
        .groupBy(
            "jurisdiction",
            "channel",
            "source_system",
            "source_category",
            F.col("category").isNull().alias("unmapped"),
        )
        .count()
        .collect()
    )
    by_channel: dict[str, int] = {}
    unmapped: dict[str, int] = {}
    for r in sorted(groups, key=lambda r: (r.jurisdiction, r.channel)):
        key = f"{r.jurisdiction}/{r.channel}"
        by_channel[key] = by_channel.get(key, 0) + r["count"]
        if r.unmapped:
            code = f"{r.source_system}:{r.source_category}"
            unmapped[code] = unmapped.get(code, 0) + r["count"]
    result = {
        "reported": sum(by_channel.values()),
        "by_channel": by_channel,
        "without_category": sum(unmapped.values()),
        "inserted": landed.inserted,
        "updated": landed.updated,
    }
    if unmapped:
        log.info("cases of %s whose source category is not a district category: %s", logical_date, unmapped)
    log.info("silver.cases built for %s: %s", logical_date, result)
    return result

"""City management (智慧城管): PostgreSQL source → Delta bronze → validated MERGE into silver.

Tables ``city.cases``, ``city.manhole_covers`` and ``city.repairs`` are extracted by
``updated_at`` like the governance cases, with one difference: each window starts
``settings.extract_lookback_minutes`` before the previous high watermark. A source row
committed late, after the previous extraction ran but with an ``updated_at`` inside the
previous window, is then still picked up. Rows of the overlap that an earlier batch already
received (same id and ``updated_at`` in its bronze) are counted as known duplicates, so the
overlap never doubles anything.

Per table and logical date D: extract (tokens instead of names and phones) → bronze
partition ``batch_date = D`` → checks (quarantine with a reason: missing id, unknown
community_code, coordinates outside the jurisdiction, timestamps after the window,
repairs finished before they were made safe, unknown settlement status) → newest version
per id MERGEd into ``silver.city_<table>`` → reconciliation
source = silver + quarantine + duplicates, silver as the MERGE's Delta commit landed it.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta

from civiclake.contracts import city
from civiclake.geography import load_geography
from civiclake.jurisdiction import load_jurisdiction
from civiclake.lake.runs import high_watermark, record_reconciliation, record_window, recorded_window
from civiclake.lake.writes import merge_upsert, overwrite_partition
from civiclake.settings import Settings
from civiclake.sources.jdbc import read_changed_rows
from spark_jobs.ingest_resources import tokenise_columns

log = logging.getLogger(__name__)

# Table of schema ``city`` → its contract.
TABLES = {c.source.name.removeprefix("city."): c for c in city.CONTRACTS}


@dataclass(frozen=True)
class CityResult:
    table: str
    batch_date: str
    extracted: bool
    window_start: str | None
    window_end: str
    source_rows: int
    silver_rows: int
    quarantined_rows: int
    duplicate_rows: int
    silver_total: int


def silver_name(table: str) -> str:
    return TABLES[table].table


def extract(spark, settings: Settings, table: str, start: datetime | None, end: datetime):
    """Rows of ``city.<table>`` changed in [start, end), personal data tokenised."""
    contract = TABLES[table]
    source = contract.source
    raw = read_changed_rows(spark, settings, source.name, source.updated_column, start, end)
    return tokenise_columns(raw, contract.pii, settings.require_pii_key())


def validate(spark, settings: Settings, batch, table: str, window_end: datetime):
    """Adds street/district codes and ``quarantine_reason`` (null when the row is good)."""
    from pyspark.sql import functions as F

    contract = TABLES[table]
    key = contract.key[0]
    geography = load_geography()
    box = load_jurisdiction(settings.jurisdiction).box
    communities = spark.createDataFrame(
        [(code, area.parent_code) for code, area in geography.communities.items()],
        "community_code string, street_code string",
    )
    checked = batch.join(F.broadcast(communities), "community_code", "left").withColumn(
        "district_code", F.lit(geography.district.code)
    )
    end = F.lit(window_end).cast("timestamp")
    reasons = [
        (F.col(key).isNull(), f"missing {key}"),
        (F.col("street_code").isNull(), "unknown community_code"),
    ]
    if "lon" in batch.columns:
        reasons.append(
            (
                F.col("lon").isNull()
                | F.col("lat").isNull()
                | (F.col("lon") < box.min_lon)
                | (F.col("lon") > box.max_lon)
                | (F.col("lat") < box.min_lat)
                | (F.col("lat") > box.max_lat),
                "coordinates outside the jurisdiction",
            )
        )
    future = F.lit(False)
    for column in contract.not_after_batch:
        future = future | F.coalesce(F.col(column) >= end, F.lit(False))
    reasons.append((future, "timestamp in the future"))
    if table == "repairs":
        reasons.append((F.col("repaired_at") < F.col("made_safe_at"), "repaired before made safe"))
        settlement = contract.field("settlement_status").accepted
        reasons.append((~F.col("settlement_status").isin(*settlement), "unknown settlement_status"))
    reason = F.lit(None).cast("string")
    for condition, text in reversed(reasons):
        reason = F.when(F.coalesce(condition, F.lit(False)), F.lit(text)).otherwise(reason)
    return checked.withColumn("quarantine_reason", reason)


def ingest_table(spark, settings: Settings, table: str, logical_date: date) -> CityResult:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    key = TABLES[table].key[0]
    source_table = TABLES[table].source.name
    bronze_path = settings.table_path("bronze", silver_name(table))
    silver_path = settings.table_path("silver", silver_name(table))
    window_end = datetime.combine(logical_date + timedelta(days=1), time())
    recorded = recorded_window(spark, settings, source_table, logical_date)
    extracted = recorded is None
    if extracted:
        watermark = high_watermark(spark, settings, source_table, before=logical_date)
        lookback = timedelta(minutes=settings.extract_lookback_minutes)
        window_start = None if watermark is None else watermark - lookback
        batch = (
            extract(spark, settings, table, window_start, window_end)
            .withColumn("_batch_id", F.lit(f"{source_table}:{logical_date}"))
            .withColumn("_source", F.lit(f"postgresql:{settings.pg_sources_db}.{source_table}"))
            .withColumn("_window_end", F.lit(window_end).cast("timestamp"))
            .withColumn("batch_date", F.lit(logical_date).cast("date"))
        )
        overwrite_partition(batch, bronze_path, "batch_date", logical_date)
    else:
        window_start = recorded[0]
        log.info("%s batch %s was extracted before; reprocessing it from bronze", source_table, logical_date)

    bronze = spark.read.format("delta").load(bronze_path)
    bronze_batch = bronze.where(F.col("batch_date") == F.lit(logical_date))
    # Versions an earlier batch already received (the lookback overlap re-reads them).
    earlier = bronze.where(F.col("batch_date") < F.lit(logical_date))
    if window_start is not None:
        earlier = earlier.where(F.col("updated_at") >= F.lit(window_start).cast("timestamp"))
    received = earlier.select(key, "updated_at").distinct().withColumn("_received_before", F.lit(True))
    checked = (
        validate(spark, settings, bronze_batch, table, window_end)
        .join(received, [key, "updated_at"], "left")
        .withColumn("_received_before", F.coalesce("_received_before", F.lit(False)))
        .cache()
    )
    source_rows = checked.count()
    if extracted:
        record_window(spark, settings, source_table, logical_date, window_start, window_end, source_rows)

    new = checked.where("not _received_before")
    quarantine = new.where("quarantine_reason is not null").drop("_received_before")
    quarantined = overwrite_partition(
        quarantine,
        settings.table_path("silver", f"{silver_name(table)}_quarantine"),
        "batch_date",
        logical_date,
    )
    newest_first = Window.partitionBy(key).orderBy(
        F.col("updated_at").desc(), F.xxhash64(*[c for c in checked.columns if not c.startswith("_")])
    )
    good = new.where("quarantine_reason is null").withColumn("_rank", F.row_number().over(newest_first))
    latest = good.where("_rank = 1")
    if table == "manhole_covers":
        latest = latest.withColumn("owner_known", F.col("owner_department").isNotNull())
    latest = latest.select(*TABLES[table].silver_columns())
    landed = merge_upsert(spark, latest, silver_path, [key], newer_than="updated_at", batch_date=logical_date)
    silver_rows = landed.rows
    # Known duplicates, each counted from the rows: versions an earlier batch received, older
    # versions of a key the batch holds newer, and versions silver already holds.
    received_before = checked.where("_received_before").count()
    duplicates = received_before + good.where("_rank > 1").count() + landed.held
    record_reconciliation(
        spark,
        settings,
        silver_name(table),
        logical_date,
        source_rows=source_rows,
        silver_rows=silver_rows,
        quarantined=quarantined,
        duplicates=duplicates,
    )
    checked.unpersist()
    result = CityResult(
        table=table,
        batch_date=str(logical_date),
        extracted=extracted,
        window_start=str(window_start) if window_start else None,
        window_end=str(window_end),
        source_rows=source_rows,
        silver_rows=silver_rows,
        quarantined_rows=quarantined,
        duplicate_rows=duplicates,
        silver_total=spark.read.format("delta").load(silver_path).count(),
    )
    log.info("ingest city %s %s: %s", table, logical_date, asdict(result))
    return result


def run(spark, settings: Settings, logical_date: date) -> list[CityResult]:
    return [ingest_table(spark, settings, table, logical_date) for table in TABLES]


def main(logical_date: str) -> list[CityResult]:
    from civiclake.settings import get_settings
    from civiclake.spark import spark_session

    settings = get_settings()
    spark = spark_session(settings, f"ingest_city_{logical_date}")
    return run(spark, settings, date.fromisoformat(logical_date))

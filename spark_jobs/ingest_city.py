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
from datetime import date, datetime

from civiclake.contracts import city
from civiclake.geography import load_geography
from civiclake.ingest.extract import changed_rows_to_bronze
from civiclake.ingest.quarantine import at_or_after, good_rows, outside, quarantine, with_reason
from civiclake.ingest.results import IngestResult, TableResult, record_batch
from civiclake.jurisdiction import load_jurisdiction
from civiclake.lake.writes import merge_upsert
from civiclake.settings import Settings

log = logging.getLogger(__name__)

# Table of schema ``city`` → its contract.
TABLES = {c.source.name.removeprefix("city."): c for c in city.CONTRACTS}


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
    checks = [
        (F.col(key).isNull(), f"missing {key}"),
        (F.col("street_code").isNull(), "unknown community_code"),
    ]
    if "lon" in batch.columns:
        missing = F.col("lon").isNull() | F.col("lat").isNull()
        checks.append((missing | outside(box), "coordinates outside the jurisdiction"))
    checks.append((at_or_after(contract.not_after_batch, end), "timestamp in the future"))
    if table == "repairs":
        checks.append((F.col("repaired_at") < F.col("made_safe_at"), "repaired before made safe"))
        settlement = contract.field("settlement_status").accepted
        checks.append((~F.col("settlement_status").isin(*settlement), "unknown settlement_status"))
    return with_reason(checked, checks)


def ingest_table(spark, settings: Settings, table: str, logical_date: date) -> TableResult:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    contract = TABLES[table]
    key = contract.key[0]
    silver_path = settings.table_path("silver", contract.table)
    batch = changed_rows_to_bronze(spark, settings, contract, logical_date)
    bronze = spark.read.format("delta").load(batch.bronze_path)
    # Versions an earlier batch already received (the lookback overlap re-reads them).
    earlier = bronze.where(F.col("batch_date") < F.lit(logical_date))
    if batch.window_start is not None:
        earlier = earlier.where(F.col("updated_at") >= F.lit(batch.window_start).cast("timestamp"))
    received = earlier.select(key, "updated_at").distinct().withColumn("_received_before", F.lit(True))
    checked = (
        validate(spark, settings, batch.rows(spark), table, batch.window_end)
        .join(received, [key, "updated_at"], "left")
        .withColumn("_received_before", F.coalesce("_received_before", F.lit(False)))
        .cache()
    )
    source_rows = checked.count()
    batch.record_window(spark, settings, source_rows)

    new = checked.where("not _received_before")
    quarantined = quarantine(new.drop("_received_before"), settings, contract.table, logical_date)
    newest_first = Window.partitionBy(key).orderBy(
        F.col("updated_at").desc(), F.xxhash64(*[c for c in checked.columns if not c.startswith("_")])
    )
    good = good_rows(new).withColumn("_rank", F.row_number().over(newest_first))
    latest = good.where("_rank = 1")
    if table == "manhole_covers":
        latest = latest.withColumn("owner_known", F.col("owner_department").isNotNull())
    latest = latest.select(*contract.silver_columns())
    landed = merge_upsert(spark, latest, silver_path, [key], newer_than="updated_at", batch_date=logical_date)
    # Known duplicates, each counted from the rows: versions an earlier batch received, older
    # versions of a key the batch holds newer, and versions silver already holds.
    received_before = checked.where("_received_before").count()
    result = TableResult(
        table=contract.table,
        batch_date=str(logical_date),
        extracted=batch.extracted,
        source_rows=source_rows,
        silver_rows=landed.rows,
        quarantined_rows=quarantined.written,
        duplicate_rows=received_before + good.where("_rank > 1").count() + landed.held,
        quarantine_reasons=quarantined.reasons(),
        silver_total=spark.read.format("delta").load(silver_path).count(),
        window=batch.window,
    )
    record_batch(spark, settings, result)
    checked.unpersist()
    log.info("ingest city %s %s: %s", table, logical_date, result.summary())
    return result


def run(spark, settings: Settings, logical_date: date) -> IngestResult:
    tables = [ingest_table(spark, settings, table, logical_date) for table in TABLES]
    return IngestResult(city.FAMILY, str(logical_date), tables)


def main(logical_date: str) -> IngestResult:
    from civiclake.settings import get_settings
    from civiclake.spark import spark_session

    settings = get_settings()
    spark = spark_session(settings, f"ingest_city_{logical_date}")
    return run(spark, settings, date.fromisoformat(logical_date))

"""Governance case system: PostgreSQL source → Delta bronze → validated MERGE into silver.

Five source tables: the cases (current state), their status history (one row per
lifecycle event), the grid workers' roster and the dispatch orders civiclake delivered
(``civiclake.dispatch.outbox``), as the departments update them when they accept one, and the
weather warnings the command system received. The job first writes the reference tables
(``civiclake.ingest.reference``). Then, for a logical date D, for each table it
1. extracts the rows changed in the window [previous high watermark − lookback, D+1 00:00)
   (the window is recorded, so the batch is extracted once; a rerun reprocesses bronze),
   replacing personal data by HMAC tokens before anything is written
   (``civiclake.ingest.extract``);
2. appends them to bronze as partition ``batch_date = D`` with batch metadata;
3. checks every row, sends failures to ``<table>_quarantine`` with a reason, keeps the
   newest version of each key, sets aside versions silver already holds (the lookback
   overlap) as known duplicates, and MERGEs the rest into silver;
4. stores the batch's reconciliation: source = silver + quarantine + duplicates, silver as
   the MERGE's Delta commit landed it (``civiclake.lake.writes.merge_upsert``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from civiclake.contracts import governance
from civiclake.contracts.base import SourceContract
from civiclake.geography import load_geography
from civiclake.ingest.extract import changed_rows_to_bronze
from civiclake.ingest.quarantine import at_or_after, good_rows, outside, quarantine, with_reason
from civiclake.ingest.reference import load_reference
from civiclake.ingest.results import IngestResult, TableResult, record_batch
from civiclake.lake.writes import merge_upsert
from civiclake.settings import Settings

log = logging.getLogger(__name__)


def validate(spark, bronze_batch, window_end: datetime):
    """Adds ``quarantine_reason`` (null when the row is good) to every bronze case row."""
    from pyspark.sql import functions as F

    geography = load_geography()
    communities = spark.createDataFrame(
        [(code, area.parent_code) for code, area in geography.communities.items()],
        "community_code string, street_code string",
    )
    checked = bronze_batch.join(F.broadcast(communities), "community_code", "left")
    end = F.lit(window_end).cast("timestamp")
    checks = [
        (F.col("case_id").isNull(), "missing case_id"),
        (F.col("reported_at").isNull(), "missing reported_at"),
        (F.col("description").isNull() | (F.trim("description") == ""), "missing description"),
        (~F.col("category").isin(*governance.CASES.field("category").accepted), "unknown category"),
        (F.col("street_code").isNull(), "unknown community_code"),
        (F.col("lon").isNull() | F.col("lat").isNull(), "missing coordinates"),
        (outside(geography.district.box), "coordinates outside the district"),
        (at_or_after(governance.CASES.not_after_batch, end), "timestamp in the future"),
    ]
    return with_reason(checked, checks).withColumn("district_code", F.lit(geography.district.code))


def validate_events(spark, bronze_batch, window_end: datetime):
    """Adds ``quarantine_reason`` to every bronze status-history row."""
    from pyspark.sql import functions as F

    end = F.lit(window_end).cast("timestamp")
    checks = [
        (F.col("event_id").isNull(), "missing event_id"),
        (F.col("case_id").isNull(), "missing case_id"),
        (F.col("occurred_at").isNull(), "missing occurred_at"),
        (
            ~F.col("event_type").isin(*governance.CASE_EVENTS.field("event_type").accepted),
            "unknown event_type",
        ),
        (at_or_after(governance.CASE_EVENTS.not_after_batch, end), "timestamp in the future"),
    ]
    return with_reason(bronze_batch, checks)


def validate_workers(spark, bronze_batch, window_end: datetime):
    """Adds ``quarantine_reason`` to every roster row, and the grid's community and street."""
    from pyspark.sql import functions as F

    geography = load_geography()
    grids = spark.createDataFrame(
        [
            (code, area.parent_code, geography.street_of(area.parent_code))
            for code, area in geography.grids.items()
        ],
        "grid_code string, community_code string, street_code string",
    )
    checked = bronze_batch.join(F.broadcast(grids), "grid_code", "left")
    end = F.lit(window_end).cast("timestamp")
    checks = [
        (F.col("worker_id").isNull(), "missing worker_id"),
        (F.col("community_code").isNull(), "unknown grid_code"),
        (at_or_after(governance.GRID_WORKERS.not_after_batch, end), "timestamp in the future"),
    ]
    return with_reason(checked, checks)


def validate_orders(spark, bronze_batch, window_end: datetime):
    """Adds ``quarantine_reason`` to every dispatch-order row: the platform wrote the order,
    the department updated it, and either may have got it wrong."""
    from pyspark.sql import functions as F

    orders = governance.DISPATCH_ORDERS
    end = F.lit(window_end).cast("timestamp")
    checks = [
        (F.col("order_id").isNull(), "missing order_id"),
        (F.col("case_id").isNull(), "missing case_id"),
        (F.col("department").isNull() | (F.trim("department") == ""), "missing department"),
        (~F.col("kind").isin(*orders.field("kind").accepted), "unknown kind"),
        (~F.col("level").isin(*orders.field("level").accepted), "unknown level"),
        (~F.col("status").isin(*orders.field("status").accepted), "unknown status"),
        (F.col("issued_at").isNull(), "missing issued_at"),
        # A transfer or escalation follows an order; a dispatch is a case's first, an operation
        # order (a joint operation's task) its operation's.
        (
            F.col("kind").isin("transfer", "escalation") & F.col("previous_order_id").isNull(),
            "missing previous_order_id",
        ),
        ((F.col("status") == "accepted") & F.col("accepted_at").isNull(), "accepted without accepted_at"),
        (F.col("accepted_at") < F.col("issued_at"), "accepted before it was issued"),
        ((F.col("status") == "completed") & F.col("completed_at").isNull(), "completed without completed_at"),
        (F.col("completed_at") < F.col("issued_at"), "completed before it was issued"),
        (at_or_after(orders.not_after_batch, end), "timestamp in the future"),
    ]
    return with_reason(bronze_batch, checks)


def validate_warnings(spark, bronze_batch, window_end: datetime):
    """Adds ``quarantine_reason`` to every weather-warning row: a warning names the district,
    and a street of it or none (the whole district)."""
    from pyspark.sql import functions as F

    warnings = governance.WEATHER_WARNINGS
    geography = load_geography()
    end = F.lit(window_end).cast("timestamp")
    checks = [
        (F.col("warning_id").isNull(), "missing warning_id"),
        (~F.col("kind").isin(*warnings.field("kind").accepted), "unknown kind"),
        (~F.col("level").isin(*warnings.field("level").accepted), "unknown level"),
        (
            F.col("district_code").isNull() | (F.col("district_code") != geography.district.code),
            "unknown district_code",
        ),
        (
            F.col("street_code").isNotNull() & ~F.col("street_code").isin(*geography.streets),
            "unknown street_code",
        ),
        (F.col("issued_at").isNull(), "missing issued_at"),
        (F.col("lifted_at") < F.col("issued_at"), "lifted before it was issued"),
        (at_or_after(warnings.not_after_batch, end), "timestamp in the future"),
    ]
    return with_reason(bronze_batch, checks)


@dataclass(frozen=True)
class TableSpec:
    """One source table, as its contract declares it, and the checks its rows pass."""

    contract: SourceContract
    validate: Callable

    @property
    def silver(self) -> str:
        return self.contract.table

    @property
    def key(self) -> str:
        return self.contract.key[0]


CASES = TableSpec(governance.CASES, validate)
EVENTS = TableSpec(governance.CASE_EVENTS, validate_events)
WORKERS = TableSpec(governance.GRID_WORKERS, validate_workers)
ORDERS = TableSpec(governance.DISPATCH_ORDERS, validate_orders)
WARNINGS = TableSpec(governance.WEATHER_WARNINGS, validate_warnings)
TABLES = (CASES, EVENTS, WORKERS, ORDERS, WARNINGS)


def run(spark, settings: Settings, logical_date: date) -> IngestResult:
    """Writes the reference tables, then ingests every governance table for ``logical_date``."""
    load_reference(spark, settings)
    tables = [ingest_table(spark, settings, spec, logical_date) for spec in TABLES]
    return IngestResult(governance.FAMILY, str(logical_date), tables)


def ingest_table(spark, settings: Settings, spec: TableSpec, logical_date: date) -> TableResult:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    contract = spec.contract
    silver_path = settings.table_path("silver", spec.silver)
    batch = changed_rows_to_bronze(spark, settings, contract, logical_date)
    checked = spec.validate(spark, batch.rows(spark), batch.window_end).cache()
    source_rows = checked.count()
    batch.record_window(spark, settings, source_rows)
    quarantined = quarantine(checked, settings, spec.silver, logical_date)

    updated = contract.source.updated_column
    newest_first = Window.partitionBy(spec.key).orderBy(
        F.col(updated).desc(), F.xxhash64(*[c for c in checked.columns if not c.startswith("_")])
    )
    versions = good_rows(checked).withColumn("_version_rank", F.row_number().over(newest_first))
    # Older versions and copies of a key the batch also holds newer: known duplicates.
    superseded = versions.where("_version_rank > 1").count()
    latest = versions.where("_version_rank = 1").select(*contract.silver_columns()).cache()
    # The lookback overlap brings back versions an earlier batch put in silver: merge_upsert
    # holds them back as known duplicates. Versions this batch wrote itself are merged
    # again, so a rerun repeats its counts.
    landed = merge_upsert(
        spark,
        latest,
        silver_path,
        [spec.key],
        newer_than=updated,
        rows=latest.count(),
        batch_date=logical_date,
    )
    result = TableResult(
        table=spec.silver,
        batch_date=str(logical_date),
        extracted=batch.extracted,
        source_rows=source_rows,
        silver_rows=landed.rows,
        quarantined_rows=quarantined.written,
        duplicate_rows=superseded + landed.held,
        quarantine_reasons=quarantined.reasons(),
        silver_total=spark.read.format("delta").load(silver_path).count(),
        window=batch.window,
    )
    record_batch(spark, settings, result)
    latest.unpersist()
    checked.unpersist()
    log.info("ingest %s %s: %s", spec.silver, logical_date, result.summary())
    return result


def main(logical_date: str) -> IngestResult:
    from civiclake.settings import get_settings
    from civiclake.spark import spark_session

    settings = get_settings()
    spark = spark_session(settings, f"ingest_governance_{logical_date}")
    return run(spark, settings, date.fromisoformat(logical_date))

"""Governance case system: PostgreSQL source → Delta bronze → validated MERGE into silver.

Three source tables: the cases (current state), their status history (one row per
lifecycle event) and the grid workers' roster. For a logical date D, for each table the job
1. extracts the rows changed in the window [previous high watermark − lookback, D+1 00:00)
   (the window is recorded, so the batch is extracted once; a rerun reprocesses bronze),
   replacing personal data by HMAC tokens before anything is written;
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
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from functools import reduce
from operator import or_

from civiclake.contracts import governance
from civiclake.contracts.base import SourceContract
from civiclake.geography import load_geography
from civiclake.lake.runs import high_watermark, record_reconciliation, record_window, recorded_window
from civiclake.lake.writes import merge_upsert, overwrite_partition
from civiclake.pii import is_valid_id_number, scrub_text, tokenise
from civiclake.settings import Settings
from civiclake.sources.jdbc import read_changed_rows
from spark_jobs import load_reference

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestResult:
    batch_date: str
    extracted: bool
    window_start: str | None
    window_end: str
    source_rows: int
    silver_rows: int
    quarantined_rows: int
    duplicate_rows: int
    silver_total: int
    table: str = governance.CASES.table
    # Results of the other tables of the source, by silver table name.
    related: dict[str, IngestResult] = field(default_factory=dict)

    def as_dict(self) -> dict:
        """Plain values all the way down (the related tables' results included), for JSON."""
        return asdict(self)


def _token_column(column: str) -> str:
    return f"{column.removesuffix('_number')}_token"


def _tokenise_batches(key: bytes, pii: dict[str, str], free_text: tuple[str, ...] = ()):
    """mapInPandas function: raw personal columns in, tokens (and, for ID numbers, a
    check-digit validity flag) out; numbers in free-text columns replaced by tokens."""

    def apply(batches):
        for pdf in batches:
            for column in free_text:
                pdf[column] = pdf[column].map(lambda v: scrub_text(v, key))
            # Columns in the order of _tokenised_schema: validity flags, then tokens.
            for column, kind in pii.items():
                if kind == "id_number":
                    pdf[f"{column.removesuffix('_number')}_valid"] = pdf[column].map(
                        lambda v: None if v is None else is_valid_id_number(v)
                    )
            for column, kind in pii.items():
                pdf[_token_column(column)] = pdf[column].map(lambda v, kind=kind: tokenise(v, kind, key))
            yield pdf.drop(columns=list(pii))

    return apply


def _tokenised_schema(raw_schema, pii: dict[str, str]):
    from pyspark.sql import types as T

    fields = [f for f in raw_schema.fields if f.name not in pii]
    for column, kind in pii.items():
        if kind == "id_number":
            fields.append(T.StructField(f"{column.removesuffix('_number')}_valid", T.BooleanType(), True))
    for column in pii:
        fields.append(T.StructField(_token_column(column), T.StringType(), True))
    return T.StructType(fields)


def extract(spark, settings: Settings, spec: TableSpec, start: datetime | None, end: datetime):
    """Rows of ``spec``'s source table changed in [start, end), personal data tokenised."""
    raw = read_changed_rows(spark, settings, spec.source_table, spec.updated_column, start, end)
    if not spec.pii and not spec.free_text:
        return raw
    key = settings.require_pii_key()
    return raw.mapInPandas(
        _tokenise_batches(key, spec.pii, spec.free_text), _tokenised_schema(raw.schema, spec.pii)
    )


def _in_future(contract: SourceContract, end):
    """A timestamp the contract says cannot lie after the batch window lies at or after its end."""
    from pyspark.sql import functions as F

    return reduce(or_, [F.col(column) >= end for column in contract.not_after_batch])


def _first_reason(reasons):
    from pyspark.sql import functions as F

    reason = F.lit(None).cast("string")
    for condition, text in reversed(reasons):
        reason = F.when(condition, F.lit(text)).otherwise(reason)
    return reason


def validate(spark, bronze_batch, window_end: datetime):
    """Adds ``quarantine_reason`` (null when the row is good) to every bronze case row."""
    from pyspark.sql import functions as F

    geography = load_geography()
    box = geography.district.box
    communities = spark.createDataFrame(
        [(code, area.parent_code) for code, area in geography.communities.items()],
        "community_code string, street_code string",
    )
    checked = bronze_batch.join(F.broadcast(communities), "community_code", "left")
    end = F.lit(window_end).cast("timestamp")
    reasons = [
        (F.col("case_id").isNull(), "missing case_id"),
        (F.col("reported_at").isNull(), "missing reported_at"),
        (F.col("description").isNull() | (F.trim("description") == ""), "missing description"),
        (~F.col("category").isin(*governance.CASES.field("category").accepted), "unknown category"),
        (F.col("street_code").isNull(), "unknown community_code"),
        (F.col("lon").isNull() | F.col("lat").isNull(), "missing coordinates"),
        (
            (F.col("lon") < box.min_lon)
            | (F.col("lon") > box.max_lon)
            | (F.col("lat") < box.min_lat)
            | (F.col("lat") > box.max_lat),
            "coordinates outside the district",
        ),
        (_in_future(governance.CASES, end), "timestamp in the future"),
    ]
    return checked.withColumn("quarantine_reason", _first_reason(reasons)).withColumn(
        "district_code", F.lit(geography.district.code)
    )


def validate_events(spark, bronze_batch, window_end: datetime):
    """Adds ``quarantine_reason`` to every bronze status-history row."""
    from pyspark.sql import functions as F

    end = F.lit(window_end).cast("timestamp")
    reasons = [
        (F.col("event_id").isNull(), "missing event_id"),
        (F.col("case_id").isNull(), "missing case_id"),
        (F.col("occurred_at").isNull(), "missing occurred_at"),
        (
            ~F.col("event_type").isin(*governance.CASE_EVENTS.field("event_type").accepted),
            "unknown event_type",
        ),
        (_in_future(governance.CASE_EVENTS, end), "timestamp in the future"),
    ]
    return bronze_batch.withColumn("quarantine_reason", _first_reason(reasons))


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
    reasons = [
        (F.col("worker_id").isNull(), "missing worker_id"),
        (F.col("community_code").isNull(), "unknown grid_code"),
        (_in_future(governance.GRID_WORKERS, end), "timestamp in the future"),
    ]
    return checked.withColumn("quarantine_reason", _first_reason(reasons))


@dataclass(frozen=True)
class TableSpec:
    """One source table, as its contract declares it, and the checks its rows pass."""

    contract: SourceContract
    validate: Callable

    @property
    def source_table(self) -> str:
        return self.contract.source.name

    @property
    def silver(self) -> str:
        return self.contract.table

    @property
    def key(self) -> str:
        return self.contract.key[0]

    @property
    def updated_column(self) -> str:
        return self.contract.source.updated_column

    @property
    def columns(self) -> tuple[str, ...]:
        return self.contract.silver_columns()

    @property
    def pii(self) -> dict[str, str]:
        """Personal columns and their kind: replaced by ``<column>_token`` at extraction."""
        return self.contract.pii

    @property
    def free_text(self) -> tuple[str, ...]:
        """Free text residents write: phone and ID numbers in it are replaced by their tokens."""
        return self.contract.free_text

    @property
    def quarantine(self) -> str:
        return f"{self.silver}_quarantine"


CASES = TableSpec(governance.CASES, validate)
EVENTS = TableSpec(governance.CASE_EVENTS, validate_events)
WORKERS = TableSpec(governance.GRID_WORKERS, validate_workers)
TABLES = (CASES, EVENTS, WORKERS)


def run(spark, settings: Settings, logical_date: date) -> IngestResult:
    """Ingests every governance table for ``logical_date``; returns the cases' result
    with the other tables' results in ``related``."""
    load_reference.run(spark, settings)
    cases = ingest_table(spark, settings, CASES, logical_date)
    for spec in TABLES[1:]:
        cases.related[spec.silver] = ingest_table(spark, settings, spec, logical_date)
    return cases


def ingest_table(spark, settings: Settings, spec: TableSpec, logical_date: date) -> IngestResult:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    bronze_path = settings.table_path("bronze", spec.silver)
    silver_path = settings.table_path("silver", spec.silver)
    window_end = datetime.combine(logical_date + timedelta(days=1), time())
    recorded = recorded_window(spark, settings, spec.source_table, logical_date)

    extracted = recorded is None
    if extracted:
        watermark = high_watermark(spark, settings, spec.source_table, before=logical_date)
        window_start = (
            None if watermark is None else watermark - timedelta(minutes=settings.extract_lookback_minutes)
        )
        batch = (
            extract(spark, settings, spec, window_start, window_end)
            .withColumn("_batch_id", F.lit(f"{spec.source_table}:{logical_date}"))
            .withColumn("_source", F.lit(f"postgresql:{settings.pg_sources_db}.{spec.source_table}"))
            .withColumn("_window_end", F.lit(window_end).cast("timestamp"))
            .withColumn("batch_date", F.lit(logical_date).cast("date"))
        )
        overwrite_partition(batch, bronze_path, "batch_date", logical_date)
    else:
        window_start = recorded[0]
        log.info("%s batch %s was extracted before; reprocessing it from bronze", spec.silver, logical_date)

    bronze_batch = (
        spark.read.format("delta").load(bronze_path).where(F.col("batch_date") == F.lit(logical_date))
    )
    checked = spec.validate(spark, bronze_batch, window_end).cache()
    source_rows = checked.count()
    if extracted:
        record_window(spark, settings, spec.source_table, logical_date, window_start, window_end, source_rows)

    quarantine = checked.where(F.col("quarantine_reason").isNotNull())
    quarantined = overwrite_partition(
        quarantine, settings.table_path("silver", spec.quarantine), "batch_date", logical_date
    )

    updated = spec.updated_column
    newest_first = Window.partitionBy(spec.key).orderBy(
        F.col(updated).desc(), F.xxhash64(*[c for c in checked.columns if not c.startswith("_")])
    )
    versions = checked.where(F.col("quarantine_reason").isNull()).withColumn(
        "_version_rank", F.row_number().over(newest_first)
    )
    # Older versions and copies of a key the batch also holds newer: known duplicates.
    superseded = versions.where("_version_rank > 1").count()
    latest = versions.where("_version_rank = 1").select(*spec.columns).cache()
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
    silver_rows = landed.rows
    duplicates = superseded + landed.held
    record_reconciliation(
        spark,
        settings,
        spec.silver,
        logical_date,
        source_rows=source_rows,
        silver_rows=silver_rows,
        quarantined=quarantined,
        duplicates=duplicates,
    )
    latest.unpersist()
    checked.unpersist()
    silver_total = spark.read.format("delta").load(silver_path).count()
    result = IngestResult(
        batch_date=str(logical_date),
        extracted=extracted,
        window_start=str(window_start) if window_start else None,
        window_end=str(window_end),
        source_rows=source_rows,
        silver_rows=silver_rows,
        quarantined_rows=quarantined,
        duplicate_rows=duplicates,
        silver_total=silver_total,
        table=spec.silver,
    )
    log.info(
        "ingest %s %s: %s",
        spec.silver,
        logical_date,
        {k: v for k, v in asdict(result).items() if k != "related"},
    )
    return result


def main(logical_date: str) -> IngestResult:
    from civiclake.settings import get_settings
    from civiclake.spark import spark_session

    settings = get_settings()
    spark = spark_session(settings, f"ingest_governance_{logical_date}")
    return run(spark, settings, date.fromisoformat(logical_date))

"""Governance cases: PostgreSQL source → Delta bronze → validated MERGE into silver.

For a logical date D the job
1. extracts the rows with ``updated_at`` in the window [previous high watermark, D+1 00:00)
   (the window is recorded, so the batch is extracted once; a rerun reprocesses bronze),
   replacing personal data by HMAC tokens before anything is written;
2. appends them to bronze as partition ``batch_date = D`` with batch metadata;
3. checks every row, sends failures to ``governance_cases_quarantine`` with a reason,
   keeps the newest version of each case and MERGEs it into silver;
4. stores the batch's reconciliation: source = silver + quarantine + duplicates.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta

from civiclake import lake
from civiclake.catalogue import CATEGORY_CODES
from civiclake.geography import load_geography
from civiclake.pii import is_valid_id_number, tokenise
from civiclake.settings import Settings
from civiclake.tables import GOVERNANCE_CASES_COLUMNS
from spark_jobs import load_reference

log = logging.getLogger(__name__)

SOURCE_TABLE = "governance.cases"
BRONZE = "governance_cases"
SILVER = "governance_cases"
QUARANTINE = "governance_cases_quarantine"
PII_COLUMNS = {"reporter_name": "name", "reporter_phone": "phone", "reporter_id_number": "id_number"}


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


def _tokenise_batches(key: bytes):
    """mapInPandas function: raw personal columns in, tokens and an ID validity flag out."""

    def apply(batches):
        for pdf in batches:
            pdf["reporter_id_valid"] = pdf["reporter_id_number"].map(
                lambda v: None if v is None else is_valid_id_number(v)
            )
            for column, kind in PII_COLUMNS.items():
                token_column = f"{column.removesuffix('_number')}_token"
                pdf[token_column] = pdf[column].map(lambda v, kind=kind: tokenise(v, kind, key))
            yield pdf.drop(columns=list(PII_COLUMNS))

    return apply


def _tokenised_schema(raw_schema):
    from pyspark.sql import types as T

    fields = [f for f in raw_schema.fields if f.name not in PII_COLUMNS]
    fields.append(T.StructField("reporter_id_valid", T.BooleanType(), True))
    for column in PII_COLUMNS:
        fields.append(T.StructField(f"{column.removesuffix('_number')}_token", T.StringType(), True))
    return T.StructType(fields)


def extract(spark, settings: Settings, start: datetime | None, end: datetime):
    """Rows of the source table changed in [start, end), tokenised."""
    where = f"updated_at < '{end:%Y-%m-%d %H:%M:%S}'"
    if start is not None:
        where += f" and updated_at >= '{start:%Y-%m-%d %H:%M:%S.%f}'"
    raw = (
        spark.read.format("jdbc")
        .option("url", settings.pg_jdbc_url())
        .option("driver", "org.postgresql.Driver")
        .option("user", settings.pg_user)
        .option("password", settings.pg_password.get_secret_value() if settings.pg_password else "")
        .option("query", f"select * from {SOURCE_TABLE} where {where}")
        .option("fetchsize", "5000")
        .load()
    )
    key = settings.require_pii_key()
    return raw.mapInPandas(_tokenise_batches(key), _tokenised_schema(raw.schema))


def validate(spark, bronze_batch, window_end: datetime):
    """Adds ``quarantine_reason`` (null when the row is good) to every bronze row."""
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
        (~F.col("category").isin(*CATEGORY_CODES), "unknown category"),
        (F.col("street_code").isNull(), "unknown community_code"),
        (F.col("lon").isNull() | F.col("lat").isNull(), "missing coordinates"),
        (
            (F.col("lon") < box.min_lon)
            | (F.col("lon") > box.max_lon)
            | (F.col("lat") < box.min_lat)
            | (F.col("lat") > box.max_lat),
            "coordinates outside the district",
        ),
        ((F.col("reported_at") >= end) | (F.col("updated_at") >= end), "timestamp in the future"),
    ]
    reason = F.lit(None).cast("string")
    for condition, text in reversed(reasons):
        reason = F.when(condition, F.lit(text)).otherwise(reason)
    return checked.withColumn("quarantine_reason", reason)


def run(spark, settings: Settings, logical_date: date) -> IngestResult:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    load_reference.run(spark, settings)
    bronze_path = settings.table_path("bronze", BRONZE)
    window_end = datetime.combine(logical_date + timedelta(days=1), time())
    recorded = lake.recorded_window(spark, settings, SOURCE_TABLE, logical_date)

    extracted = recorded is None
    if extracted:
        window_start = lake.high_watermark(spark, settings, SOURCE_TABLE, before=logical_date)
        batch = (
            extract(spark, settings, window_start, window_end)
            .withColumn("_batch_id", F.lit(f"{SOURCE_TABLE}:{logical_date}"))
            .withColumn("_source", F.lit(f"postgresql:{settings.pg_sources_db}.{SOURCE_TABLE}"))
            .withColumn("_window_end", F.lit(window_end).cast("timestamp"))
            .withColumn("batch_date", F.lit(logical_date).cast("date"))
        )
        lake.overwrite_partition(batch, bronze_path, "batch_date", logical_date)
    else:
        window_start = recorded[0]
        log.info("batch %s was extracted before; reprocessing it from bronze", logical_date)

    bronze_batch = (
        spark.read.format("delta").load(bronze_path).where(F.col("batch_date") == F.lit(logical_date))
    )
    checked = validate(spark, bronze_batch, window_end).cache()
    source_rows = checked.count()
    if extracted:
        lake.record_window(spark, settings, SOURCE_TABLE, logical_date, window_start, window_end, source_rows)

    quarantine = checked.where(F.col("quarantine_reason").isNotNull())
    lake.overwrite_partition(
        quarantine, settings.table_path("silver", QUARANTINE), "batch_date", logical_date
    )
    quarantined = quarantine.count()

    newest_first = Window.partitionBy("case_id").orderBy(
        F.col("updated_at").desc(), F.xxhash64(*[c for c in checked.columns if not c.startswith("_")])
    )
    good = checked.where(F.col("quarantine_reason").isNull()).withColumn(
        "_version_rank", F.row_number().over(newest_first)
    )
    latest = (
        good.where("_version_rank = 1")
        .withColumn("district_code", F.lit(load_geography().district.code))
        .select(*GOVERNANCE_CASES_COLUMNS)
    )
    silver_rows = latest.count()
    duplicates = source_rows - quarantined - silver_rows
    lake.merge_upsert(
        spark, latest, settings.table_path("silver", SILVER), ["case_id"], newer_than="updated_at"
    )
    lake.record_reconciliation(
        spark,
        settings,
        SILVER,
        logical_date,
        source_rows=source_rows,
        silver_rows=silver_rows,
        quarantined=quarantined,
        duplicates=duplicates,
    )
    checked.unpersist()
    silver_total = spark.read.format("delta").load(settings.table_path("silver", SILVER)).count()
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
    )
    log.info("ingest governance %s: %s", logical_date, asdict(result))
    return result


def main(logical_date: str) -> IngestResult:
    from civiclake.settings import get_settings
    from civiclake.spark import spark_session

    settings = get_settings()
    spark = spark_session(settings, f"ingest_governance_{logical_date}")
    return run(spark, settings, date.fromisoformat(logical_date))

"""Small helpers over Delta tables shared by the Spark jobs: upserts, partition overwrites
and the state tables (extraction windows and per-batch reconciliation)."""

from __future__ import annotations

from datetime import date, datetime

from civiclake.settings import Settings

WINDOWS_TABLE = "extract_windows"
RECONCILIATION_TABLE = "reconciliation"


def table_exists(spark, path: str) -> bool:
    from delta.tables import DeltaTable

    return DeltaTable.isDeltaTable(spark, path)


def overwrite_partition(df, path: str, column: str, value: date | str) -> None:
    """Replaces one partition (``column = value``) and nothing else; creates the table if new."""
    (
        df.write.format("delta")
        .mode("overwrite")
        .partitionBy(column)
        .option("replaceWhere", f"{column} = '{value}'")
        .save(path)
    )


def merge_upsert(spark, df, path: str, keys: list[str], newer_than: str | None = None) -> None:
    """MERGE ``df`` into the table at ``path`` on ``keys`` (creating it on first use).

    With ``newer_than`` (a column), a matched row is only replaced by a strictly newer or
    equal version, so applying an old batch after a new one never rolls a row back.
    """
    from delta.tables import DeltaTable

    if not table_exists(spark, path):
        df.limit(0).write.format("delta").save(path)
    target = DeltaTable.forPath(spark, path)
    condition = " and ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)
    update_when = f"s.`{newer_than}` >= t.`{newer_than}`" if newer_than else None
    (
        target.alias("t")
        .merge(df.alias("s"), condition)
        .whenMatchedUpdateAll(condition=update_when)
        .whenNotMatchedInsertAll()
        .execute()
    )


def state_path(settings: Settings, name: str) -> str:
    return settings.table_path("state", name)


def recorded_window(spark, settings: Settings, source_table: str, batch_date: date):
    """The (start, end) extraction window recorded for a batch, or None on its first run."""
    path = state_path(settings, WINDOWS_TABLE)
    if not table_exists(spark, path):
        return None
    rows = (
        spark.read.format("delta")
        .load(path)
        .where(f"source_table = '{source_table}' and batch_date = '{batch_date}'")
        .select("window_start", "window_end")
        .collect()
    )
    return (rows[0].window_start, rows[0].window_end) if rows else None


def high_watermark(spark, settings: Settings, source_table: str, before: date) -> datetime | None:
    """End of the latest window extracted for an earlier batch (None when nothing was)."""
    path = state_path(settings, WINDOWS_TABLE)
    if not table_exists(spark, path):
        return None
    row = (
        spark.read.format("delta")
        .load(path)
        .where(f"source_table = '{source_table}' and batch_date < '{before}'")
        .agg({"window_end": "max"})
        .collect()[0]
    )
    return row[0]


def record_window(
    spark,
    settings: Settings,
    source_table: str,
    batch_date: date,
    start: datetime | None,
    end: datetime,
    rows: int,
) -> None:
    from pyspark.sql import types as T

    schema = T.StructType(
        [
            T.StructField("source_table", T.StringType(), False),
            T.StructField("batch_date", T.DateType(), False),
            T.StructField("window_start", T.TimestampType(), True),
            T.StructField("window_end", T.TimestampType(), False),
            T.StructField("rows_extracted", T.LongType(), False),
        ]
    )
    df = spark.createDataFrame([(source_table, batch_date, start, end, rows)], schema)
    merge_upsert(spark, df, state_path(settings, WINDOWS_TABLE), ["source_table", "batch_date"])


def record_reconciliation(
    spark,
    settings: Settings,
    table: str,
    batch_date: date,
    *,
    source_rows: int,
    silver_rows: int,
    quarantined: int,
    duplicates: int,
) -> None:
    """Stores ``source = silver + quarantine + duplicates`` for one batch; refuses if it doesn't add up."""
    from pyspark.sql import types as T

    if source_rows != silver_rows + quarantined + duplicates:
        raise AssertionError(
            f"{table} batch {batch_date}: {source_rows} source rows but {silver_rows} silver + "
            f"{quarantined} quarantined + {duplicates} duplicates"
        )
    schema = T.StructType(
        [
            T.StructField("table_name", T.StringType(), False),
            T.StructField("batch_date", T.DateType(), False),
            T.StructField("source_rows", T.LongType(), False),
            T.StructField("silver_rows", T.LongType(), False),
            T.StructField("quarantined_rows", T.LongType(), False),
            T.StructField("duplicate_rows", T.LongType(), False),
        ]
    )
    df = spark.createDataFrame(
        [(table, batch_date, source_rows, silver_rows, quarantined, duplicates)], schema
    )
    merge_upsert(spark, df, state_path(settings, RECONCILIATION_TABLE), ["table_name", "batch_date"])

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


# Batches at least this large MERGE only the keys silver already holds and append the new
# ones: Delta's MERGE passes over its whole source twice, an append once.
SPLIT_NEW_KEYS_FROM_ROWS = 100_000


def merge_upsert(
    spark, df, path: str, keys: list[str], newer_than: str | None = None, rows: int | None = None
) -> None:
    """MERGE ``df`` into the table at ``path`` on ``keys`` (creating it on first use).

    With ``newer_than`` (a column), a matched row is only replaced by a strictly newer or
    equal version, so applying an old batch after a new one never rolls a row back.

    ``rows`` (the batch's row count, when the caller knows it): from
    ``SPLIT_NEW_KEYS_FROM_ROWS`` rows on, keys not in the table yet are appended and only
    the others MERGEd, in two commits. A crash between them loses nothing: a rerun finds
    the appended keys present and MERGEs them again as equal versions.
    """
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    if not table_exists(spark, path):
        df.limit(0).write.format("delta").save(path)
    target = DeltaTable.forPath(spark, path)
    condition = " and ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)
    # The batch's range of the first key, as a condition on the target alone: Delta skips
    # every file whose min/max statistics lie outside it, so a batch of recent keys
    # rewrites recent files only, not the whole table.
    low, high = df.agg(F.min(keys[0]), F.max(keys[0])).first()
    key_range = None
    if low is not None:
        key_range = f"`{keys[0]}` between {_sql_literal(low)} and {_sql_literal(high)}"
        condition += f" and t.{key_range}"
    source = df
    if rows is not None and rows >= SPLIT_NEW_KEYS_FROM_ROWS:
        held = target.toDF().select(*keys)
        if key_range:
            held = held.where(key_range)
        held = held.localCheckpoint()  # the keys as they were before this batch's append
        df.join(held, keys, "left_anti").write.format("delta").mode("append").save(path)
        source = df.join(held, keys, "left_semi")
    update_when = f"s.`{newer_than}` >= t.`{newer_than}`" if newer_than else None
    (
        target.alias("t")
        .merge(source.alias("s"), condition)
        .whenMatchedUpdateAll(condition=update_when)
        .whenNotMatchedInsertAll()
        .execute()
    )


def _sql_literal(value) -> str:
    """A Spark SQL literal for a key value (string, number, date or timestamp)."""
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, datetime):
        return f"timestamp'{value.isoformat(sep=' ')}'"
    if isinstance(value, date):
        return f"date'{value.isoformat()}'"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


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


# --- SCD2 registries (slowly changing dimensions, type 2) -------------------------------

SCD2_COLUMNS = ("_row_hash", "valid_from", "valid_to", "is_current", "is_deleted")
SCD2_SNAPSHOT_PROPERTY = "civiclake.scd2.snapshot_date"


class SnapshotOrderError(ValueError):
    """A registry snapshot older than the one an SCD2 table already holds."""


def row_hash(columns: list[str]):
    """SHA-256 over the named columns as JSON (nulls kept, so null and "" differ)."""
    from pyspark.sql import functions as F

    return F.sha2(F.to_json(F.struct(*[F.col(c) for c in columns]), {"ignoreNullFields": "false"}), 256)


def scd2_snapshot_date(spark, path: str) -> date | None:
    """Date of the last full snapshot merged into the SCD2 table at ``path`` (None if new)."""
    if not table_exists(spark, path):
        return None
    detail = spark.sql(f"describe detail delta.`{path}`").collect()[0]
    value = (detail.properties or {}).get(SCD2_SNAPSHOT_PROPERTY)
    return date.fromisoformat(value) if value else None


def scd2_merge(
    spark,
    snapshot_df,
    path: str,
    keys: list[str],
    tracked_columns: list[str],
    valid_from: date,
    held_keys_df=None,
) -> dict[str, int]:
    """Applies one full registry snapshot to the SCD2 table at ``path``.

    * a key not current in the table opens a version (``valid_from`` = the snapshot date,
      ``valid_to`` null, ``is_current``) — new rows, and rows that reappear after a delete;
    * a key whose tracked columns changed (by row hash) closes its current version
      (``valid_to`` = the snapshot date) and opens a new one;
    * a current key missing from the snapshot is closed and marked ``is_deleted`` (soft
      delete: its history stays);
    * unchanged rows are not touched.

    ``held_keys_df`` (the key columns only) lists keys whose snapshot row was held back
    (quarantined): they are left exactly as they are, neither changed nor deleted.

    Snapshots must come in date order, because a version's ``valid_to`` is the date of the
    next snapshot: an older date than the table's last one raises ``SnapshotOrderError``.
    The same date again is allowed and is a no-op for the same snapshot (every row then
    matches its current version). Untracked columns of the snapshot are stored with a
    version but do not open one. Returns counts of opened, changed, deleted, unchanged keys.
    """
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    last = scd2_snapshot_date(spark, path)
    if last is not None and valid_from < last:
        raise SnapshotOrderError(
            f"SCD2 table {path} already holds the snapshot of {last}; the snapshot of {valid_from} "
            "is older and would rewrite history. Apply snapshots in date order: to reload "
            f"from {valid_from}, drop the table and apply every snapshot from the first one."
        )
    reserved = [c for c in snapshot_df.columns if c in SCD2_COLUMNS or c.startswith("_mk")]
    if reserved:
        raise ValueError(f"snapshot for {path} uses reserved SCD2 column names {reserved}")

    day = F.lit(valid_from).cast("date")
    staged = snapshot_df.withColumn("_row_hash", row_hash(tracked_columns))
    if not table_exists(spark, path):
        (
            staged.limit(0)
            .withColumn("valid_from", day)
            .withColumn("valid_to", F.lit(None).cast("date"))
            .withColumn("is_current", F.lit(True))
            .withColumn("is_deleted", F.lit(False))
            .write.format("delta")
            .save(path)
        )
    current = spark.read.format("delta").load(path).where("is_current").select(*keys, "_row_hash")
    compared = (
        staged.alias("s")
        .join(current.alias("t"), keys, "left")
        .select("s.*", F.col("t._row_hash").alias("_current_hash"))
    )
    compared = compared.cache()
    counts = compared.select(
        F.sum(F.when(F.col("_current_hash").isNull(), 1).otherwise(0)).alias("opened"),
        F.sum(
            F.when(
                F.col("_current_hash").isNotNull() & (F.col("_current_hash") != F.col("_row_hash")), 1
            ).otherwise(0)
        ).alias("changed"),
        F.sum(F.when(F.col("_current_hash") == F.col("_row_hash"), 1).otherwise(0)).alias("unchanged"),
    ).collect()[0]
    present = snapshot_df.select(*keys)
    if held_keys_df is not None:
        present = present.unionByName(held_keys_df.select(*keys))
    deleted = current.join(present.distinct(), keys, "left_anti").count()

    # Rows that match a current version (update it, or close it when changed), plus the new
    # versions of changed keys, staged with null merge keys so that they are inserted.
    mkeys = {f"_mk{i}": k for i, k in enumerate(keys)}
    matching = compared.drop("_current_hash").withColumn("_hold", F.lit(False))
    for mk, k in mkeys.items():
        matching = matching.withColumn(mk, F.col(k))
    new_versions = compared.where("_current_hash is not null and _current_hash != _row_hash").drop(
        "_current_hash"
    )
    new_versions = new_versions.withColumn("_hold", F.lit(False))
    for mk, k in mkeys.items():
        new_versions = new_versions.withColumn(mk, F.lit(None).cast(snapshot_df.schema[k].dataType))
    source = matching.unionByName(new_versions)
    if held_keys_df is not None:
        held = held_keys_df.select(*keys).distinct()
        for mk, k in mkeys.items():
            held = held.withColumn(mk, F.col(k))
        source = source.unionByName(held.withColumn("_hold", F.lit(True)), allowMissingColumns=True)

    condition = " and ".join(f"t.`{k}` = s.`{mk}`" for mk, k in mkeys.items()) + " and t.is_current"
    insert_values = {f"`{c}`": f"s.`{c}`" for c in snapshot_df.columns} | {
        "_row_hash": "s._row_hash",
        "valid_from": f"date'{valid_from}'",
        "valid_to": "cast(null as date)",
        "is_current": "true",
        "is_deleted": "false",
    }
    (
        DeltaTable.forPath(spark, path)
        .alias("t")
        .merge(source.alias("s"), condition)
        .whenMatchedUpdate(
            condition="not s._hold and t._row_hash != s._row_hash",
            set={"valid_to": f"date'{valid_from}'", "is_current": "false"},
        )
        .whenNotMatchedInsert(condition="not s._hold", values=insert_values)
        .whenNotMatchedBySourceUpdate(
            condition="t.is_current",
            set={"valid_to": f"date'{valid_from}'", "is_current": "false", "is_deleted": "true"},
        )
        .execute()
    )
    compared.unpersist()
    spark.sql(f"alter table delta.`{path}` set tblproperties ('{SCD2_SNAPSHOT_PROPERTY}' = '{valid_from}')")
    return {
        "opened": int(counts.opened or 0),
        "changed": int(counts.changed or 0),
        "deleted": int(deleted),
        "unchanged": int(counts.unchanged or 0),
    }


# --- File-export sources: a manifest of every file of a batch (loaded, empty or failed) ---

FILE_MANIFEST_TABLE = "file_manifest"


def record_file_manifest(spark, settings: Settings, source: str, batch_date: date, reads) -> None:
    """Replaces the manifest rows of (``source``, ``batch_date``) with one row per file read.

    ``reads`` are ``civiclake.ingest.files.FileRead`` objects; a failed file keeps its error,
    so a file that was not loaded is never silent.
    """
    from delta.tables import DeltaTable
    from pyspark.sql import types as T

    schema = T.StructType(
        [
            T.StructField("source", T.StringType(), False),
            T.StructField("table_name", T.StringType(), False),
            T.StructField("batch_date", T.DateType(), False),
            T.StructField("file_name", T.StringType(), False),
            T.StructField("status", T.StringType(), False),
            T.StructField("encoding", T.StringType(), True),
            T.StructField("rows", T.LongType(), False),
            T.StructField("new_columns", T.StringType(), True),
            T.StructField("notes", T.StringType(), True),
            T.StructField("error", T.StringType(), True),
        ]
    )
    rows = [
        (
            source,
            r.table,
            batch_date,
            r.file_name,
            r.status,
            r.encoding,
            len(r.rows),
            ", ".join(r.new_columns) or None,
            "; ".join(r.notes) or None,
            r.error,
        )
        for r in reads
    ]
    path = state_path(settings, FILE_MANIFEST_TABLE)
    df = spark.createDataFrame(rows, schema)
    if table_exists(spark, path):
        DeltaTable.forPath(spark, path).delete(f"source = '{source}' and batch_date = '{batch_date}'")
    df.write.format("delta").mode("append").save(path)


# --- Paged API extraction progress (Open311 and other paged HTTP sources) ---
# An append-only log, one row each time a batch starts or keeps a page: the batch's window
# as W3C datetimes with their offset (a jurisdiction's midnight is not the Spark session's),
# the pages already kept in bronze and whether the last page was reached. The latest row of
# a batch is its progress; a batch that failed part-way resumes from it. Appending (rather
# than a MERGE per page) keeps the cost of a page to one small commit.
PAGE_PROGRESS_TABLE = "page_progress"


def _progress_rows(spark, settings: Settings, where: str):
    path = state_path(settings, PAGE_PROGRESS_TABLE)
    if not table_exists(spark, path):
        return None
    return spark.read.format("delta").load(path).where(where)


def page_progress(spark, settings: Settings, source: str, batch_date: date) -> dict | None:
    """The latest progress of one batch, as a dict, or None before its first run."""
    rows = _progress_rows(spark, settings, f"source = '{source}' and batch_date = '{batch_date}'")
    if rows is None:
        return None
    latest = rows.orderBy(rows.pages_done.desc(), rows.complete.desc()).limit(1).collect()
    return latest[0].asDict() if latest else None


def save_page_progress(
    spark,
    settings: Settings,
    source: str,
    batch_date: date,
    *,
    base_url: str,
    window_start: str | None,
    window_end: str,
    pages_done: int,
    rows_fetched: int,
    complete: bool,
) -> None:
    from pyspark.sql import types as T

    schema = T.StructType(
        [
            T.StructField("source", T.StringType(), False),
            T.StructField("batch_date", T.DateType(), False),
            T.StructField("base_url", T.StringType(), False),
            T.StructField("window_start", T.StringType(), True),
            T.StructField("window_end", T.StringType(), False),
            T.StructField("pages_done", T.LongType(), False),
            T.StructField("rows_fetched", T.LongType(), False),
            T.StructField("complete", T.BooleanType(), False),
        ]
    )
    row = (source, batch_date, base_url, window_start, window_end, pages_done, rows_fetched, complete)
    (
        spark.createDataFrame([row], schema)
        .write.format("delta")
        .mode("append")
        .save(state_path(settings, PAGE_PROGRESS_TABLE))
    )


def page_high_watermark(spark, settings: Settings, source: str, before: date) -> str | None:
    """Window end of the latest complete batch before ``before`` (an incomplete one is not trusted)."""
    rows = _progress_rows(spark, settings, f"source = '{source}' and batch_date < '{before}' and complete")
    if rows is None:
        return None
    latest = rows.orderBy(rows.batch_date.desc()).limit(1).collect()
    return latest[0].window_end if latest else None


def delete_where(spark, path: str, predicate: str) -> None:
    """Deletes the rows matching ``predicate`` from the table at ``path``, if it exists."""
    from delta.tables import DeltaTable

    if table_exists(spark, path):
        DeltaTable.forPath(spark, path).delete(predicate)

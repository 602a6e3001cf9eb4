"""Small helpers over Delta tables shared by the Spark jobs: upserts, partition overwrites
and the state tables (extraction windows and per-batch reconciliation)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from civiclake.settings import Settings

WINDOWS_TABLE = "extract_windows"
RECONCILIATION_TABLE = "reconciliation"
# Delta writes this session setting into the commitInfo.userMetadata of a MERGE.
_COMMIT_TAG_CONF = "spark.databricks.delta.commitInfo.userMetadata"


class ReconciliationError(RuntimeError):
    """A batch whose independently counted rows do not add up to its source rows."""


@dataclass(frozen=True)
class Landed:
    """What one write did to a Delta table, from the operation metrics of its own commit.

    ``version`` is the version that commit created (None: the write committed nothing, as a
    MERGE of no rows does). ``held`` counts batch rows never handed to the write because the
    table already held them (``merge_upsert`` with ``batch_date``).
    """

    version: int | None = None
    inserted: int = 0
    updated: int = 0  # target rows updated by a matching source row
    closed: int = 0  # target rows updated because no source row matched them
    held: int = 0

    @property
    def rows(self) -> int:
        """Rows the write landed: inserted or updated."""
        return self.inserted + self.updated


def table_exists(spark, path: str) -> bool:
    from delta.tables import DeltaTable

    return DeltaTable.isDeltaTable(spark, path)


def table_version(spark, path: str) -> int:
    """The latest version of the table at ``path``."""
    from delta.tables import DeltaTable

    return DeltaTable.forPath(spark, path).history(1).first().version


def _committed(spark, path: str, operation: str, write) -> tuple[int | None, dict[str, int]]:
    """Runs ``write(tag)``, which must make one ``operation`` commit to ``path`` with ``tag`` as
    its userMetadata, and returns the version and operation metrics of that commit.

    The commit is told apart by its tag and operation, not by being the latest: another
    writer may commit to the table right after it. (None, {}) when the write committed
    nothing.
    """
    from delta.tables import DeltaTable

    before = table_version(spark, path) if table_exists(spark, path) else -1
    tag = f"civiclake-{uuid.uuid4()}"
    write(tag)
    if not table_exists(spark, path):
        return None, {}
    table = DeltaTable.forPath(spark, path)
    latest = table.history(1).first().version
    if latest == before:
        return None, {}
    ours = (
        table.history(latest - before)
        .where(f"userMetadata = '{tag}' and operation = '{operation}'")
        .select("version", "operationMetrics")
        .collect()
    )
    if len(ours) > 1:
        raise RuntimeError(f"{len(ours)} {operation} commits on {path} carry the tag {tag} of one write")
    if not ours:
        return None, {}
    return ours[0].version, {k: int(v) for k, v in (ours[0].operationMetrics or {}).items()}


def execute_merge(spark, path: str, merge) -> Landed:
    """Executes a ``DeltaMergeBuilder`` on the table at ``path`` and returns what its commit
    landed: rows inserted, rows updated by a matching source row, rows updated because no
    source row matched them (``whenNotMatchedBySourceUpdate``)."""

    def write(tag: str) -> None:
        previous = spark.conf.get(_COMMIT_TAG_CONF, None)
        spark.conf.set(_COMMIT_TAG_CONF, tag)
        try:
            merge.execute()
        finally:
            if previous is None:
                spark.conf.unset(_COMMIT_TAG_CONF)
            else:
                spark.conf.set(_COMMIT_TAG_CONF, previous)

    version, metrics = _committed(spark, path, "MERGE", write)
    return Landed(
        version=version,
        inserted=metrics.get("numTargetRowsInserted", 0),
        updated=metrics.get("numTargetRowsMatchedUpdated", 0),
        closed=metrics.get("numTargetRowsNotMatchedBySourceUpdated", 0),
    )


def overwrite_partition(df, path: str, column: str, value: date | str, where: str | None = None) -> int:
    """Replaces one partition (``column = value``, narrowed by ``where``) and nothing else;
    creates the table if new. Returns the rows its commit wrote."""
    condition = f"{column} = '{value}'" + (f" and {where}" if where else "")

    def write(tag: str) -> None:
        (
            df.write.format("delta")
            .mode("overwrite")
            .partitionBy(column)
            .option("replaceWhere", condition)
            .option("userMetadata", tag)
            .save(path)
        )

    _, metrics = _committed(df.sparkSession, path, "WRITE", write)
    return metrics.get("numOutputRows", 0)


# Batches at least this large MERGE only the keys silver already holds and append the new
# ones: Delta's MERGE passes over its whole source twice, an append once.
SPLIT_NEW_KEYS_FROM_ROWS = 100_000


def merge_upsert(
    spark,
    df,
    path: str,
    keys: list[str],
    newer_than: str | None = None,
    rows: int | None = None,
    *,
    batch_date: date | None = None,
    lineage: tuple[str, ...] = (),
) -> Landed:
    """MERGE ``df`` into the table at ``path`` on ``keys`` (creating it on first use) and
    return what the commits landed, from their Delta operation metrics.

    With ``newer_than`` (a column), a matched row is only replaced by a strictly newer or
    equal version, so applying an old batch after a new one never rolls a row back.

    With ``batch_date`` (the batch's value of the ``batch_date`` column, which ``df`` and the
    table both carry; needs ``newer_than``): rows whose key the table holds, as written by
    another batch, at a newer version — or at the same version with the same content (all
    columns but ``batch_date`` and ``lineage``) — are known duplicates. They are not handed
    to the MERGE, and ``Landed.held`` counts them. The table is read at one version, before
    the MERGE; a row the MERGE then does not land (another writer got there in between) is
    missing from ``Landed.rows``, for the reconciliation to show. Rows the same batch wrote
    are merged again, so a rerun lands (and counts) what the first run did.

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
    source, held, marked = df, 0, None
    if batch_date is not None:
        marked = _mark_held(spark, df, path, keys, newer_than, batch_date, lineage, key_range).cache()
        held = marked.where("_held").count()
        source = marked.where("not _held").select(*df.columns)
    appended = 0
    if rows is not None and rows >= SPLIT_NEW_KEYS_FROM_ROWS:
        present = target.toDF().select(*keys)
        if key_range:
            present = present.where(key_range)
        present = present.localCheckpoint()  # the keys as they were before this batch's append
        new_keys = source.join(present, keys, "left_anti")

        def append(tag: str) -> None:
            new_keys.write.format("delta").mode("append").option("userMetadata", tag).save(path)

        appended = _committed(spark, path, "WRITE", append)[1].get("numOutputRows", 0)
        source = source.join(present, keys, "left_semi")
    update_when = f"s.`{newer_than}` >= t.`{newer_than}`" if newer_than else None
    merge = (
        target.alias("t")
        .merge(source.alias("s"), condition)
        .whenMatchedUpdateAll(condition=update_when)
        .whenNotMatchedInsertAll()
    )
    landed = execute_merge(spark, path, merge)
    if marked is not None:
        marked.unpersist()
    return Landed(
        version=landed.version, inserted=appended + landed.inserted, updated=landed.updated, held=held
    )


def _mark_held(spark, df, path, keys, newer_than, batch_date, lineage, key_range):
    """``df`` with ``_held``: true where the table (at its current version) holds the row's key,
    written by another batch, at a newer version, or at the same version with the same content."""
    from pyspark.sql import functions as F

    if newer_than is None:
        raise ValueError("merge_upsert: batch_date needs newer_than (the version column)")
    content = sorted(c for c in df.columns if c != "batch_date" and c not in lineage)
    table = spark.read.format("delta").option("versionAsOf", table_version(spark, path)).load(path)
    if key_range:
        table = table.where(key_range)
    held = table.where(F.col("batch_date") != F.lit(batch_date)).select(
        *keys, F.col(newer_than).alias("_held_version"), row_hash(content).alias("_held_hash")
    )
    version = F.col(newer_than)
    same = F.col("_held_version").eqNullSafe(version) & (F.col("_held_hash") == F.col("_hash"))
    is_held = F.col("_held_hash").isNotNull() & ((F.col("_held_version") > version) | same)
    return (
        df.withColumn("_hash", row_hash(content))
        .join(held, keys, "left")
        .withColumn("_held", F.coalesce(is_held, F.lit(False)))
        .drop("_held_version", "_held_hash", "_hash")
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
    """Stores ``source = silver + quarantine + duplicates`` for one batch, each term counted on
    its own: ``silver_rows`` as the Delta commit of the MERGE landed them, ``quarantined`` as
    written to quarantine, ``duplicates`` from the rows themselves. A batch that does not add
    up raises ``ReconciliationError`` and stores nothing."""
    from pyspark.sql import types as T

    accounted = silver_rows + quarantined + duplicates
    if source_rows != accounted:
        raise ReconciliationError(
            f"{table} batch {batch_date} does not reconcile: {source_rows} source rows, but "
            f"{silver_rows} landed in silver + {quarantined} quarantined + {duplicates} duplicates "
            f"= {accounted} ({source_rows - accounted:+d} rows unaccounted for). Silver keeps what "
            "the MERGE landed. Look for another writer on the silver table during the run, or "
            "rows the MERGE did not apply, then rerun the date."
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
    version but do not open one. Returns counts of opened, changed and deleted keys, as the
    MERGE's Delta commit made them, and of unchanged keys (rows that match the current
    version the table held before the MERGE).
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
    # The table at one version, read before the MERGE: what "unchanged" is measured against.
    current = (
        spark.read.format("delta")
        .option("versionAsOf", table_version(spark, path))
        .load(path)
        .where("is_current")
        .select(*keys, "_row_hash")
    )
    compared = (
        staged.alias("s")
        .join(current.alias("t"), keys, "left")
        .select("s.*", F.col("t._row_hash").alias("_current_hash"))
    )
    compared = compared.cache()
    unchanged = compared.where(F.col("_current_hash") == F.col("_row_hash")).count()

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
    merge = (
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
    )
    landed = execute_merge(spark, path, merge)
    compared.unpersist()
    spark.sql(f"alter table delta.`{path}` set tblproperties ('{SCD2_SNAPSHOT_PROPERTY}' = '{valid_from}')")
    # From the MERGE's commit: every inserted row opens a version, and a changed key both
    # opens one and closes its current one (a matched update).
    return {
        "opened": landed.inserted - landed.updated,
        "changed": landed.updated,
        "deleted": landed.closed,
        "unchanged": unchanged,
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

"""Writes to Delta tables through Spark: MERGE upserts, partition overwrites and deletes,
each telling what its own commit landed (from the commit's operation metrics)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache

from civiclake.spark import local_checkpoint

# Delta writes this session setting into the commitInfo.userMetadata of a MERGE.
_COMMIT_TAG_CONF = "spark.databricks.delta.commitInfo.userMetadata"


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
    created = {} if table_exists(df.sparkSession, path) else personal_stats_options(df.schema, (column,))

    def write(tag: str) -> None:
        (
            df.write.format("delta")
            .mode("overwrite")
            .partitionBy(column)
            .option("replaceWhere", condition)
            .option("userMetadata", tag)
            .options(**created)
            .save(path)
        )

    _, metrics = _committed(df.sparkSession, path, "WRITE", write)
    return metrics.get("numOutputRows", 0)


# Batches at least this large MERGE only the keys silver already holds and append the new
# ones: Delta's MERGE passes over its whole source twice, an append once.
SPLIT_NEW_KEYS_FROM_ROWS = 100_000
# Up to this many keys already in the table (within the batch's key range) are broadcast to
# split such a batch: about 40 MB of keys the size of a case id.
BROADCAST_PRESENT_KEYS_UP_TO = 2_000_000


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

    create_if_absent(df, path)
    target = DeltaTable.forPath(spark, path)
    condition = key_condition(keys)
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
    appended_new_keys = rows is not None and rows >= SPLIT_NEW_KEYS_FROM_ROWS
    if appended_new_keys:
        present = target.toDF().select(*keys)
        if key_range:
            present = present.where(key_range)
        present = local_checkpoint(present)  # the keys as they were before this batch's append
        if present.count() <= BROADCAST_PRESENT_KEYS_UP_TO:
            # Sent whole to every task, the known keys split the batch where it lies: a shuffle
            # join would move every row of the batch across the partitions twice (new keys,
            # then known ones), which costs about what writing them does.
            present = F.broadcast(present)
        new_keys = source.join(present, keys, "left_anti")

        def append(tag: str) -> None:
            new_keys.write.format("delta").mode("append").option("userMetadata", tag).save(path)

        appended = _committed(spark, path, "WRITE", append)[1].get("numOutputRows", 0)
        source = source.join(present, keys, "left_semi")
    update_when = f"s.`{newer_than}` >= t.`{newer_than}`" if newer_than else None
    merge = target.alias("t").merge(source.alias("s"), condition).whenMatchedUpdateAll(condition=update_when)
    if not appended_new_keys:
        merge = merge.whenNotMatchedInsertAll()
    # else every key of the source is one the table held before the append, so the MERGE has
    # matched rows only, and Delta joins source and table with an inner join, not an outer one.
    landed = execute_merge(spark, path, merge)
    if marked is not None:
        marked.unpersist()
    return Landed(
        version=landed.version, inserted=appended + landed.inserted, updated=landed.updated, held=held
    )


def create_if_absent(df, path: str) -> None:
    """Creates the table at ``path`` with ``df``'s schema and no rows, unless it exists."""
    if not table_exists(df.sparkSession, path):
        df.limit(0).write.format("delta").options(**personal_stats_options(df.schema)).save(path)


def key_condition(keys: list[str]) -> str:
    """A MERGE's condition that target ``t`` and source ``s`` agree on every key (nulls equal)."""
    return " and ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)


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


def row_hash(columns: list[str]):
    """SHA-256 over the named columns as JSON (nulls kept, so null and "" differ)."""
    from pyspark.sql import functions as F

    return F.sha2(F.to_json(F.struct(*[F.col(c) for c in columns]), {"ignoreNullFields": "false"}), 256)


# --- Personal columns out of the Delta log ----------------------------------------------------
# Each Delta commit records the min and max of every data file's columns, and each version's
# checksum file lists the table's files with them: a token column's min or max is a resident's
# token, left in the log after an erasure deletes the rows (and VACUUM deletes their files).
# Tables are created collecting statistics only for the columns that carry no personal data;
# `civiclake maintain` and `civiclake erase` set the same on tables made before this, or by
# writers that do not come through here (civiclake/lake/retention.py).

STATS_COLUMNS_PROPERTY = "delta.dataSkippingStatsColumns"
# Delta's own default: statistics for the first 32 columns.
_MAX_STATS_COLUMNS = 32
# Bronze columns that keep a source record, or its unknown fields, whole as JSON.
_RECORD_COLUMNS = ("_extra_columns", "_raw")


@lru_cache(maxsize=1)
def _free_text_columns() -> frozenset[str]:
    from civiclake.contracts.catalog import CONTRACTS

    return frozenset(name for c in CONTRACTS.values() for name in c.free_text)


def is_personal_column(name: str) -> bool:
    """A column that holds tokens of residents: a tokenised field (``<field>_token``), free text
    residents write (personal numbers in it are tokens: the contracts' ``free_text``), an
    export's unknown columns kept as JSON (``_extra_columns``) or a record kept whole as the
    source sent it (``_raw``, its free text scrubbed)."""
    return name.endswith("_token") or name in _RECORD_COLUMNS or name in _free_text_columns()


def stats_columns(schema, partition_columns=()) -> list[str]:
    """The columns of ``schema`` (a Spark StructType) Delta may keep statistics for: the
    first 32 of those of a type with min/max statistics, neither personal nor a partition column."""
    from pyspark.sql import types as T

    eligible = (T.StringType, T.NumericType, T.DateType, T.TimestampType, T.TimestampNTZType)
    names = [
        f.name
        for f in schema.fields
        if isinstance(f.dataType, eligible)
        and not is_personal_column(f.name)
        and f.name not in partition_columns
    ]
    return names[:_MAX_STATS_COLUMNS]


def stats_columns_value(names: list[str]) -> str:
    """The property's value: names separated by commas, quoted where they need it."""
    return ",".join(n if n.replace("_", "").isalnum() and n.isascii() else f"`{n}`" for n in names)


def personal_stats_options(schema, partition_columns=()) -> dict[str, str]:
    """Writer options that create a table collecting no statistics on its personal columns."""
    names = stats_columns(schema, partition_columns)
    if not names:
        return {"delta.dataSkippingNumIndexedCols": "0"}
    return {STATS_COLUMNS_PROPERTY: stats_columns_value(names)}


def delete_where(spark, path: str, predicate: str) -> None:
    """Deletes the rows matching ``predicate`` from the table at ``path``, if it exists."""
    from delta.tables import DeltaTable

    if table_exists(spark, path):
        DeltaTable.forPath(spark, path).delete(predicate)

"""SCD2 registries (slowly changing dimensions, type 2): a full registry snapshot merged
into a table that keeps every version of every key, with its validity dates."""

from __future__ import annotations

from datetime import date

from civiclake.contracts.base import SCD2
from civiclake.lake.writes import execute_merge, row_hash, table_exists, table_version

# The version bookkeeping scd2_merge adds, as the contracts declare it for silver.
SCD2_COLUMNS = tuple(c.name for c in SCD2)
SCD2_SNAPSHOT_PROPERTY = "civiclake.scd2.snapshot_date"


class SnapshotOrderError(ValueError):
    """A registry snapshot older than the one an SCD2 table already holds."""


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

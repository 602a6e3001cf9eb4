"""SCD2 registries (slowly changing dimensions, type 2): a full registry snapshot merged
into a table that keeps every version of every key, with its validity dates.

:func:`scd2_merge` applies one snapshot after the ones a table holds. :func:`apply_snapshot`
is what a job calls for a day's snapshot, whatever the order the days come in (a backfill,
a rerun, a day that arrived late):

* a snapshot applied before with the same content is a no-op, whatever its date;
* a snapshot newer than every applied one is merged (:func:`scd2_merge`);
* a snapshot older than the newest applied one, or a date applied before whose content
  differs, rebuilds the table: every snapshot date, this one included, is replayed in date
  order from the archive of snapshots (bronze) into a scratch table, which then replaces the
  table in one commit, so readers see the old history or the new one, never a mix. When the
  archive no longer holds a snapshot the replay needs (bronze retention removed it),
  :class:`SnapshotOrderError` says which, and the table is left as it was.

What was applied lives in the state table ``state.scd2_snapshots``: a row per table and
snapshot date each time one is applied, with a digest of the rows merged and the keys held
back; the latest row of a date is what the table holds. Appended, not merged: one small
commit per registry and day, where a MERGE into the state table cost several.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import NamedTuple

from civiclake.contracts.base import SCD2
from civiclake.lake.runs import append_state, state_path, state_rows
from civiclake.lake.writes import (
    delete_where,
    execute_merge,
    personal_stats_options,
    row_hash,
    table_exists,
    table_version,
)
from civiclake.settings import Settings

log = logging.getLogger(__name__)

# The version bookkeeping scd2_merge adds, as the contracts declare it for silver.
SCD2_COLUMNS = tuple(c.name for c in SCD2)
SCD2_SNAPSHOT_PROPERTY = "civiclake.scd2.snapshot_date"
# The snapshots applied to each SCD2 table, with the digest of what was merged.
SNAPSHOTS_TABLE = "scd2_snapshots"
SNAPSHOTS_SCHEMA = (
    "table_name string not null, snapshot_date date not null, digest string not null, "
    "snapshot_rows bigint not null, held_keys bigint not null, recorded_at timestamp not null"
)
# Where a rebuild writes before it replaces the table (under the state layer, removed after).
REBUILD_FOLDER = "scd2_rebuild"


class SnapshotOrderError(ValueError):
    """A registry snapshot that cannot be applied in date order: older than the ones an SCD2
    table holds (:func:`scd2_merge`), or needing a rebuild from snapshots the archive no
    longer holds (:func:`apply_snapshot`)."""


@dataclass(frozen=True)
class Snapshot:
    """One full snapshot as :func:`scd2_merge` takes it: its date, its rows (DataFrame) and the
    keys whose row was held back (DataFrame of the key columns, or None)."""

    day: date
    rows: object
    held_keys: object = None


@dataclass(frozen=True)
class SnapshotArchive:
    """The snapshots a table can be rebuilt from: ``dates()`` gives the dates it holds,
    ``snapshot(day)`` one of them, checked as on its first run. ``where`` names it in errors."""

    where: str
    dates: Callable[[], set[date]]
    snapshot: Callable[[date], Snapshot]


@dataclass(frozen=True)
class Applied:
    """What :func:`apply_snapshot` did: ``merged`` (in date order), ``unchanged`` (applied
    before with the same content) or ``rebuilt``; the counts are those of the snapshot itself,
    as :func:`scd2_merge` returns them."""

    action: str
    counts: dict[str, int]
    reason: str | None = None


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
    next snapshot: an older date than the table's last one raises ``SnapshotOrderError``
    (:func:`apply_snapshot` rebuilds the table instead). The same date again is allowed and
    is a no-op for the same snapshot (every row then matches its current version). Untracked
    columns of the snapshot are stored with a version but do not open one. Returns counts of
    opened, changed and deleted keys, as the MERGE's Delta commit made them, and of
    unchanged keys (rows that match the current version the table held before the MERGE).
    """
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    last = scd2_snapshot_date(spark, path)
    if last is not None and valid_from < last:
        raise SnapshotOrderError(
            f"SCD2 table {path} already holds the snapshot of {last}; the snapshot of {valid_from} "
            "is older and would rewrite history. scd2_merge applies snapshots in date order; "
            "apply_snapshot rebuilds the table from every snapshot instead."
        )
    reserved = [c for c in snapshot_df.columns if c in SCD2_COLUMNS or c.startswith("_mk")]
    if reserved:
        raise ValueError(f"snapshot for {path} uses reserved SCD2 column names {reserved}")

    day = F.lit(valid_from).cast("date")
    staged = snapshot_df.withColumn("_row_hash", row_hash(tracked_columns))
    if not table_exists(spark, path):
        empty = (
            staged.limit(0)
            .withColumn("valid_from", day)
            .withColumn("valid_to", F.lit(None).cast("date"))
            .withColumn("is_current", F.lit(True))
            .withColumn("is_deleted", F.lit(False))
        )
        empty.write.format("delta").options(**personal_stats_options(empty.schema)).save(path)
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
    _set_snapshot_date(spark, path, valid_from)
    # From the MERGE's commit: every inserted row opens a version, and a changed key both
    # opens one and closes its current one (a matched update).
    return {
        "opened": landed.inserted - landed.updated,
        "changed": landed.updated,
        "deleted": landed.closed,
        "unchanged": unchanged,
    }


def _set_snapshot_date(spark, path: str, day: date) -> None:
    spark.sql(f"alter table delta.`{path}` set tblproperties ('{SCD2_SNAPSHOT_PROPERTY}' = '{day}')")


# --- Snapshots in any order: no-op, merge or rebuild ---


class Digest(NamedTuple):
    """What a snapshot gives :func:`scd2_merge`, in short: equal for the same rows and held
    keys in any order, different for any other content."""

    value: str
    rows: int
    held: int


def snapshot_digest(snapshot: Snapshot, keys: list[str]) -> Digest:
    """The :class:`Digest` of what :func:`scd2_merge` would be given for ``snapshot``.

    Each row and each held key is hashed (SHA-256 of all its columns, nulls kept); the digest
    is their numbers and two sums of independent 64-bit hashes of them, so it costs one
    aggregation and no sort, whatever the snapshot's size.
    """
    from pyspark.sql import functions as F

    rows = snapshot.rows.select(row_hash(sorted(snapshot.rows.columns)).alias("_h"), F.lit(0).alias("_held"))
    if snapshot.held_keys is not None:
        held = snapshot.held_keys.select(*keys).distinct()
        rows = rows.unionByName(held.select(row_hash(list(keys)).alias("_h"), F.lit(1).alias("_held")))

    def hashed(salt: str):
        # As decimals: sums of 64-bit hashes overflow a long.
        return F.xxhash64(F.lit(salt), F.col("_held"), F.col("_h")).cast("decimal(38,0)")

    found = rows.agg(
        F.count(F.when(F.col("_held") == 0, 1)).alias("rows"),
        F.count(F.when(F.col("_held") == 1, 1)).alias("held"),
        F.coalesce(F.sum(hashed("a")), F.lit(0)).alias("first"),
        F.coalesce(F.sum(hashed("b")), F.lit(0)).alias("second"),
    ).first()
    return Digest(f"rows={found.rows};held={found.held};{found.first};{found.second}", found.rows, found.held)


def applied_snapshots(spark, settings: Settings, table: str, last: date | None) -> dict[date, str]:
    """Snapshot date → digest of every snapshot the SCD2 table ``silver.<table>`` holds, whose
    last snapshot date is ``last`` (:func:`scd2_snapshot_date`).

    Dates after ``last`` do not count: a table restored to an earlier version no longer holds
    what the state recorded after it.
    """
    if last is None:
        return {}
    where = f"table_name = '{table}' and snapshot_date <= '{last}'"
    rows = state_rows(spark, settings, SNAPSHOTS_TABLE, where)
    if rows is None:
        return {}
    recorded = rows.select("snapshot_date", "digest", "recorded_at").collect()
    # A date applied again (a rebuild, changed content) has several rows: the latest holds.
    return {r.snapshot_date: r.digest for r in sorted(recorded, key=lambda r: r.recorded_at)}


def _record_applied(spark, settings: Settings, table: str, applied: list[tuple[date, Digest]]) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = [(table, day, digest.value, digest.rows, digest.held, now) for day, digest in applied]
    append_state(spark, settings, SNAPSHOTS_TABLE, SNAPSHOTS_SCHEMA, rows)


def _forget_applied(spark, settings: Settings, table: str) -> None:
    """Drops what the state recorded for a table that no longer exists (it was dropped)."""
    recorded = state_rows(spark, settings, SNAPSHOTS_TABLE, f"table_name = '{table}'")
    if recorded is not None and not recorded.isEmpty():
        delete_where(spark, state_path(settings, SNAPSHOTS_TABLE), f"table_name = '{table}'")


def _dates_in_table(spark, path: str) -> set[date]:
    """Every date a version of the table starts or ends on: the snapshots that changed it."""
    from pyspark.sql import functions as F

    table = spark.read.format("delta").load(path)
    dates = table.select(F.col("valid_from").alias("day")).union(table.select("valid_to"))
    return {r.day for r in dates.where("day is not null").distinct().collect()}


def apply_snapshot(
    spark,
    settings: Settings,
    table: str,
    snapshot: Snapshot,
    keys: list[str],
    tracked_columns: list[str],
    archive: SnapshotArchive,
) -> Applied:
    """Applies ``snapshot`` to the SCD2 table ``silver.<table>`` whatever the order snapshots
    come in: a no-op when the same snapshot was applied before, a merge when it is newer than
    every applied one, else a rebuild from ``archive`` (see the module's docstring)."""
    path = settings.table_path("silver", table)
    day = snapshot.day
    digest = snapshot_digest(snapshot, keys)
    last = scd2_snapshot_date(spark, path)
    applied = applied_snapshots(spark, settings, table, last)
    if applied.get(day) == digest.value:
        log.info(
            "silver.%s: the snapshot of %s was applied before with the same content; unchanged", table, day
        )
        return Applied("unchanged", {"opened": 0, "changed": 0, "deleted": 0, "unchanged": digest.rows})
    if last is None or day > last or (day == last and day not in applied):
        if last is None:
            _forget_applied(spark, settings, table)
        counts = scd2_merge(spark, snapshot.rows, path, keys, tracked_columns, day, snapshot.held_keys)
        _record_applied(spark, settings, table, [(day, digest)])
        return Applied("merged", counts)
    if day in applied:
        reason = f"the snapshot of {day} was applied before with other content"
    else:
        reason = f"the snapshot of {day} is older than the newest one applied, of {last}"
    earlier = sorted((set(applied) | _dates_in_table(spark, path)) - {day})
    rebuild = _Rebuild(spark, settings, table, keys, tracked_columns, archive, reason)
    return Applied("rebuilt", rebuild.run(earlier, snapshot, digest), reason)


@dataclass(frozen=True)
class _Rebuild:
    """An SCD2 table rebuilt from its snapshots, replayed in date order."""

    spark: object
    settings: Settings
    table: str
    keys: list[str]
    tracked_columns: list[str]
    archive: SnapshotArchive
    reason: str

    def run(self, earlier: list[date], snapshot: Snapshot, digest: Digest) -> dict[str, int]:
        """Replays the snapshots of ``earlier`` (from the archive) and ``snapshot`` in date order
        into a scratch table, then replaces the table with it in one commit; returns
        ``snapshot``'s counts. Refuses, changing nothing, when the archive lacks one."""
        spark, table, day = self.spark, self.table, snapshot.day
        self._require(earlier, day)
        order = sorted([*earlier, day])
        log.warning(
            "silver.%s: %s; rebuilding it from %s, %d snapshots from %s to %s",
            table,
            self.reason,
            self.archive.where,
            len(order),
            order[0],
            order[-1],
        )
        scratch = state_path(self.settings, f"{REBUILD_FOLDER}/{table}")
        _remove_folder(spark, scratch)
        recorded, counts = [], {}
        for each in order:
            replayed = snapshot if each == day else self.archive.snapshot(each)
            merged = scd2_merge(
                spark, replayed.rows, scratch, self.keys, self.tracked_columns, each, replayed.held_keys
            )
            if each == day:
                counts = merged
            recorded.append((each, digest if each == day else snapshot_digest(replayed, self.keys)))
        self._replace(scratch, order[-1])
        _record_applied(spark, self.settings, table, recorded)
        _remove_folder(spark, scratch)
        log.warning("silver.%s rebuilt from %d snapshots, %s to %s", table, len(order), order[0], order[-1])
        return counts

    def _require(self, earlier: list[date], day: date) -> None:
        missing = sorted(set(earlier) - self.archive.dates())
        if not missing:
            return
        first, last = min(earlier[0], day), max(earlier[-1], day)
        raise SnapshotOrderError(
            f"silver.{self.table}: {self.reason}, so the table must be rebuilt from its "
            f"{len(earlier) + 1} snapshots in date order ({first} to {last}), but "
            f"{self.archive.where} no longer holds the snapshot(s) of {', '.join(map(str, missing))} "
            f"(bronze retention removes old snapshots). silver.{self.table} was left as it was. To "
            f"apply the snapshot of {day}, restore those snapshots to {self.archive.where} (from a "
            "backup, or a Delta RESTORE of the bronze table to a version from before their "
            f"removal, while VACUUM has not deleted its files) and run {day} again; else leave "
            f"{day} out: the table keeps the history it has."
        )

    def _replace(self, scratch: str, last: date) -> None:
        """The table's content replaced by the scratch table's in one commit: readers see the
        old history or the rebuilt one. Delta's history of the table says why."""
        path = self.settings.table_path("silver", self.table)
        columns = self.spark.read.format("delta").load(path).columns
        rebuilt = self.spark.read.format("delta").load(scratch)
        same_columns = sorted(rebuilt.columns) == sorted(columns)
        if same_columns:
            rebuilt = rebuilt.select(*columns)
        writer = rebuilt.write.format("delta").mode("overwrite")
        if not same_columns:  # the contract's columns changed since the table was written
            writer = writer.option("overwriteSchema", "true")
        writer.option("userMetadata", f"SCD2 rebuild from {self.archive.where}: {self.reason}").save(path)
        _set_snapshot_date(self.spark, path, last)


def _remove_folder(spark, path: str) -> None:
    """Deletes ``path`` and everything under it, on whatever file system the lake is on."""
    jvm = spark.sparkContext._jvm
    folder = jvm.org.apache.hadoop.fs.Path(path)
    folder.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).delete(folder, True)

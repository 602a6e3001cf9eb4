"""Retention: how long each layer keeps what it holds, applied by `civiclake maintain`.

Layer by layer, as the settings say (``civiclake/settings.py``, under "Retention"):

* **landing** — raw exports and camera recordings, removed ``raw_export_retention_days``
  after the lake recorded their batch as ingested (``civiclake.ingest.landing_retention``:
  the ingest's side of the lake, as the ingest itself prunes the day it loads).
* **bronze** — partitions (``batch_date``) older than ``bronze_retention_days`` before the
  maintenance date are deleted from every bronze table, the registries' snapshots included:
  the same horizon bounds an SCD2 rebuild from those snapshots (``civiclake/lake/scd2.py``).
* **Delta history** — each table keeps ``delta_history_retention_days`` of versions: VACUUM
  deletes the data files older versions alone need, and the table's log retention is set to the
  same span (``delta.logRetentionDuration``, ``delta.deletedFileRetentionDuration``), so time
  travel reaches that far and no further (:func:`require_version_readable` says so clearly).
* **file layout** — OPTIMIZE only where it pays: a table or partition with more than
  ``optimize_min_small_files`` files under ``optimize_small_file_mb``.

The same pass sets, on every table, the statistics columns that keep personal data out of the
Delta log (``civiclake.lake.writes.personal_stats_options``): tables written before, or by
writers that do not go through ``civiclake.lake.writes``, get it here.

Every action is logged and recorded, with its counts, in ``state.maintenance_log``; a date
run twice finds nothing left to do the second time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from civiclake.lake.runs import append_state
from civiclake.lake.writes import STATS_COLUMNS_PROPERTY, personal_stats_options
from civiclake.settings import Settings

log = logging.getLogger(__name__)

LAYERS = ("bronze", "silver", "state")
MAINTENANCE_TABLE = "maintenance_log"
MAINTENANCE_SCHEMA = (
    "run_date date not null, step string not null, target string not null, detail string not null, "
    "files_before bigint, files_after bigint, rows bigint, recorded_at timestamp not null"
)
_MB = 1 << 20


class HistoryVacuumedError(LookupError):
    """A version of a table whose files VACUUM deleted, or whose commit the log dropped."""


@dataclass(frozen=True)
class LakeTable:
    layer: str
    name: str
    path: str

    @property
    def qualified(self) -> str:
        return f"{self.layer}.{self.name}"


@dataclass(frozen=True)
class Action:
    """One thing maintenance did (or a table it had to leave alone, and why), with its counts."""

    step: str  # properties, landing, bronze, optimize, vacuum
    target: str  # a folder, a table (layer.name) or one partition of it (layer.name[batch_date=…])
    detail: str
    files_before: int | None = None
    files_after: int | None = None
    rows: int | None = None

    def describe(self) -> str:
        counts = []
        if self.files_before is not None:
            counts.append(f"files {self.files_before} → {self.files_after}")
        if self.rows is not None:
            counts.append(f"rows {self.rows}")
        return f"{self.step} {self.target}: {self.detail}" + (f" ({', '.join(counts)})" if counts else "")


def filesystem_of(uri: str):
    """A pyarrow filesystem for ``uri`` (a local path, or s3a:// spelt s3:// for Arrow) and the
    path within it."""
    from pyarrow import fs

    if "://" not in uri:
        return fs.LocalFileSystem(), str(Path(uri).resolve())
    return fs.FileSystem.from_uri("s3://" + uri.removeprefix("s3a://") if uri.startswith("s3a://") else uri)


def _arrow_uri(path: str) -> str:
    """Where delta-rs finds the table at ``path`` (Hadoop's ``s3a://`` spelt ``s3://``)."""
    return "s3://" + path.removeprefix("s3a://") if path.startswith("s3a://") else path


def lake_tables(settings: Settings, layers: tuple[str, ...] | None = LAYERS) -> list[LakeTable]:
    """Every Delta table of the lake in ``layers`` (None: every folder under the lake's root),
    found by its ``_delta_log``: no list kept by hand."""
    from pyarrow import fs as pafs

    filesystem, root = filesystem_of(settings.lake)
    if layers is None:
        found = filesystem.get_file_info(pafs.FileSelector(root, allow_not_found=True))
        layers = tuple(sorted(i.base_name for i in found if i.type == pafs.FileType.Directory))
    tables = []
    for layer in layers:
        infos = filesystem.get_file_info(pafs.FileSelector(f"{root}/{layer}", allow_not_found=True))
        for info in sorted(infos, key=lambda i: i.path):
            if info.type != pafs.FileType.Directory:
                continue
            log_dir = filesystem.get_file_info(f"{info.path}/_delta_log")
            if log_dir.type == pafs.FileType.Directory:
                name = info.path.rsplit("/", 1)[-1]
                tables.append(LakeTable(layer, name, settings.table_path(layer, name)))
    return tables


def record_actions(spark, settings: Settings, run_date: date, actions: list[Action]) -> None:
    """Appends the actions to ``state.maintenance_log`` (when and what, never personal data)."""
    if not actions:
        return
    at = datetime.now()  # when maintenance ran: a record, not a decision
    rows = [
        (run_date, a.step, a.target, a.detail, a.files_before, a.files_after, a.rows, at) for a in actions
    ]
    append_state(spark, settings, MAINTENANCE_TABLE, MAINTENANCE_SCHEMA, rows)


def done(action: Action) -> Action:
    """The action, logged as it happens."""
    log.info("maintenance: %s", action.describe())
    return action


# --- Table properties: statistics without personal data, history retention ----------------------


def _metadata(spark, table: LakeTable):
    """The table's schema, partition columns and properties, from one snapshot."""
    from delta.tables import DeltaTable

    delta_table = DeltaTable.forPath(spark, table.path)
    detail = delta_table.detail().select("partitionColumns", "properties").first()
    return delta_table.toDF().schema, tuple(detail.partitionColumns or ()), dict(detail.properties or {})


def table_properties(spark, table: LakeTable, history_days: int | None) -> dict[str, str]:
    """Sets what ``table`` should have — statistics only on non-personal columns and (with
    ``history_days``) its log and deleted files kept that many days — where it differs, in one
    commit (none when all agree); returns the properties it changed."""
    schema, partitions, current = _metadata(spark, table)
    wanted = personal_stats_options(schema, partitions)
    if history_days is not None:
        wanted["delta.logRetentionDuration"] = f"interval {history_days} days"
        wanted["delta.deletedFileRetentionDuration"] = f"interval {history_days} days"
    changed = {k: v for k, v in wanted.items() if current.get(k) != v}
    if STATS_COLUMNS_PROPERTY not in wanted and STATS_COLUMNS_PROPERTY in current:
        # No column may have statistics: a list would name some that may.
        spark.sql(f"ALTER TABLE delta.`{table.path}` UNSET TBLPROPERTIES ('{STATS_COLUMNS_PROPERTY}')")
    if changed:
        assignments = ", ".join(f"'{k}' = '{v}'" for k, v in sorted(changed.items()))
        spark.sql(f"ALTER TABLE delta.`{table.path}` SET TBLPROPERTIES ({assignments})")
    return changed


def protect_personal_columns(spark, table: LakeTable) -> bool:
    """Statistics of ``table`` limited to its non-personal columns; True when that changed it."""
    return bool(table_properties(spark, table, None))


def apply_table_properties(spark, settings: Settings, tables: list[LakeTable]) -> list[Action]:
    actions = []
    for table in tables:
        changed = table_properties(spark, table, settings.delta_history_retention_days)
        if changed:
            actions.append(done(Action("properties", table.qualified, "set " + ", ".join(sorted(changed)))))
    return actions


# --- Bronze ------------------------------------------------------------------------------------------


def bronze_horizon(settings: Settings, run_date: date) -> date:
    """The oldest ``batch_date`` bronze keeps after maintenance on ``run_date``."""
    return run_date - timedelta(days=settings.bronze_retention_days)


def apply_bronze_retention(spark, settings: Settings, run_date: date) -> list[Action]:
    """Deletes every bronze partition older than the horizon; a table without ``batch_date``
    is named and left alone."""
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    horizon = bronze_horizon(settings, run_date)
    actions = []
    for table in lake_tables(settings, ("bronze",)):
        df = spark.read.format("delta").load(table.path)
        if "batch_date" not in df.columns:
            actions.append(done(Action("bronze", table.qualified, "no batch_date column: kept as it is")))
            continue
        old = df.where(F.col("batch_date") < F.lit(horizon))
        dates = sorted(r.batch_date for r in old.select("batch_date").distinct().collect())
        if not dates:
            continue
        rows = old.count()
        DeltaTable.forPath(spark, table.path).delete(F.col("batch_date") < F.lit(horizon))
        detail = f"{len(dates)} partition(s) before {horizon} deleted ({dates[0]} to {dates[-1]})"
        actions.append(done(Action("bronze", table.qualified, detail, rows=rows)))
    return actions


# --- OPTIMIZE where it pays ------------------------------------------------------------------------


def file_layout(table: LakeTable) -> dict[str, list[int]]:
    """The table's current data files by partition (``batch_date=…``, or "" when unpartitioned):
    their sizes in bytes."""
    import pyarrow as pa
    from deltalake import DeltaTable

    adds = pa.table(DeltaTable(_arrow_uri(table.path)).get_add_actions(flatten=True))
    keys = sorted(c for c in adds.column_names if c.startswith("partition."))
    layout: dict[str, list[int]] = {}
    columns = [adds.column(k).to_pylist() for k in keys]
    for i, size in enumerate(adds.column("size_bytes").to_pylist()):
        partition = ",".join(
            f"{k.removeprefix('partition.')}={col[i]}" for k, col in zip(keys, columns, strict=True)
        )
        layout.setdefault(partition, []).append(size)
    return layout


def _partition_predicate(partition: str) -> str | None:
    if not partition:
        return None
    parts = [p.split("=", 1) for p in partition.split(",")]
    return " and ".join(f"`{k}` is null" if v == "None" else f"`{k}` = '{v}'" for k, v in parts)


def optimize_where_it_pays(spark, settings: Settings, tables: list[LakeTable] | None = None) -> list[Action]:
    """OPTIMIZE (bin-packing compaction) of each table or partition holding more than
    ``optimize_min_small_files`` small files; the others are left alone."""
    from delta.tables import DeltaTable

    small = settings.optimize_small_file_mb * _MB
    actions = []
    for table in lake_tables(settings) if tables is None else tables:
        layout = file_layout(table)
        for partition, sizes in sorted(layout.items()):
            small_files = sum(1 for size in sizes if size < small)
            if small_files <= settings.optimize_min_small_files:
                continue
            optimizer = DeltaTable.forPath(spark, table.path).optimize()
            predicate = _partition_predicate(partition)
            if predicate:
                optimizer = optimizer.where(predicate)
            optimizer.executeCompaction()
            after = len(file_layout(table).get(partition, []))
            target = table.qualified + (f"[{partition}]" if partition else "")
            detail = f"{small_files} files under {settings.optimize_small_file_mb} MB compacted"
            actions.append(done(Action("optimize", target, detail, len(sizes), after)))
    return actions


# --- VACUUM with the history retention ------------------------------------------------------------


def data_file_count(table: LakeTable) -> int:
    """Data files in the table's folder, referenced or not (what VACUUM may delete)."""
    from pyarrow import fs as pafs

    filesystem, root = filesystem_of(table.path)
    infos = filesystem.get_file_info(pafs.FileSelector(root, recursive=True))
    return sum(
        1
        for i in infos
        if i.type == pafs.FileType.File and "/_delta_log/" not in i.path and i.path.endswith(".parquet")
    )


def vacuum_table(spark, table: LakeTable, retention_hours: float, *, full: bool = False) -> tuple[int, int]:
    """VACUUM of ``table`` keeping ``retention_hours`` of history; (data files before, after).
    Below Delta's safe minimum the caller must have disabled its check (erasure only).

    LITE by default: the files to delete are read from the log's remove actions instead of
    listing the whole table folder (a tenth of the time here). Delta refuses LITE where the
    log no longer covers them, and FULL runs instead; ``full`` also deletes files no commit
    ever referenced (left by failed writes)."""
    before = data_file_count(table)
    statement = f"VACUUM delta.`{table.path}` {{mode}} RETAIN {retention_hours:g} HOURS"
    if full:
        spark.sql(statement.format(mode="FULL"))
    else:
        try:
            spark.sql(statement.format(mode="LITE"))
        except Exception as error:  # Delta's error classes are not importable from Python
            if "LITE" not in str(error):
                raise
            log.info("%s: VACUUM LITE refused (%s); VACUUM FULL", table.qualified, str(error).splitlines()[0])
            spark.sql(statement.format(mode="FULL"))
    return before, data_file_count(table)


def vacuum_lake(spark, settings: Settings, tables: list[LakeTable] | None = None) -> list[Action]:
    """VACUUM of every table with ``delta_history_retention_days`` of history."""
    hours = settings.delta_history_retention_days * 24
    actions = []
    for table in lake_tables(settings) if tables is None else tables:
        before, after = vacuum_table(spark, table, hours)
        if before != after:
            detail = (
                f"files only versions older than {settings.delta_history_retention_days} days needed deleted"
            )
            actions.append(done(Action("vacuum", table.qualified, detail, before, after)))
    return actions


def require_version_readable(settings: Settings, table: LakeTable, version: int) -> None:
    """Raises :class:`HistoryVacuumedError`, naming the table, the version and the setting,
    when that version can no longer be read: its commit left the log, or VACUUM deleted files
    it needs. Time travel checks this rather than failing on a missing file."""
    from deltalake import DeltaTable
    from deltalake.exceptions import DeltaError
    from pyarrow import fs as pafs

    latest = DeltaTable(_arrow_uri(table.path)).version()
    if version > latest:
        raise ValueError(f"{table.qualified} has no version {version} yet: its latest is {latest}")
    kept = (
        f"the lake keeps {settings.delta_history_retention_days} days of Delta history "
        "(CIVICLAKE_DELTA_HISTORY_RETENTION_DAYS)"
    )
    try:
        snapshot = DeltaTable(_arrow_uri(table.path), version=version)
    except DeltaError as error:
        raise HistoryVacuumedError(
            f"{table.qualified} version {version} is not in the table's Delta log any more ({error}); {kept}"
        ) from None
    filesystem, _ = filesystem_of(table.path)
    paths = [filesystem_of(uri)[1] for uri in snapshot.file_uris()]
    infos = filesystem.get_file_info(paths)
    missing = [p for p, info in zip(paths, infos, strict=True) if info.type == pafs.FileType.NotFound]
    if missing:
        raise HistoryVacuumedError(
            f"{table.qualified} version {version} cannot be read: VACUUM deleted {len(missing)} of the "
            f"{len(paths)} data files it needs; {kept}. Read a newer version, or restore the files "
            "from a backup."
        )


# --- A whole maintenance run ----------------------------------------------------------------------


def run_optimize(spark, settings: Settings, run_date: date) -> list[Action]:
    actions = optimize_where_it_pays(spark, settings)
    record_actions(spark, settings, run_date, actions)
    return actions


def run_vacuum(spark, settings: Settings, run_date: date) -> list[Action]:
    actions = vacuum_lake(spark, settings)
    record_actions(spark, settings, run_date, actions)
    return actions

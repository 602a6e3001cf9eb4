"""Time travel over the lake with delta-rs (no JVM): a table's history, the table as it stood
at a version or a moment, and sets of tables pinned at versions (what a marts build reads).

Delta keeps every version of a table until its history is cleaned up: the log entries
older than the log retention, and — by VACUUM — the data files no version inside the
retention still uses. So a version can be listed and yet unreadable. Every read here checks
that the version it resolved is still whole, and refuses with the table, the version and
the time-travel horizon instead of answering from another version.

Tables are named ``layer.name`` (``silver.governance_cases``), as ``Settings.table_path``
lays them out. Commit times are UTC; a moment given without an offset is taken as UTC.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from civiclake.lake.read import table_uri
from civiclake.settings import Settings

if TYPE_CHECKING:
    from deltalake import DeltaTable

_NAME = re.compile(r"^[A-Za-z0-9_]+$")
HORIZON = (
    "time travel reaches back only as far as the lake's Delta history retention "
    "(older versions' files are removed by VACUUM, older log entries by log cleanup)"
)


class TimeTravelError(LookupError):
    """A table, version or moment the lake cannot answer for; the message says which and why."""


@dataclass(frozen=True)
class TableRef:
    """A lake table as ``layer.name``."""

    layer: str
    name: str

    @classmethod
    def parse(cls, text: str) -> TableRef:
        layer, dot, name = text.strip().partition(".")
        if not dot or not _NAME.match(layer) or not _NAME.match(name):
            raise TimeTravelError(
                f"{text!r} is not a lake table: name it layer.name, e.g. silver.governance_cases"
            )
        return cls(layer, name)

    @property
    def key(self) -> str:
        """The table's path below the lake root (``silver/governance_cases``)."""
        return f"{self.layer}/{self.name}"

    def __str__(self) -> str:
        return f"{self.layer}.{self.name}"


def layer_tables(settings: Settings, layer: str) -> list[str] | None:
    """The Delta tables of ``layer`` in a local lake, sorted; None where the lake is remote
    (object storage is not listed here)."""
    if "://" in settings.lake:
        return None
    folder = Path(settings.lake) / layer
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if (p / "_delta_log").is_dir())


def _missing_table(settings: Settings, ref: TableRef) -> TimeTravelError:
    tables = layer_tables(settings, ref.layer)
    uri = table_uri(settings, ref.layer, ref.name)
    if tables is None:
        return TimeTravelError(f"{ref} is not in the lake: no Delta table at {uri}")
    if not tables:
        layers = (
            sorted(p.name for p in Path(settings.lake).iterdir() if p.is_dir())
            if Path(settings.lake).is_dir()
            else []
        )
        return TimeTravelError(
            f"{ref} is not in the lake: it has no layer {ref.layer!r} with tables "
            f"(layers in {settings.lake}: {', '.join(layers) or 'none'})"
        )
    return TimeTravelError(f"{ref} is not in the lake; {ref.layer} holds: {', '.join(tables)}")


def open_table(settings: Settings, ref: TableRef, version: int | None = None) -> DeltaTable:
    """``ref`` at its newest version, or at ``version``: listed in its log and still whole."""
    from deltalake import DeltaTable
    from deltalake.exceptions import DeltaError, TableNotFoundError

    uri = table_uri(settings, ref.layer, ref.name)
    try:
        table = DeltaTable(uri)
    except TableNotFoundError:
        raise _missing_table(settings, ref) from None
    if version is None:
        return table
    newest = table.version()
    if version > newest:
        raise TimeTravelError(f"{ref} has no version {version}: its newest is {newest}")
    try:
        table.load_as_version(version)
    except DeltaError as error:
        oldest = min(commit["version"] for commit in DeltaTable(uri).history())
        raise TimeTravelError(
            f"{ref} version {version} is no longer in its Delta log (the oldest kept is "
            f"{oldest}): {HORIZON}. ({error})"
        ) from None
    check_whole(table, ref)
    return table


def check_whole(table: DeltaTable, ref: TableRef) -> None:
    """Refuses a loaded version whose data files VACUUM has removed (local lakes; on object
    storage the read itself reports a missing file, which :func:`read_error` words the same)."""
    for uri in table.file_uris():
        path = uri.removeprefix("file://")
        if "://" not in path and not os.path.exists(path):
            raise vacuumed(ref, table.version(), path)


_MISSING_OBJECT = re.compile(r"Object at location (\S+) not found")


def read_error(ref: TableRef, version: int, error: Exception) -> TimeTravelError:
    """A data file missing at read time (object storage), worded as :func:`check_whole` words it."""
    missing = _MISSING_OBJECT.search(str(error))
    return vacuumed(ref, version, missing.group(1) if missing else str(error).splitlines()[0])


def vacuumed(ref: TableRef, version: int, missing: str) -> TimeTravelError:
    return TimeTravelError(
        f"{ref} version {version} cannot be read: its file {missing} was removed by VACUUM; {HORIZON}"
    )


def version_at(settings: Settings, ref: TableRef, moment: datetime) -> int:
    """The version ``ref`` had at ``moment``: the newest commit at or before it."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    commits = table_history(settings, ref)
    before = [c for c in commits if c.timestamp <= moment]
    if before:
        return max(c.version for c in before)
    oldest = min(commits, key=lambda c: c.version)
    if oldest.version == 0:
        raise TimeTravelError(
            f"{ref} did not exist at {moment.isoformat()}: it was created at "
            f"{oldest.timestamp.isoformat()} (version 0)"
        )
    raise TimeTravelError(
        f"{ref} at {moment.isoformat()} is before its oldest version kept ({oldest.version}, "
        f"{oldest.timestamp.isoformat()}): {HORIZON}"
    )


# Operation metrics, as Spark (camelCase) and delta-rs (snake_case) name them; the first
# one a commit carries counts. MERGE's numOutputRows also counts the rows it copied, so
# its inserted rows come first.
_WRITTEN = ("numTargetRowsInserted", "num_target_rows_inserted", "numOutputRows", "num_added_rows")
_UPDATED = ("numTargetRowsUpdated", "num_target_rows_updated", "numUpdatedRows", "num_updated_rows")
_DELETED = ("numTargetRowsDeleted", "num_target_rows_deleted", "numDeletedRows", "num_deleted_rows")
# The batch a write replaced, from its replaceWhere or delete predicate.
_BATCH_PREDICATE = re.compile(r"\bbatch_date\s*=\s*'(\d{4}-\d{2}-\d{2})'")


@dataclass(frozen=True)
class Commit:
    """One version of a table as its commit recorded it."""

    version: int
    timestamp: datetime
    operation: str
    rows_written: int | None
    rows_updated: int | None
    rows_deleted: int | None
    batch_date: str | None
    engine: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "timestamp": self.timestamp.isoformat(timespec="milliseconds"),
            "operation": self.operation,
            "rows_written": self.rows_written,
            "rows_updated": self.rows_updated,
            "rows_deleted": self.rows_deleted,
            "batch_date": self.batch_date,
            "engine": self.engine,
        }


def _metric(metrics: dict, names: tuple[str, ...]) -> int | None:
    for name in names:
        if name in metrics:
            return int(metrics[name])
    return None


def commit_of(info: dict) -> Commit:
    """A commit from one entry of ``DeltaTable.history()`` (Spark's or delta-rs' commitInfo)."""
    metrics = info.get("operationMetrics") or {}
    parameters = info.get("operationParameters") or {}
    operation = info.get("operation", "?")
    mode = parameters.get("mode")
    if mode and operation == "WRITE":
        operation = f"WRITE ({mode})"
    predicate = " ".join(str(parameters.get(k, "")) for k in ("predicate", "replaceWhere"))
    batch = _BATCH_PREDICATE.search(predicate)
    return Commit(
        version=int(info["version"]),
        timestamp=datetime.fromtimestamp(int(info["timestamp"]) / 1000, tz=UTC),
        operation=operation,
        rows_written=_metric(metrics, _WRITTEN),
        rows_updated=_metric(metrics, _UPDATED),
        rows_deleted=_metric(metrics, _DELETED),
        batch_date=batch.group(1) if batch else None,
        engine=info.get("engineInfo"),
    )


def table_history(settings: Settings, ref: TableRef, limit: int | None = None) -> list[Commit]:
    """The versions of ``ref`` its Delta log still holds, newest first (``limit``: only the
    newest so many)."""
    return [commit_of(info) for info in open_table(settings, ref).history(limit)]


# ---------------------------------------------------------------- pinned versions


@dataclass(frozen=True)
class Pin:
    """A table at one version. ``table_id`` is the Delta table's own id: a table dropped and
    created again at the same path restarts its versions, and must not pass for the old one."""

    version: int
    table_id: str


def _normal(location: str) -> str:
    """A table location in one spelling: local paths resolved, Hadoop's s3a:// as s3://."""
    if location.startswith("s3a://"):
        location = "s3://" + location.removeprefix("s3a://")
    return location.rstrip("/") if "://" in location else os.path.realpath(location)


@dataclass(frozen=True)
class LakeVersions:
    """Tables of one lake pinned at versions, keyed ``layer/name``; ``absent`` lists the
    tables asked for that the lake did not hold when they were pinned."""

    lake: str
    tables: dict[str, Pin]
    absent: tuple[str, ...] = ()

    def pin_for(self, location: str) -> tuple[str, Pin]:
        """The key and pin of the table at ``location`` (a path below this lake)."""
        root, path = _normal(self.lake), _normal(location)
        key = path.removeprefix(root + "/") if path.startswith(root + "/") else None
        if key is None:
            raise TimeTravelError(f"{location} is outside the pinned lake {self.lake}")
        if key not in self.tables:
            why = (
                "it was not in the lake when the versions were pinned"
                if key in self.absent
                else "no version was pinned for it"
            )
            raise TimeTravelError(f"{key.replace('/', '.')} cannot be read at a pinned version: {why}")
        return key, self.tables[key]

    def to_json(self) -> dict[str, Any]:
        return {
            "lake": self.lake,
            "tables": {
                k: {"version": p.version, "table_id": p.table_id} for k, p in sorted(self.tables.items())
            },
            "absent": sorted(self.absent),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LakeVersions:
        return cls(
            lake=data["lake"],
            tables={k: Pin(int(v["version"]), v["table_id"]) for k, v in data["tables"].items()},
            absent=tuple(data.get("absent", ())),
        )

    def write(self, path: Path) -> None:
        """Writes the pins to ``path`` (replacing it whole: readers see old or new)."""
        writing = path.with_name(f".{path.name}.writing")
        writing.write_text(json.dumps(self.to_json(), indent=2), encoding="utf-8")
        os.replace(writing, path)

    @classmethod
    def read(cls, path: Path) -> LakeVersions | None:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        return cls.from_json(json.loads(text))


def pin_versions(settings: Settings, refs: list[TableRef]) -> LakeVersions:
    """Each of ``refs`` at its newest version now."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    tables, absent = {}, []
    for ref in refs:
        try:
            table = DeltaTable(table_uri(settings, ref.layer, ref.name))
        except TableNotFoundError:
            absent.append(ref.key)
            continue
        tables[ref.key] = Pin(table.version(), table.metadata().id)
    return LakeVersions(lake=settings.lake, tables=tables, absent=tuple(absent))


def open_pinned(location: str, pin: Pin, what: str, storage_options: dict | None = None) -> DeltaTable:
    """The table at ``location`` at its pinned version, the same table (id) and whole."""
    from deltalake import DeltaTable
    from deltalake.exceptions import DeltaError, TableNotFoundError

    ref = TableRef.parse(what)
    try:
        table = DeltaTable(location, version=pin.version, storage_options=storage_options)
    except TableNotFoundError:
        raise TimeTravelError(f"{ref} is no longer in the lake ({location})") from None
    except DeltaError as error:
        raise TimeTravelError(f"{ref} version {pin.version} cannot be loaded: {HORIZON}. ({error})") from None
    if table.metadata().id != pin.table_id:
        raise TimeTravelError(
            f"{ref} at {location} is another table than the one pinned (Delta table id "
            f"{table.metadata().id}, pinned {pin.table_id}): it was dropped and created again, "
            "so its version numbers started over"
        )
    check_whole(table, ref)
    return table


def check_pinned(settings: Settings, versions: LakeVersions) -> None:
    """Every pinned table of ``versions`` is readable at its version in ``settings``' lake."""
    for key, pin in versions.tables.items():
        layer, name = key.split("/", 1)
        open_pinned(table_uri(settings, layer, name), pin, f"{layer}.{name}")


# ---------------------------------------------------------------- reading as of a version


class LakeQueryError(ValueError):
    """A filter the query engine rejects (bad SQL, an unknown column)."""


@dataclass(frozen=True)
class Rows:
    """What a read as of a version returned, and which version it read."""

    ref: TableRef
    version: int
    columns: list[str]
    rows: list[tuple]


def read_as_of(
    settings: Settings,
    ref: TableRef,
    *,
    version: int | None = None,
    moment: datetime | None = None,
    where: str | None = None,
    limit: int | None = None,
    count: bool = False,
) -> Rows:
    """``ref`` as it stood at ``version`` or at ``moment`` (neither: now), through DuckDB over
    the version's Arrow batches: the rows matching ``where`` (a DuckDB SQL condition on the
    table's columns), at most ``limit`` of them, or with ``count`` their number alone."""
    import duckdb

    if version is not None and moment is not None:
        raise TimeTravelError("read a table at a version or at a moment, not both")
    if moment is not None:
        version = version_at(settings, ref, moment)
    table = open_table(settings, ref, version)
    read_version = table.version()
    sql = f'select {"count(*) as rows" if count else "*"} from "{ref.name}"'
    if where:
        sql += f" where ({where})"
    if limit is not None and not count:
        sql += f" limit {int(limit)}"
    with duckdb.connect() as con:
        con.execute("set TimeZone = 'UTC'")
        # A stream of the version's batches, not the dataset: DuckDB would push --where into
        # pyarrow's scanner, which cannot compare the string_view columns of files delta-rs
        # rewrote (MERGE, DELETE) with a string literal.
        con.register(ref.name, table.to_pyarrow_dataset().scanner().to_reader())
        try:
            cursor = con.execute(sql)
            columns = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
        except duckdb.Error as error:
            if _MISSING_OBJECT.search(str(error)):
                raise read_error(ref, read_version, error) from None
            raise LakeQueryError(f"{ref} version {read_version}: {error}") from None
    return Rows(ref, read_version, columns, rows)

"""Erasure of one resident: every row carrying their tokens removed, the files that held them
deleted, and proof that no file under the data folder still holds them.

An operator names the resident by what they have in hand — national ID number, phone
numbers — and :class:`ErasureRequest` turns them into tokens with the PII key, so no one
handles tokens (``--token`` exists for a token a report already shows). Then:

1. every Delta table of the lake (every layer, found by its log) and every Delta table
   beside it under the data folder (the dbt spark target's warehouse) is searched for rows
   whose text (any string column; nested columns as JSON) contains a token: token columns,
   and free text where residents' numbers were replaced by tokens;
2. each table that holds one stops collecting statistics on personal columns (the Delta log
   keeps each file's min and max, which would hold the token), then loses those rows in a
   MERGE … WHEN MATCHED THEN DELETE whose source holds the tokens: the commit records its
   condition, never a token, where a DELETE predicate would write the literal into the log;
3. those tables are vacuumed with zero hours of retention (Delta's check is disabled for
   that call only), so the files that held the rows are gone — and with them all of the
   table's older versions: time travel ends at the erasure;
4. where the table's log still holds a token (statistics written before step 2), a
   checkpoint is written at the latest version and the older commits and checksums are
   removed, as Delta's own log cleanup would after its retention;
5. DuckDB files under the data folder (the last good marts build holds staging and
   intermediate models with person-level rows) are rewritten without those rows, from a
   copy, so no freed page keeps them;
6. every file under the data folder and the lake is read — Parquet decoded column by
   column, every other file as bytes, DuckDB files queried — for the tokens and for their
   first characters (statistics keep 32 characters of a string): success is reported only
   when none is found.

``state.erasure_requests`` keeps the audit: request id, when, the reason, which kinds of
identifier were given and how many, the tables and rows removed, the files deleted. Never
the token, nor anything computed from it. A request stopped part-way (between the delete
and the vacuum) is completed by running it again: step 1 finds no rows, but the files still
holding tokens name the tables to vacuum.

Run it while no job writes the lake (between daily runs): a zero-hour VACUUM deletes files a
running job may still be reading. Erasure acts on the lake only. Source systems keep their own records: the next extract of a
registry that still lists the resident brings them back, so the request must also reach the
source system's owner.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import uuid
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from civiclake.lake.retention import LakeTable, lake_tables, protect_personal_columns, vacuum_table
from civiclake.lake.runs import append_state, state_path
from civiclake.lake.writes import table_exists
from civiclake.pii import TOKEN_KINDS, is_token, personal_numbers_in, tokenise
from civiclake.settings import Settings

log = logging.getLogger(__name__)

AUDIT_TABLE = "erasure_requests"
# Append-only: one row each time a request reaches a step (rows deleted, completed or not);
# the latest row of a request is where it stands, the earlier ones how it got there.
AUDIT_SCHEMA = (
    "request_id string not null, requested_at timestamp not null, recorded_at timestamp not null, "
    "reason string not null, identifiers string not null, status string not null, "
    "tables string not null, rows_removed bigint not null, data_files_removed bigint not null, "
    "log_files_removed bigint not null, other_files_rewritten string not null"
)
# Delta keeps the first 32 characters of a string as a file's min or max: a token's kind
# prefix and 16 hex digits (64 bits: no other resident's token shares them) are searched too.
_PREFIX_HEX = 16
_RETENTION_CHECK = "spark.databricks.delta.retentionDurationCheck.enabled"
_ID_FORM = re.compile(r"^\d{17}[\dX]$")
_LOG_VERSION = re.compile(r"^(\d{20})\.")


class ErasureRequestError(ValueError):
    """An erasure request that cannot be carried out as given."""


class ErasureIncompleteError(RuntimeError):
    """Files still hold a token after the erasure: it is not reported as done."""


@dataclass(frozen=True)
class ErasureRequest:
    """Whom to erase, as the operator knows them, and why."""

    reason: str
    id_numbers: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    tokens: tuple[str, ...] = ()

    def __post_init__(self):
        if not (self.id_numbers or self.phones or self.tokens):
            raise ErasureRequestError("name the resident: --id-number, --phone or --token (each may repeat)")
        reason = self.reason.strip()
        if not reason:
            raise ErasureRequestError("--reason is required: the audit record says why the data was erased")
        if personal_numbers_in(reason) or any(
            is_token(w, k) for w in re.findall(r"\w+", reason) for k in TOKEN_KINDS
        ):
            raise ErasureRequestError(
                "--reason holds an ID number, a phone number or a token: the audit record keeps the "
                "reason and must not identify the resident. Give the case or ticket number instead."
            )
        for number in self.id_numbers:
            if not _ID_FORM.match("".join(number.split()).upper()):
                raise ErasureRequestError(
                    "an --id-number given is not 18 characters (17 digits and a digit or X); check it"
                )
        for phone in self.phones:
            if not 7 <= len(re.sub(r"\D", "", phone)) <= 15:
                raise ErasureRequestError("a --phone given does not have 7 to 15 digits; check it")
        for token in self.tokens:
            if not any(is_token(token, kind) for kind in TOKEN_KINDS):
                raise ErasureRequestError(
                    "a --token given is not a civiclake token (id_/phone_/name_ and 32 hex digits)"
                )

    def token_values(self, key: bytes) -> list[str]:
        """The tokens the lake holds for the resident: an ID number's; a phone's as written in
        a column and as free text's scrubbing gives it (digits only, without +86)."""
        values = [tokenise(n, "id_number", key) for n in self.id_numbers]
        for phone in self.phones:
            values.append(tokenise(phone, "phone", key))
            digits = re.sub(r"\D", "", phone)
            values.append(
                tokenise(
                    digits[2:] if digits.startswith("86") and len(digits) == 13 else digits, "phone", key
                )
            )
        values += list(self.tokens)
        return sorted(set(v for v in values if v))

    def described(self) -> str:
        """What the request named, without the values: ``id_number×1, phone×2``."""
        counts = {"id_number": len(self.id_numbers), "phone": len(self.phones), "token": len(self.tokens)}
        return ", ".join(f"{kind}×{n}" for kind, n in counts.items() if n)


def needles_of(tokens: Iterable[str]) -> list[bytes]:
    """What a file must not contain: each token and its first characters (kind prefix and
    16 hex digits), which is what a truncated statistic would keep."""
    found = set()
    for token in tokens:
        prefix, _, digest = token.partition("_")
        found.add(f"{prefix}_{digest[:_PREFIX_HEX]}".encode())
    return sorted(found)


# --- Finding what holds a token ---------------------------------------------------------------


def _contains_needle(data: bytes, needles: list[bytes]) -> bool:
    return any(n in data for n in needles)


def _arrow_arrays_hold(array, needles: list[str]) -> bool:
    """Whether any string in an Arrow array (nested ones searched inside) contains a needle."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(array, pa.ChunkedArray):
        return any(_arrow_arrays_hold(chunk, needles) for chunk in array.chunks)
    kind = array.type
    if pa.types.is_dictionary(kind):
        return _arrow_arrays_hold(array.dictionary, needles)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return any(pc.any(pc.match_substring(array, n)).as_py() for n in needles)
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        return any(_contains_needle(v, [n.encode() for n in needles]) for v in array.to_pylist() if v)
    if pa.types.is_struct(kind):
        return any(_arrow_arrays_hold(array.field(i), needles) for i in range(kind.num_fields))
    if pa.types.is_map(kind):
        return _arrow_arrays_hold(array.keys, needles) or _arrow_arrays_hold(array.items, needles)
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return _arrow_arrays_hold(array.flatten(), needles)
    return False


def parquet_holds(path: Path, needles: list[bytes]) -> bool:
    """Every column of a Parquet file decoded (compressed pages hide text from a byte search)."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    texts = [n.decode() for n in needles]
    return any(_arrow_arrays_hold(column, texts) for column in table.columns)


def duckdb_holds(path: Path, needles: list[bytes]) -> list[str]:
    """The tables (``schema.table``) of a DuckDB file with a text column containing a needle."""
    import duckdb

    found = []
    with duckdb.connect(str(path), read_only=True) as con:
        for schema, table, columns in _duckdb_text_columns(con):
            if con.execute(
                f'select count(*) from "{schema}"."{table}" where {_duckdb_match(columns, needles)}'
            ).fetchall()[0][0]:
                found.append(f"{schema}.{table}")
    return found


def _duckdb_text_columns(con, catalog: str | None = None) -> list[tuple[str, str, list[str]]]:
    where = f"and database_name = '{catalog}'" if catalog else "and database_name = current_database()"
    rows = con.execute(
        "select schema_name, table_name, column_name, data_type from duckdb_columns() "
        f"where not internal {where} and table_name in "
        f"(select table_name from duckdb_tables() where not internal {where}) order by all"
    ).fetchall()
    tables: dict[tuple[str, str], list[str]] = {}
    for schema, table, column, data_type in rows:
        texts = tables.setdefault((schema, table), [])
        if data_type == "VARCHAR":
            texts.append(f'"{column}"')
        elif data_type.startswith(("STRUCT", "MAP", "UNION", "JSON")) or data_type.endswith("]"):
            texts.append(f'cast("{column}" as varchar)')
    return [(s, t, cols) for (s, t), cols in tables.items() if cols]


def _duckdb_match(columns: list[str], needles: list[bytes]) -> str:
    return " or ".join(f"contains(coalesce({c}, ''), '{n.decode()}')" for c in columns for n in needles)


def file_holds(path: Path, needles: list[bytes]) -> bool:
    """A file's bytes, and for Parquet and DuckDB files their decoded values, hold a needle."""
    with path.open("rb") as f:
        tail = b""
        for block in iter(lambda: f.read(1 << 22), b""):
            if _contains_needle(tail + block, needles):
                return True
            tail = block[-64:]
    if path.suffix == ".parquet":
        return parquet_holds(path, needles)
    if path.suffix == ".duckdb":
        return bool(duckdb_holds(path, needles))
    return False


def _scan_roots(settings: Settings) -> list[Path]:
    roots = [Path(settings.data_dir).resolve()]
    for other in (Path(settings.lake).resolve(), Path(settings.marts).resolve()):
        if not any(other.is_relative_to(root) for root in roots):
            roots.append(other)
    return roots


def files_holding(settings: Settings, needles: list[bytes]) -> list[Path]:
    """Every file under the data folder (and the lake and marts, where they lie elsewhere) that
    holds a needle. The Spark jars are skipped: they come from Maven, not from data."""
    jars = Path(settings.jars).resolve()
    found = []
    for root in _scan_roots(settings):
        if not root.exists():
            continue
        for path in sorted(root.rglob("*")):
            if path.is_symlink() or not path.is_file() or path.resolve().is_relative_to(jars):
                continue
            try:
                if file_holds(path, needles):
                    found.append(path)
            except Exception as error:  # unreadable (locked, damaged): it cannot be proved clean
                log.warning("erasure: %s could not be read (%s); counted as holding a token", path, error)
                found.append(path)
    return found


def delta_tables(settings: Settings) -> list[LakeTable]:
    """Every Delta table the erasure searches: the lake's, every layer, and any other Delta
    table under the data folder (the dbt spark target's warehouse), but not the audit table."""
    tables = {str(Path(t.path).resolve()): t for t in lake_tables(settings, None)}
    data_dir = Path(settings.data_dir).resolve()
    for log_dir in sorted(data_dir.rglob("_delta_log")) if data_dir.is_dir() else []:
        path = str(log_dir.parent.resolve())
        if log_dir.is_dir() and path not in tables:
            tables[path] = LakeTable("other", str(log_dir.parent.relative_to(data_dir)), path)
    tables.pop(str(Path(state_path(settings, AUDIT_TABLE)).resolve()), None)
    return [t for _, t in sorted(tables.items())]


# --- The rows ----------------------------------------------------------------------------------------


def carries_condition(schema) -> str | None:
    """A MERGE condition true for a target row (alias ``t``) whose text contains one of the
    source's tokens (``s.tokens``): string columns as they are, nested ones as JSON. None
    when the table has no column that could hold one."""
    from pyspark.sql import types as T

    tests = []
    for f in schema.fields:
        column = "t.`" + f.name.replace("`", "``") + "`"
        if isinstance(f.dataType, T.StringType):
            tests.append(f"instr({column}, x) > 0")
        elif isinstance(f.dataType, (T.StructType, T.ArrayType, T.MapType)):
            tests.append(f"instr(to_json({column}), x) > 0")
    if not tests:
        return None
    return f"exists(s.tokens, x -> {' or '.join(tests)})"


def delete_rows(spark, table: LakeTable, tokens: list[str]) -> int:
    """Deletes the rows of ``table`` that carry a token; returns how many. The commit holds the
    MERGE's condition and its counts, not the tokens (they live in the source DataFrame)."""
    from delta.tables import DeltaTable

    target = DeltaTable.forPath(spark, table.path)
    rows = target.toDF()
    condition = carries_condition(rows.schema)
    if condition is None:
        return 0
    # Counted in a query (never written anywhere) with the tokens as literals.
    literal = "array(" + ", ".join(f"'{t}'" for t in tokens) + ")"
    matched = rows.alias("t").where(condition.replace("s.tokens", literal)).count()
    if not matched:
        return 0
    protect_personal_columns(spark, table)
    source = spark.createDataFrame([(tokens,)], "tokens array<string>")
    target = DeltaTable.forPath(spark, table.path)  # as the new properties left it
    target.alias("t").merge(source.alias("s"), condition).whenMatchedDelete().execute()
    log.info("erasure: %s: %d row(s) deleted", table.qualified, matched)
    return matched


@contextmanager
def _zero_hour_vacuum_allowed(spark):
    """Delta's check against VACUUM below 7 days, disabled for the erasure's own calls only."""
    previous = spark.conf.get(_RETENTION_CHECK, None)
    spark.conf.set(_RETENTION_CHECK, "false")
    try:
        yield
    finally:
        if previous is None:
            spark.conf.unset(_RETENTION_CHECK)
        else:
            spark.conf.set(_RETENTION_CHECK, previous)


def vacuum_now(spark, table: LakeTable, needles: list[bytes]) -> int:
    """VACUUM with no history kept: the files the deleted rows were in are gone. Returns the
    data files deleted. A data file still holding a token after that (one no commit referenced,
    left by a failed write) calls for a VACUUM that lists the whole folder."""
    with _zero_hour_vacuum_allowed(spark):
        before, after = vacuum_table(spark, table, 0)
        if any(file_holds(p, needles) for p in _data_files(table)):
            after = vacuum_table(spark, table, 0, full=True)[1]
    log.info("erasure: %s vacuumed with zero hours: %d data file(s) deleted", table.qualified, before - after)
    return before - after


def _data_files(table: LakeTable) -> list[Path]:
    root = Path(table.path)
    return sorted(p for p in root.rglob("*") if p.is_file() and "_delta_log" not in p.relative_to(root).parts)


def _log_files(table: LakeTable) -> list[Path]:
    return sorted(p for p in (Path(table.path) / "_delta_log").rglob("*") if p.is_file())


def purge_log_before_checkpoint(spark, table: LakeTable) -> int:
    """A checkpoint at the table's latest version, then every commit, checkpoint and checksum
    of older versions removed (what Delta's log cleanup does once they pass its retention).
    Returns the log files removed."""
    delta_log = spark._jvm.org.apache.spark.sql.delta.DeltaLog.forTable(spark._jsparkSession, table.path)
    delta_log.checkpoint()
    last = json.loads((Path(table.path) / "_delta_log" / "_last_checkpoint").read_text(encoding="utf-8"))
    version = int(last["version"])
    removed = 0
    for path in _log_files(table):
        match = _LOG_VERSION.match(path.name.lstrip("."))
        if match and int(match.group(1)) < version:
            path.unlink()
            removed += 1
    log.info("erasure: %s: log before version %d removed (%d files)", table.qualified, version, removed)
    return removed


# --- DuckDB files -------------------------------------------------------------------------------------


def rewrite_duckdb_without(path: Path, needles: list[bytes]) -> int:
    """Rewrites a DuckDB file without the rows holding a needle: the rows are deleted in a
    copy, and the copy's content is written into a fresh file (deleted rows may stay in freed
    pages) that replaces the original by rename. Returns the rows removed."""
    import duckdb

    work = path.with_name(f".{path.name}.erasing")
    fresh = path.with_name(f".{path.name}.erased")
    for leftover in (work, fresh):
        leftover.unlink(missing_ok=True)
    shutil.copy2(path, work)
    removed = 0
    try:
        with duckdb.connect() as con:
            con.execute(f"attach '{work}' as work")
            for schema, table, columns in _duckdb_text_columns(con, "work"):
                removed += con.execute(
                    f'delete from work."{schema}"."{table}" where {_duckdb_match(columns, needles)}'
                ).fetchall()[0][0]
            con.execute(f"attach '{fresh}' as fresh")
            con.execute("copy from database work to fresh")
            con.execute("detach fresh")
            con.execute("detach work")
        os.chmod(fresh, path.stat().st_mode & 0o777)
        os.replace(fresh, path)
    finally:
        work.unlink(missing_ok=True)
        Path(f"{work}.wal").unlink(missing_ok=True)
        fresh.unlink(missing_ok=True)
    log.info("erasure: %s rewritten without %d row(s)", path, removed)
    return removed


# --- The request -----------------------------------------------------------------------------------


@dataclass
class ErasureResult:
    request_id: str
    rows_by_table: dict[str, int] = field(default_factory=dict)
    data_files_removed: int = 0
    log_files_removed: int = 0
    rewritten: dict[str, int] = field(default_factory=dict)  # other files (DuckDB): rows removed
    remaining: list[str] = field(default_factory=list)  # files still holding a token

    @property
    def rows_removed(self) -> int:
        return sum(self.rows_by_table.values()) + sum(self.rewritten.values())

    def summary(self) -> str:
        tables = ", ".join(f"{t} {n}" for t, n in sorted(self.rows_by_table.items())) or "none"
        return (
            f"erasure {self.request_id}: rows removed by table: {tables}; {self.data_files_removed} data "
            f"file(s) and {self.log_files_removed} log file(s) deleted; other files rewritten: "
            f"{', '.join(f'{p} ({n} rows)' for p, n in sorted(self.rewritten.items())) or 'none'}"
        )


def _audit(
    spark, settings: Settings, request: ErasureRequest, result: ErasureResult, started: datetime, status: str
) -> None:
    row = (
        result.request_id,
        started,
        datetime.now(),  # a record of when, not a decision
        request.reason.strip(),
        request.described(),
        status,
        json.dumps(dict(sorted(result.rows_by_table.items())), ensure_ascii=False),
        result.rows_removed,
        result.data_files_removed,
        result.log_files_removed,
        json.dumps(dict(sorted(result.rewritten.items())), ensure_ascii=False),
    )
    append_state(spark, settings, AUDIT_TABLE, AUDIT_SCHEMA, [row])


def _resumed(spark, settings: Settings, request_id: str) -> tuple[ErasureResult, datetime]:
    """The request's result so far and when it was first made: what an earlier run of the same
    request recorded (it stopped part-way), or a new request now."""
    previous = audit_rows(spark, settings, request_id)
    if not previous:
        return ErasureResult(request_id), datetime.now()  # a record of when, not a decision
    row = previous[-1]
    result = ErasureResult(
        request_id,
        rows_by_table=json.loads(row.tables or "{}"),
        data_files_removed=row.data_files_removed or 0,
        log_files_removed=row.log_files_removed or 0,
        rewritten=json.loads(row.other_files_rewritten or "{}"),
    )
    log.info("erasure %s: resuming a request first made at %s (%s)", request_id, row.requested_at, row.status)
    return result, row.requested_at


def erase(
    spark,
    settings: Settings,
    request: ErasureRequest,
    *,
    request_id: str | None = None,
) -> ErasureResult:
    """Carries out ``request`` (see the module's description). Raises
    :class:`ErasureIncompleteError`, naming the files, when any file still holds a token; the
    audit then says ``incomplete``. ``request_id`` of a request stopped part-way resumes it."""
    if "://" in settings.lake:
        raise ErasureRequestError(
            f"the lake is at {settings.lake}: an erasure proves its result by reading every file, "
            "which this command does on a local lake only"
        )
    tokens = request.token_values(settings.require_pii_key())
    needles = needles_of(tokens)
    result, started = _resumed(spark, settings, request_id or uuid.uuid4().hex)

    holding = files_holding(settings, needles)
    tables = delta_tables(settings)
    touched = []
    for table in tables:
        rows = delete_rows(spark, table, tokens)
        in_files = any(p.is_relative_to(Path(table.path).resolve()) for p in holding)
        if rows:
            result.rows_by_table[table.qualified] = result.rows_by_table.get(table.qualified, 0) + rows
        if rows or in_files:
            touched.append(table)
    # Recorded before the files go: a request stopped from here on is completed by a rerun.
    _audit(spark, settings, request, result, started, "rows deleted; files not yet vacuumed")
    for table in touched:
        result.data_files_removed += vacuum_now(spark, table, needles)
        if any(file_holds(p, needles) for p in _log_files(table)):
            result.log_files_removed += purge_log_before_checkpoint(spark, table)
    table_roots = [Path(t.path).resolve() for t in tables]
    for path in holding:
        if (
            path.suffix == ".duckdb"
            and path.exists()
            and not any(path.is_relative_to(r) for r in table_roots)
        ):
            result.rewritten[str(path)] = rewrite_duckdb_without(path, needles)

    result.remaining = [str(p) for p in files_holding(settings, needles)]
    if result.remaining:
        _audit(
            spark,
            settings,
            request,
            result,
            started,
            f"incomplete: {len(result.remaining)} file(s) still hold a token",
        )
        raise ErasureIncompleteError(
            f"erasure {result.request_id} is NOT complete: {len(result.remaining)} file(s) still hold the "
            f"resident's token: {', '.join(result.remaining)}. Nothing reported as done; remove or "
            "rewrite those files, then run the same request again (--request-id "
            f"{result.request_id})."
        )
    _audit(spark, settings, request, result, started, "completed")
    log.info(result.summary())
    return result


def audit_rows(spark, settings: Settings, request_id: str | None = None) -> list:
    """The audit records (one request's, or all)."""
    path = state_path(settings, AUDIT_TABLE)
    if not table_exists(spark, path):
        return []
    df = spark.read.format("delta").load(path)
    if request_id is not None:
        df = df.where(df.request_id == request_id)
    return df.orderBy("recorded_at").collect()

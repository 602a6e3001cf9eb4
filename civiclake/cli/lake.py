"""``civiclake lake``: the lake's tables through time — a table's versions, and the table as
it stood at a version or a moment. delta-rs and DuckDB read the Delta log and files
directly, so no command here starts a JVM."""

from __future__ import annotations

import csv
import json
import sys
from datetime import UTC, datetime
from enum import StrEnum

import typer
from rich.console import Console
from rich.table import Table

from civiclake.cli.common import console, fail
from civiclake.settings import get_settings

app = typer.Typer(
    help="Lake tables through time: a table's history, and reads as of a version or a time.",
    no_args_is_help=True,
)

TableArgument = typer.Argument(..., help="The table as layer.name, e.g. silver.governance_cases.")


class HistoryFormat(StrEnum):
    table = "table"
    json = "json"


class RowsFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


HistoryFormatOption = typer.Option(HistoryFormat.table, "--format", help="table or json.")
RowsFormatOption = typer.Option(RowsFormat.table, "--format", help="table, csv or json.")


def _moment(value: str) -> datetime:
    """``--as-of`` as a UTC moment: ISO 8601, an offset optional (none: UTC)."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"--as-of must be an ISO 8601 time such as 2026-11-25T08:00:00 (UTC) or "
            f"2026-11-25T16:00:00+08:00, got {value!r}"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


@app.command("history")
def history(
    table: str = TableArgument,
    limit: int = typer.Option(None, "--limit", min=1, help="Only the newest N versions."),
    output: HistoryFormat = HistoryFormatOption,
) -> None:
    """The versions of a table, newest first: when, which operation, the rows it wrote,
    updated and deleted, and the batch (logical date) it replaced where the commit says so.
    Times are UTC."""
    from civiclake.lake.history import TableRef, TimeTravelError, table_history

    try:
        commits = table_history(get_settings(), TableRef.parse(table), limit)
    except TimeTravelError as error:
        fail(error)
    if output is HistoryFormat.json:
        typer.echo(json.dumps([c.as_dict() for c in commits], ensure_ascii=False, indent=2))
        return
    view = Table(title=f"{table}: {len(commits)} version{'' if len(commits) == 1 else 's'} (times UTC)")
    for name in ("version", "time", "operation", "written", "updated", "deleted", "batch"):
        view.add_column(
            name, justify="right" if name in ("version", "written", "updated", "deleted") else "left"
        )
    for c in commits:
        view.add_row(
            str(c.version),
            c.timestamp.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
            c.operation,
            *(_cell(n) for n in (c.rows_written, c.rows_updated, c.rows_deleted)),
            c.batch_date or "",
        )
    Console(width=max(120, Console().width)).print(view)


@app.command("show")
def show(
    table: str = TableArgument,
    version: int = typer.Option(None, "--version", min=0, help="Read the table at this version."),
    as_of: str = typer.Option(
        None, "--as-of", help="Read the table as it stood at this time (ISO 8601; no offset: UTC)."
    ),
    where: str = typer.Option(None, "--where", help="Only rows matching this DuckDB SQL condition."),
    limit: int = typer.Option(20, "--limit", min=0, help="At most this many rows (0: all)."),
    count: bool = typer.Option(False, "--count", help="Print the number of matching rows only."),
    output: RowsFormat = RowsFormatOption,
) -> None:
    """A table's rows now, at --version N or --as-of a time. Which version was read goes to
    stderr; the rows to stdout."""
    from civiclake.lake.history import LakeQueryError, TableRef, TimeTravelError, read_as_of

    if version is not None and as_of is not None:
        raise typer.BadParameter("give --version or --as-of, not both")
    moment = _moment(as_of) if as_of is not None else None
    try:
        result = read_as_of(
            get_settings(),
            TableRef.parse(table),
            version=version,
            moment=moment,
            where=where,
            limit=limit or None,
            count=count,
        )
    except (TimeTravelError, LakeQueryError) as error:
        fail(error)
    console.print(f"{table} at version {result.version}", highlight=False)
    if count:
        rows = result.rows[0][0]
        typer.echo(
            json.dumps({"table": table, "version": result.version, "rows": rows})
            if output is RowsFormat.json
            else rows
        )
        return
    if output is RowsFormat.json:
        records = [dict(zip(result.columns, row, strict=True)) for row in result.rows]
        typer.echo(json.dumps(records, ensure_ascii=False, indent=2, default=_cell))
    elif output is RowsFormat.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows([_cell(v) for v in row] for row in result.rows)
    else:
        view = Table(title=f"{table} version {result.version}: {len(result.rows)} rows")
        for column in result.columns:
            view.add_column(column)
        for row in result.rows:
            view.add_row(*(_cell(v) for v in row))
        Console().print(view)

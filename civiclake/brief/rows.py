"""The rows a brief is made of: one area's row of mart_leader_brief_daily for the day.

A brief is built from its own area's row only, selected by level and area code in the
query, so no other area's numbers are ever in memory beside it.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from civiclake.brief.recipients import BriefError, Recipient

TABLE = "mart_leader_brief_daily"
LEVELS = ("district", "street", "community")


class MartsNotReadyError(BriefError):
    """The published marts lack the table or the day: no brief can go out."""


def connect(marts_file: Path) -> duckdb.DuckDBPyConnection:
    if not marts_file.exists():
        raise MartsNotReadyError(
            f"{marts_file}: no published marts file; build and publish the marts first "
            "(`civiclake marts build --date D`)"
        )
    con = duckdb.connect(str(marts_file), read_only=True)
    tables = {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}
    if TABLE not in tables:
        con.close()
        raise MartsNotReadyError(f"{marts_file}: no table {TABLE}; the marts were built without it")
    return con


def known_areas(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, str]]:
    """Every area of the mart, on any day: level -> {area_code: area_name}."""
    areas: dict[str, dict[str, str]] = {level: {} for level in LEVELS}
    for level, code, name in con.execute(
        f"select distinct level, area_code, area_name from {TABLE} order by level, area_code"
    ).fetchall():
        areas.setdefault(level, {})[code] = name
    return areas


def require_day(con: duckdb.DuckDBPyConnection, day: date, marts_file: Path) -> None:
    (rows,) = con.execute(f"select count(*) from {TABLE} where report_date = ?", [day]).fetchall()[0]
    if rows == 0:
        (latest,) = con.execute(f"select max(report_date) from {TABLE}").fetchall()[0]
        raise MartsNotReadyError(
            f"{marts_file}: {TABLE} has no rows for {day} (latest day: {latest}); "
            f"publish the marts for {day} before sending its brief"
        )


def area_row(con: duckdb.DuckDBPyConnection, day: date, recipient: Recipient) -> dict:
    """The recipient's own area's row of the day, as column -> value."""
    cursor = con.execute(
        f"select * from {TABLE} where report_date = ? and level = ? and area_code = ?",
        [day, recipient.level, recipient.area_code],
    )
    columns = [d[0] for d in cursor.description]
    rows = cursor.fetchall()
    if len(rows) != 1:
        raise BriefError(
            f"{TABLE} has {len(rows)} rows for {recipient.level} {recipient.area_code} on {day} "
            f"(user {recipient.username!r}); expected exactly 1"
        )
    return dict(zip(columns, rows[0], strict=True))

"""Two marts files compared table by table: the check that a change to the pipeline left
the published marts as they were (the same tables, the same columns in the same order with
the same types, the same rows as multisets)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb


@dataclass(frozen=True)
class TableDiff:
    table: str  # schema.table
    rows: tuple[int | None, int | None]  # rows before, after (None: no such table)
    only_before: int = 0  # rows (with multiplicity) the after file lacks
    only_after: int = 0
    columns_differ: bool = False

    @property
    def same(self) -> bool:
        return None not in self.rows and not self.columns_differ and self.only_before == self.only_after == 0

    def __str__(self) -> str:
        before, after = self.rows
        if before is None or after is None:
            return f"{self.table}: only in the {'after' if before is None else 'before'} file"
        if self.columns_differ:
            return f"{self.table}: columns differ (names, order or types)"
        if self.same:
            return f"{self.table}: {before} rows"
        return f"{self.table}: {before} vs {after} rows, {self.only_before} only before, {self.only_after} only after"


def _columns(con, alias: str) -> dict[str, list[tuple[str, str]]]:
    rows = con.execute(
        "select schema_name, table_name, column_name, data_type from duckdb_columns() "
        "where database_name = ? order by schema_name, table_name, column_index",
        [alias],
    ).fetchall()
    tables: dict[str, list[tuple[str, str]]] = {}
    for schema, table, column, data_type in rows:
        tables.setdefault(f'"{schema}"."{table}"', []).append((column, data_type))
    return tables


def _count(con, sql: str) -> int:
    return con.execute(f"select count(*) from ({sql})").fetchall()[0][0]


def compare(before: Path, after: Path) -> list[TableDiff]:
    """One result per table of either file, in name order."""
    for path in (before, after):
        if not Path(path).is_file():
            raise FileNotFoundError(f"no marts file at {path}")
    con = duckdb.connect()
    con.execute("attach ? as a (read_only)", [str(before)])
    con.execute("attach ? as b (read_only)", [str(after)])
    left, right = _columns(con, "a"), _columns(con, "b")
    diffs = []
    for table in sorted(set(left) | set(right)):
        name = table.replace('"', "")
        rows = (
            _count(con, f"select * from a.{table}") if table in left else None,
            _count(con, f"select * from b.{table}") if table in right else None,
        )
        if None in rows:
            diffs.append(TableDiff(name, rows))
        elif left[table] != right[table]:
            diffs.append(TableDiff(name, rows, columns_differ=True))
        else:
            diffs.append(
                TableDiff(
                    name,
                    rows,
                    only_before=_count(con, f"select * from a.{table} except all select * from b.{table}"),
                    only_after=_count(con, f"select * from b.{table} except all select * from a.{table}"),
                )
            )
    return diffs

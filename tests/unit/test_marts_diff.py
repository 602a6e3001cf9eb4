"""`civiclake marts diff`: two marts files are the same only when every table has the same
columns (names, order, types) and the same rows, duplicates counted."""

from __future__ import annotations

import duckdb
import pytest
from typer.testing import CliRunner

from civiclake.cli import app
from civiclake.marts_diff import compare

MART = "create table mart_x (report_date date, area_code varchar, cases bigint, rate double)"
ROWS = [
    ("2026-11-25", "440309006", 5, 0.8),
    ("2026-11-25", "440309004", 3, 1.0),
    ("2026-11-25", "440309004", 3, 1.0),  # a repeated row counts twice
]


def marts_file(path, ddl=MART, rows=ROWS, extra=None):
    with duckdb.connect(str(path)) as con:
        con.execute(ddl)
        con.executemany("insert into mart_x values (?, ?, ?, ?)", rows)
        con.execute("create table mart_y as select 1 as n")
        if extra:
            con.execute(extra)
    return path


def run(before, after):
    return CliRunner().invoke(app, ["marts", "diff", str(before), str(after)])


def test_identical_files_are_the_same(tmp_path):
    result = run(marts_file(tmp_path / "a.duckdb"), marts_file(tmp_path / "b.duckdb"))
    assert result.exit_code == 0, result.output
    assert "2 tables, 0 different" in result.output


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        # One value 1e-12 off: not the same number.
        ({"rows": [*ROWS[:2], ("2026-11-25", "440309004", 3, 1.0 - 1e-12)]}, "1 only before, 1 only after"),
        # A duplicate row lost: the multiset differs though the distinct rows agree.
        ({"rows": ROWS[:2]}, "3 vs 2 rows, 1 only before, 0 only after"),
        ({"ddl": MART.replace("cases bigint", "cases integer")}, "columns differ"),
        (
            {
                "ddl": MART.replace("cases bigint, rate double", "rate double, cases bigint"),
                "rows": [(d, a, r, c) for d, a, c, r in ROWS],
            },
            "columns differ",
        ),
        ({"extra": "create table mart_z as select 1 as n"}, "mart_z: only in the after file"),
    ],
    ids=["value", "duplicate", "type", "order", "new-table"],
)
def test_any_difference_is_named_and_fails(tmp_path, after, expected):
    result = run(marts_file(tmp_path / "a.duckdb"), marts_file(tmp_path / "b.duckdb", **after))
    assert result.exit_code == 1
    assert expected in result.output
    assert "1 different" in result.output


def test_a_missing_file_is_named(tmp_path):
    result = run(marts_file(tmp_path / "a.duckdb"), tmp_path / "absent.duckdb")
    assert result.exit_code == 1
    assert "absent.duckdb" in result.output


def test_compare_reports_every_table_of_either_file(tmp_path):
    diffs = compare(
        marts_file(tmp_path / "a.duckdb"),
        marts_file(tmp_path / "b.duckdb", extra="create table t as select 1 as n"),
    )
    assert [d.table for d in diffs] == ["main.mart_x", "main.mart_y", "main.t"]
    assert [d.same for d in diffs] == [True, True, False]

"""The district's headline from the leader brief, read from a DuckDB file made here, and
the logical-date variables of a marts build."""

from __future__ import annotations

import json
from datetime import date

import duckdb

from civiclake import marts
from civiclake.summary import HEADLINE_COLUMNS, district_headline, headline_lines

DAY = date(2026, 11, 25)
COUNTS = {"cases_reported", "closures", "backlog_open", "overdue_open"}


def _brief(path) -> None:
    changes = [f"{c}_change_{p}" for c in HEADLINE_COLUMNS for p in ("1d", "7d")]
    columns = ["report_date date", "level varchar", "area_name varchar"]
    columns += [
        f"{c} {'double' if c.endswith(('_rate', '_avg')) or c == 'score' else 'bigint'}"
        for c in HEADLINE_COLUMNS
    ]
    columns += [f"{c} {'bigint' if c.split('_change_')[0] in COUNTS else 'double'}" for c in changes]
    with duckdb.connect(str(path)) as con:
        con.execute(f"create table mart_leader_brief_daily ({', '.join(columns)})")
        values = [DAY, "district", "龙华区", 612, 580, 2410, 37, 0.951, 0.884, 4.32, 1.0213]
        values += [12, -30, 20, 5, 100, -90, 3, -4, 0.01, -0.02, 0.004, 0.0, 0.05, None, 0.0213, 0.1]
        con.execute(f"insert into mart_leader_brief_daily values ({', '.join(['?'] * len(values))})", values)
        con.execute(
            "insert into mart_leader_brief_daily (report_date, level, area_name, cases_reported) "
            "values (?, 'street', '观湖街道', 90)",
            [DAY],
        )


def test_district_headline_reads_the_district_row(tmp_path):
    path = tmp_path / "marts.duckdb"
    _brief(path)
    with duckdb.connect(str(path), read_only=True) as con:
        headline = district_headline(con, DAY)
        assert district_headline(con, date(2026, 11, 24)) == {}
    assert headline["area_name"] == "龙华区"
    assert (headline["cases_reported"], headline["cases_reported_change_1d"]) == (612, 12)
    lines = headline_lines(headline)
    assert lines[0].startswith("龙华区")
    assert "新增案件 cases_reported: 612  (+12 / -30)" in lines[1]
    assert "按时响应率 response_rate: 95.1%  (+1.0 pt / -2.0 pt)" in lines[5]
    assert "满意度 satisfaction_avg: 4.32  (+0.05 / –)" in lines[7]


def test_headline_is_empty_without_the_brief(tmp_path):
    path = tmp_path / "old.duckdb"
    duckdb.connect(str(path)).close()
    with duckdb.connect(str(path), read_only=True) as con:
        assert district_headline(con, DAY) == {}
    assert headline_lines({}) == []


def test_build_variables_pin_the_logical_date():
    assert marts.dbt_vars(None) == []
    flag, value = marts.dbt_vars(DAY)
    assert flag == "--vars" and json.loads(value) == {"as_of": "2026-11-25"}

"""Scoping every table of a restricted viewer's query (infra/superset/area_scope.py).

Each rewritten query is run on a small DuckDB database with rows of two streets: what
comes back is what a viewer of street A would get, whatever the query tries."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import duckdb
import pytest

SOURCE = Path(__file__).resolve().parents[2] / "infra" / "superset" / "area_scope.py"
STREET_A, STREET_B = "440309002", "440309006"


@pytest.fixture(scope="module")
def area_scope():
    # Loaded from its path, as superset_config.py loads it.
    spec = importlib.util.spec_from_file_location("civiclake_area_scope", SOURCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def con():
    con = duckdb.connect()
    con.execute(
        "create table main.mart_cases as select * from (values "
        f"('{STREET_A}', 3), ('{STREET_A}', 4), ('{STREET_B}', 100)) as t(street_code, cases)"
    )
    con.execute("create table main.mart_district as select 42 as cases")  # no street column
    con.execute("create schema staging")
    con.execute(f"create table staging.stg_members as select '{STREET_B}' as street_code, 'x' as name")
    yield con
    con.close()


RULES = {
    ("main", "mart_cases"): [f"street_code = '{STREET_A}'"],
    ("main", "mart_district"): ["1 = 0"],  # Superset's deny-by-default rule
    ("main", "mart_unruled"): [],
}


def scoped(area_scope, sql: str) -> str:
    return area_scope.scope_query(sql, lambda schema, table: RULES.get((schema, table)))


@pytest.mark.parametrize(
    "sql",
    [
        # Superset's own composition of the outer WHERE: the viewer's OR outranks the rule.
        f"SELECT street_code, SUM(cases) AS n FROM main.mart_cases "
        f"WHERE 1=1 OR street_code IS NOT NULL AND (street_code = '{STREET_A}') GROUP BY street_code",
        "SELECT street_code, SUM(cases) AS n FROM main.mart_cases WHERE 1=1 /* x */ OR 1=1 GROUP BY 1",
        "SELECT street_code, SUM(cases) AS n FROM mart_cases GROUP BY 1",
        "SELECT c.street_code, SUM(c.cases) AS n FROM main.mart_cases AS c GROUP BY 1",
        "SELECT mart_cases.street_code, SUM(mart_cases.cases) AS n FROM main.mart_cases GROUP BY 1",
        "SELECT street_code, SUM(cases) AS n FROM (SELECT * FROM main.mart_cases) GROUP BY 1",
        "SELECT street_code, SUM(cases) AS n FROM main.mart_cases WHERE street_code IN "
        "(SELECT street_code FROM main.mart_cases) OR 1=1 GROUP BY 1",
        "SELECT street_code, cases AS n FROM main.mart_cases UNION ALL SELECT street_code, cases FROM mart_cases",
        "SELECT 'x' AS street_code, (SELECT SUM(cases) FROM main.mart_cases) AS n",
    ],
)
def test_every_table_reads_only_the_viewers_rows(area_scope, con, sql):
    rows = con.execute(scoped(area_scope, sql)).fetchall()
    assert rows, "the street's own rows are still readable"
    assert {code for code, _ in rows} <= {STREET_A, "x"}
    assert sum(n for _, n in rows) <= 2 * (3 + 4)  # the UNION reads the street's rows twice


def test_a_dataset_the_viewer_has_no_rule_for_gives_no_rows(area_scope, con):
    assert con.execute(scoped(area_scope, "SELECT cases FROM main.mart_district")).fetchall() == []
    assert "FALSE" in scoped(area_scope, "SELECT * FROM main.mart_unruled").upper()


def test_aliases_and_outer_references_survive(area_scope):
    sql = scoped(area_scope, "SELECT c.cases FROM main.mart_cases AS c WHERE c.cases > 1")
    assert sql == (
        f"SELECT c.cases FROM (SELECT * FROM main.mart_cases WHERE street_code = '{STREET_A}') AS c "
        "WHERE c.cases > 1"
    )


@pytest.mark.parametrize(
    "sql,refused_because",
    [
        ("SELECT * FROM read_text('/proc/self/environ')", "table function"),
        (
            "SELECT * FROM main.mart_cases WHERE EXISTS (SELECT 1 FROM read_parquet('**/*.parquet'))",
            "table function",
        ),
        ("SELECT * FROM query_table('staging.stg_members')", "table function"),
        ("SELECT * FROM duckdb_tables()", "table function"),
        ("SELECT * FROM '/etc/passwd'", "not a dataset"),
        ("SELECT * FROM staging.stg_members", "not a dataset"),
        ("SELECT * FROM information_schema.tables", "not a dataset"),
        ("WITH c AS (SELECT * FROM main.mart_cases) SELECT * FROM c", "not a dataset"),
        ("SELECT * FROM other.main.mart_cases", "another database"),
        ("SELECT 1; SELECT 2", "one statement"),
        ("COPY (SELECT 1) TO '/tmp/x.csv'", "only SELECT"),
        ("ATTACH '/tmp/x.duckdb' AS x", "only SELECT"),
        ("PRAGMA database_list", "only SELECT"),
        ("INSTALL httpfs", "only SELECT"),
        ("SELECT * FROM (", "could not be parsed"),
    ],
)
def test_what_cannot_be_scoped_is_refused(area_scope, sql, refused_because):
    with pytest.raises(area_scope.AreaScopeError, match=refused_because):
        scoped(area_scope, sql)


def test_comments_do_not_reach_the_database(area_scope):
    assert "--" not in scoped(area_scope, "SELECT cases FROM main.mart_cases -- WHERE 1=1\n")
    assert "/*" not in scoped(area_scope, "SELECT /* x */ cases FROM main.mart_cases")

"""Write-audit-publish of the marts on a DuckDB build file made here (no dbt): the published
file holds the marts only, the full build is kept apart as the last good one, and the next
build starts from it."""

from __future__ import annotations

import stat

import duckdb
import pytest

from civiclake import marts
from civiclake.settings import PROJECT_ROOT, Settings

# What a dbt build leaves besides the marts: person-level rows a viewer must not reach.
NON_MART_RELATIONS = (
    "create schema staging",
    "create table staging.stg_party__members as select 'token-1' as member_token",
    "create schema intermediate",
    "create table intermediate.int_case_days as select date '2026-10-12' as report_date, 'C1' as case_id",
    "create schema reference",
    "create table reference.case_sla_rules as select 'parking' as category_code",
    # A model that lands in main by mistake.
    "create table main.int_stray_households as select 'H1' as household_token",
)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path)


def _write_build(path, rows: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        for table in marts.REQUIRED_TABLES:
            con.execute(
                f"create table main.{table} as select range::bigint as n, range / 3 as rate, "
                f"date '2026-10-12' + range::int as report_date from range({rows})"
            )
        for statement in NON_MART_RELATIONS:
            con.execute(statement)


def _tables(path) -> dict[tuple[str, str], int]:
    with duckdb.connect(str(path), read_only=True) as con:
        names = con.execute("select table_schema, table_name from information_schema.tables").fetchall()
        return {(s, t): con.execute(f"select count(*) from {s}.{t}").fetchall()[0][0] for s, t in names}


def _columns(path, table: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'main' and table_name = ? order by ordinal_position",
            [table],
        ).fetchall()


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_required_tables_are_the_marts_models():
    models = {p.stem for p in (PROJECT_ROOT / "dbt" / "models" / "marts").rglob("*.sql")}
    assert set(marts.REQUIRED_TABLES) == models


def test_publish_writes_the_marts_only_and_keeps_the_build_as_last_good(settings):
    build, last_good = marts.build_file(settings), marts.last_good_file(settings)
    _write_build(build, rows=4)
    full_build = _tables(build)

    counts = marts.publish(settings)

    published = settings.published_marts_file
    assert _tables(published) == {("main", t): 4 for t in marts.REQUIRED_TABLES}
    assert counts == dict.fromkeys(marts.REQUIRED_TABLES, 4)
    assert _columns(published, "mart_sla_daily") == _columns(last_good, "mart_sla_daily")
    assert _tables(last_good) == full_build
    assert not build.exists()
    assert _mode(published) == marts.PUBLISHED_FILE_MODE
    assert _mode(last_good) == marts.BUILD_FILE_MODE
    assert sorted(p.name for p in published.parent.iterdir()) == ["build", "civiclake.duckdb"]


def test_the_next_build_starts_from_the_last_good_build(settings):
    _write_build(marts.build_file(settings), rows=4)
    marts.publish(settings)

    target = marts.prepare(settings)

    assert _tables(target) == _tables(marts.last_good_file(settings))
    assert ("intermediate", "int_case_days") in _tables(target)
    assert _mode(target) == marts.BUILD_FILE_MODE
    assert _mode(target.parent) == marts.BUILD_FOLDER_MODE


def test_before_any_last_good_build_the_old_published_file_seeds_the_build(settings):
    """The published file of the time when the whole build was published."""
    _write_build(settings.published_marts_file, rows=2)

    target = marts.prepare(settings)

    assert _tables(target) == _tables(settings.published_marts_file)


def test_a_failed_audit_leaves_the_published_and_last_good_files(settings):
    _write_build(marts.build_file(settings), rows=4)
    marts.publish(settings)
    published, last_good = settings.published_marts_file, marts.last_good_file(settings)
    before = (published.read_bytes(), last_good.read_bytes())
    build = marts.prepare(settings)
    with duckdb.connect(str(build)) as con:
        con.execute("drop table main.mart_sla_daily")

    with pytest.raises(marts.MartsBuildError, match="mart_sla_daily"):
        marts.publish(settings)

    assert (published.read_bytes(), last_good.read_bytes()) == before

"""A throw-away platform for integration tests: its own source database, lake and marts.

Needs the local PostgreSQL (infra/postgres/setup.sh) and the secrets of
var/secrets.env in the environment (infra/test.sh sources them).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import psycopg
import pytest

from civiclake.settings import PROJECT_ROOT, Settings

# One database per test session, so that sessions running side by side don't share it.
TEST_DB = f"civiclake_it_{os.getpid()}"


def _require_env(*names: str) -> None:
    missing = [n for n in names if not os.environ.get(n)]
    if missing:
        pytest.fail(
            f"integration tests need {missing} in the environment: `source var/secrets.env` "
            "(written by infra/secrets.sh) or run `make test`"
        )


@contextmanager
def scratch_database(name: str):
    """A new, empty source database ``name`` for the test's simulators, dropped afterwards."""
    _require_env("CIVICLAKE_PG_PASSWORD", "CIVICLAKE_PII_KEY")
    base = Settings()
    with psycopg.connect(base.pg_conninfo("postgres"), autocommit=True) as conn:
        conn.execute(f"drop database if exists {name} with (force)")
        conn.execute(f"create database {name}")
    try:
        yield name
    finally:
        with psycopg.connect(base.pg_conninfo("postgres"), autocommit=True) as conn:
            conn.execute(f"drop database if exists {name} with (force)")


@pytest.fixture(scope="session")
def settings(tmp_path_factory):
    with scratch_database(TEST_DB):
        yield Settings(
            data_dir=tmp_path_factory.mktemp("civiclake"),
            jars_dir=PROJECT_ROOT / "var" / "jars",
            pg_sources_db=TEST_DB,
            sim_cases_per_day=80,
            sim_history_days=3,
        )


@pytest.fixture(scope="session")
def spark(settings):
    from civiclake.spark import spark_session

    session = spark_session(settings, "civiclake-integration-tests")
    yield session
    session.stop()


# The governance marts lake, written with delta-rs from the simulator's own case plans (no
# Spark, no PostgreSQL), and its marts built and published once per session as of
# MARTS_LAST, for the marts tests (test_marts_dbt, test_notebook_marts, test_time_travel).
MARTS_FIRST = date(2026, 9, 26)
MARTS_LAST = date(2026, 10, 12)
MARTS_CASES_PER_DAY = 30  # a day with streets on both sides of the scorecard's volume floor


def marts_settings(root: Path, lake: Path) -> Settings:
    return Settings(data_dir=root, lake_path=str(lake), sim_cases_per_day=MARTS_CASES_PER_DAY)


@pytest.fixture(scope="session")
def case_plans():
    from bench.bench_marts_lake import plans

    return plans(Settings(sim_cases_per_day=MARTS_CASES_PER_DAY), MARTS_FIRST, MARTS_LAST)


@pytest.fixture(scope="session")
def marts_lake(tmp_path_factory, case_plans):
    from bench.bench_marts_lake import write_lake

    lake = tmp_path_factory.mktemp("marts-lake")
    write_lake(str(lake), case_plans, MARTS_LAST)
    return lake


@pytest.fixture(scope="session")
def published_marts(tmp_path_factory, marts_lake) -> Settings:
    """The marts built (dbt build: models, unit and data tests) and published as of MARTS_LAST."""
    from civiclake import marts

    settings = marts_settings(tmp_path_factory.mktemp("marts-full"), marts_lake)
    marts.build(settings, as_of=MARTS_LAST)
    return settings

"""A throw-away platform for integration tests: its own source database, lake and marts.

Needs the local PostgreSQL (infra/postgres/setup.sh) and the secrets of
var/secrets.env in the environment (infra/test.sh sources them).
"""

from __future__ import annotations

import os
from contextlib import contextmanager

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

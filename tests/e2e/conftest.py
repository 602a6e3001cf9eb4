"""One real run of the civiclake_daily DAG (``airflow dags test``) for the end-to-end tests.

The run has a source database, lake and marts of its own, so its numbers depend only on
the simulator's seed and the date; the Airflow test checks them against the simulator
and the Superset test checks the dashboards against the marts this run published.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import psycopg
import pytest

from civiclake.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
RUN_DATE = "2026-11-25"
SOURCE_DB = "civiclake_e2e"


@pytest.fixture(scope="session")
def dag_run(tmp_path_factory) -> dict:
    if not (ROOT / ".venvs" / "airflow" / "bin" / "airflow").exists():
        pytest.skip("no Airflow environment: run `bash infra/setup.sh` (or `make test`)")
    missing = [n for n in ("CIVICLAKE_PG_PASSWORD", "CIVICLAKE_PII_KEY") if not os.environ.get(n)]
    if missing:
        pytest.fail(f"end-to-end tests need {missing}: `source var/secrets.env` or run `make test`")
    with psycopg.connect(Settings().pg_conninfo("postgres"), autocommit=True) as conn:
        conn.execute(f"drop database if exists {SOURCE_DB} with (force)")
        conn.execute(f"create database {SOURCE_DB}")
    data_dir = tmp_path_factory.mktemp("e2e-platform")
    overrides = {
        "CIVICLAKE_DATA_DIR": str(data_dir),
        "CIVICLAKE_JARS_DIR": str(ROOT / "var" / "jars"),
        "CIVICLAKE_PG_SOURCES_DB": SOURCE_DB,
        "CIVICLAKE_SIM_CASES_PER_DAY": "200",
        "CIVICLAKE_SIM_HISTORY_DAYS": "7",
    }
    # The Open311 API the pipeline pulls from, as the demo starts it.
    server = subprocess.run(
        ["bash", "infra/open311/start.sh", RUN_DATE, "7"],
        cwd=ROOT,
        env=os.environ | overrides,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert server.returncode == 0, f"infra/open311/start.sh failed:\n{server.stdout}\n{server.stderr}"
    try:
        proc = subprocess.run(
            ["bash", "infra/airflow/run_dag.sh", RUN_DATE],
            cwd=ROOT,
            env=os.environ | overrides,
            capture_output=True,
            text=True,
            timeout=3600,
        )
    finally:
        subprocess.run(["bash", "infra/open311/stop.sh"], cwd=ROOT, env=os.environ | overrides, timeout=120)
    settings = Settings(
        data_dir=data_dir,
        pg_sources_db=SOURCE_DB,
        sim_cases_per_day=200,
        sim_history_days=7,
    )
    return {
        "date": RUN_DATE,
        "proc": proc,
        "env": overrides,
        "settings": settings,
        "marts_file": settings.published_marts_file,
    }

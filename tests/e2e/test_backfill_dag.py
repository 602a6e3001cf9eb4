"""Airflow 3 accepts the backfill of a week of civiclake_daily as the DAG's docstring writes it.

The command is taken from the DAG file itself and run against a scratch Airflow (its own
SQLite metadata database, the DAG file alone in its DAG folder, parsed by ``airflow dags
reserialize``). No scheduler runs: the test reads what Airflow created — the backfill, at one
run at a time, and one queued run per day of the week, in date order — from the metadata
database. Running those seven days end to end does not fit CI (one daily run takes minutes);
tests/integration/test_backfill.py runs the days' steps twice over and checks that the
second pass changes nothing.
"""

from __future__ import annotations

import ast
import shlex
import shutil
import sqlite3
from datetime import date, timedelta

import pytest

from tests.e2e.airflow_cli import ROOT, airflow, explain

AIRFLOW_BIN = ROOT / ".venvs" / "airflow" / "bin" / "airflow"
DAG_FILE = ROOT / "dags" / "civiclake_daily.py"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not AIRFLOW_BIN.exists(),
        reason=f"no Airflow environment at {AIRFLOW_BIN.parent.parent}; create it with "
        "`bash infra/airflow/setup.sh` (or `bash infra/setup.sh`)",
    ),
]


def documented_backfill() -> list[str]:
    """The `airflow backfill create …` line of the DAG's docstring, as arguments."""
    doc = ast.get_docstring(ast.parse(DAG_FILE.read_text(encoding="utf-8")))
    lines = [line.strip() for line in doc.splitlines() if line.strip().startswith("airflow backfill create")]
    assert len(lines) == 1, f"the DAG's docstring should show one backfill command, found {lines}"
    return shlex.split(lines[0])


def option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


@pytest.fixture(scope="module")
def scratch_airflow(tmp_path_factory) -> dict[str, str]:
    """A metadata database holding the serialized DAG, and the command prefix that uses it."""
    base = tmp_path_factory.mktemp("airflow-backfill")
    dags = base / "dags"
    dags.mkdir()
    shutil.copy(DAG_FILE, dags)
    database = base / "home" / "airflow.db"
    database.parent.mkdir()
    env = {
        "AIRFLOW_HOME": str(database.parent),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{database}",
        "CIVICLAKE_HOME": str(ROOT),
    }
    # infra/airflow/env.sh points the DAG folder at the repository's: this one holds one DAG.
    prefix = ["env", f"AIRFLOW__CORE__DAGS_FOLDER={dags}"]
    for step in (["airflow", "db", "migrate"], ["airflow", "dags", "reserialize"]):
        proc = airflow(*prefix, *step, env=env, timeout=600)
        assert proc.returncode == 0, f"{' '.join(step)}: {explain(proc)}"
    return {"env": env, "prefix": prefix, "database": str(database)}


def test_the_documented_backfill_creates_one_run_per_day_one_at_a_time_in_date_order(scratch_airflow):
    args = documented_backfill()
    assert args[:3] == ["airflow", "backfill", "create"]
    assert option(args, "--dag-id") == "civiclake_daily"
    first, last = (
        date.fromisoformat(option(args, "--from-date")),
        date.fromisoformat(option(args, "--to-date")),
    )
    week = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    assert len(week) == 7

    proc = airflow(*scratch_airflow["prefix"], *args, env=scratch_airflow["env"], timeout=600)
    assert proc.returncode == 0, explain(proc)

    with sqlite3.connect(scratch_airflow["database"]) as db:
        backfills = db.execute("select id, dag_id, max_active_runs from backfill").fetchall()
        assert [(dag, runs) for _, dag, runs in backfills] == [("civiclake_daily", 1)]
        runs = db.execute(
            "select b.sort_ordinal, r.logical_date, r.run_type, r.state from backfill_dag_run b "
            "join dag_run r on r.id = b.dag_run_id where b.backfill_id = ? order by b.sort_ordinal",
            (backfills[0][0],),
        ).fetchall()
    assert [date.fromisoformat(logical[:10]) for _, logical, _, _ in runs] == week
    assert [ordinal for ordinal, _, _, _ in runs] == sorted(ordinal for ordinal, _, _, _ in runs)
    assert {(kind, state) for _, _, kind, state in runs} == {("backfill", "queued")}

"""Airflow: the weekly civiclake_maintenance DAG imports, runs one run at a time, waits for the
daily run that starts with it, then retention -> optimize -> vacuum through the CLI.

Parsed by the Airflow environment's own Python in a subprocess (the environments share no
packages), in a scratch AIRFLOW_HOME, beside civiclake_daily as the scheduler sees them.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_PYTHON = ROOT / ".venvs" / "airflow" / "bin" / "python"
CIVICLAKE = ROOT / ".venvs" / "core" / "bin" / "civiclake"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not AIRFLOW_PYTHON.exists(),
        reason=f"no Airflow environment at {AIRFLOW_PYTHON.parent.parent}; create it with "
        "`bash infra/airflow/setup.sh` (or `bash infra/setup.sh`)",
    ),
]

PROBE = textwrap.dedent(
    """
    import json, sys
    import pendulum
    from jinja2 import Template
    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import TimeRestriction

    bag = DagBag(dag_folder=sys.argv[1])
    out = {"import_errors": {str(k): str(v) for k, v in bag.import_errors.items()}}
    dag = bag.dags.get("civiclake_maintenance")
    daily = bag.dags.get("civiclake_daily")
    if dag is not None:
        def first_after(d, earliest):
            return coerce_to_core_timetable(d.timetable).next_dagrun_info(
                last_automated_data_interval=None,
                restriction=TimeRestriction(earliest=earliest, latest=None, catchup=True),
            )
        # The first runs after Wednesday 2026-11-25 12:00 UTC.
        earliest = pendulum.datetime(2026, 11, 25, 12, tz="UTC")
        info = first_after(dag, earliest)
        sensor = dag.get_task("wait_for_daily")
        out |= {
            "max_active_runs": dag.max_active_runs,
            "catchup": dag.catchup,
            "run_after": info.run_after.isoformat(),
            "logical_date": info.logical_date.isoformat(),
            "order": [t.task_id for t in dag.topological_sort()],
            "upstream": {t.task_id: sorted(t.upstream_task_ids) for t in dag.tasks},
            "sensor": {
                "external_dag_id": sensor.external_dag_id,
                "external_task_id": sensor.external_task_id,
                "watched_logical_date": (info.logical_date - sensor.execution_delta).isoformat(),
                "allowed_states": sorted(sensor.allowed_states),
                "mode": sensor.mode,
            },
            "commands": {
                t.task_id: Template(t.python_callable()).render(ds=info.logical_date.strftime("%Y-%m-%d"))
                for t in dag.tasks
                if t.task_id != "wait_for_daily"
            },
        }
        if daily is not None:
            # The daily runs, in order, until one starts at the maintenance run's moment.
            runs, last = [], None
            while not runs or runs[-1]["run_after"] < info.run_after.isoformat():
                nxt = coerce_to_core_timetable(daily.timetable).next_dagrun_info(
                    last_automated_data_interval=last,
                    restriction=TimeRestriction(earliest=earliest, latest=None, catchup=True),
                )
                last = nxt.data_interval
                runs.append({"run_after": nxt.run_after.isoformat(), "logical_date": nxt.logical_date.isoformat()})
            out["daily_runs"] = runs
    print("@@PROBE@@" + json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def parsed(tmp_path_factory) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME")} | {
        "AIRFLOW_HOME": str(tmp_path_factory.mktemp("airflow_home")),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "CIVICLAKE_HOME": str(ROOT),
    }
    proc = subprocess.run(
        [str(AIRFLOW_PYTHON), "-c", PROBE, str(ROOT / "dags")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    marker = [line for line in proc.stdout.splitlines() if line.startswith("@@PROBE@@")]
    assert proc.returncode == 0 and marker, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(marker[-1].removeprefix("@@PROBE@@"))


def test_every_dag_imports_and_maintenance_runs_one_at_a_time(parsed):
    assert parsed["import_errors"] == {}
    assert (parsed["max_active_runs"], parsed["catchup"]) == (1, False)
    assert parsed["order"] == ["wait_for_daily", "retention", "optimize", "vacuum"]
    assert parsed["upstream"] == {
        "wait_for_daily": [],
        "retention": ["wait_for_daily"],
        "optimize": ["retention"],
        "vacuum": ["optimize"],
    }


def test_it_waits_for_the_daily_run_that_starts_with_it(parsed):
    # Sunday 2026-11-29 00:00 UTC; the daily run starting then is Saturday's.
    assert parsed["run_after"] == "2026-11-29T00:00:00+00:00"
    starting_with_it = [r for r in parsed["daily_runs"] if r["run_after"] == parsed["run_after"]]
    assert starting_with_it == [
        {"run_after": "2026-11-29T00:00:00+00:00", "logical_date": "2026-11-28T00:00:00+00:00"}
    ]
    assert parsed["sensor"] == {
        "external_dag_id": "civiclake_daily",
        "external_task_id": None,
        "watched_logical_date": starting_with_it[0]["logical_date"],
        "allowed_states": ["failed", "success"],
        "mode": "reschedule",
    }


def test_each_step_is_the_cli_for_the_run_date(parsed):
    assert parsed["commands"] == {
        step: f"{CIVICLAKE} maintain {step} --date 2026-11-29" for step in ("retention", "optimize", "vacuum")
    }

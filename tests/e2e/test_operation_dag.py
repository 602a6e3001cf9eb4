"""Airflow: the civiclake_operation DAG imports, offers the shipped plans in its trigger form
(plan, area, note, start time) and runs start -> deliver through the civiclake CLI; the daily
DAG runs the day's conditions before delivery and the follow-up after the escalation check.

Parsed by the Airflow environment's own Python in a subprocess (the environments share no
packages), in a scratch AIRFLOW_HOME: parsing needs no metadata database. The start task's
command line is checked with a stand-in CLI that records its arguments.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from civiclake.operations.plans import load_plans

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_PYTHON = ROOT / ".venvs" / "airflow" / "bin" / "python"

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
    from unittest import mock
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=sys.argv[1])
    out = {"import_errors": {str(k): str(v) for k, v in bag.import_errors.items()}}
    dag = bag.dags.get("civiclake_operation")
    if dag is not None:
        out["timetable"] = type(dag.timetable).__name__
        out["params"] = {k: dag.params.get_param(k).serialize() for k in dag.params}
        out["upstream"] = {t.task_id: sorted(t.upstream_task_ids) for t in dag.tasks}
        # The start task's command, as an operator's form gives it.
        import importlib.util
        spec = importlib.util.spec_from_file_location("op_dag", dag.fileloc)
        op_dag = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(op_dag)
        calls = []
        started = {"operation_id": "OP1", "plan_name": "x", "area_name": "y", "new": True,
                   "orders": [{"order_id": "DO1"}]}
        context = {"run_id": "manual__2026-11-24T09:00:00+00:00",
                   "params": {"plan": "street_vending_crackdown", "area": " 440309006 ",
                              "note": "市场外溢; rm -rf /", "at": "2026-11-24 09:00"}}
        with mock.patch.object(op_dag, "_civiclake", side_effect=lambda *a: calls.append(list(a)) or json.dumps(started)), \\
             mock.patch.object(op_dag, "get_current_context", return_value=context):
            start = op_dag.civiclake_operation().get_task("start")
            out["start_returns"] = start.python_callable()
        out["start_call"] = calls[0]
    print("@@PROBE@@" + json.dumps(out, default=str))
    """
)


@pytest.fixture(scope="module")
def parsed(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("dags")
    shutil.copy(ROOT / "dags" / "civiclake_operation.py", folder)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME")} | {
        "AIRFLOW_HOME": str(tmp_path_factory.mktemp("airflow_home")),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "CIVICLAKE_HOME": str(ROOT),
    }
    proc = subprocess.run(
        [str(AIRFLOW_PYTHON), "-c", PROBE, str(folder)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    marker = [line for line in proc.stdout.splitlines() if line.startswith("@@PROBE@@")]
    assert proc.returncode == 0 and marker, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(marker[-1].removeprefix("@@PROBE@@"))


def test_the_dag_imports_is_triggered_by_hand_and_starts_then_delivers(parsed):
    assert parsed["import_errors"] == {}
    assert parsed["timetable"] == "NullTimetable"
    assert parsed["upstream"] == {"start": [], "deliver": ["start"]}


def test_the_trigger_form_offers_every_shipped_plan_by_name(parsed):
    params = parsed["params"]
    assert set(params) == {"plan", "area", "note", "at"}
    plan = params["plan"]["schema"]
    plans = load_plans()
    assert plan["enum"] == sorted(plans)
    assert {k: v.split("（")[0] for k, v in plan["values_display"].items()} == {
        plan_id: p.name for plan_id, p in plans.items()
    }
    assert params["area"]["schema"]["type"] == "string"
    assert params["note"]["value"] is None and "null" in params["note"]["schema"]["type"]
    assert params["at"]["schema"]["pattern"] == r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}$"


def test_start_passes_the_form_to_the_cli_as_arguments_with_the_run_as_key(parsed):
    assert parsed["start_call"] == [
        "operations",
        "start",
        "--plan",
        "street_vending_crackdown",
        "--area",
        "440309006",
        "--key",
        "manual__2026-11-24T09:00:00+00:00",
        "--no-deliver",
        "--note",
        "市场外溢; rm -rf /",
        "--at",
        "2026-11-24 09:00",
    ]
    assert parsed["start_returns"] == {"operation_id": "OP1", "orders": ["DO1"]}

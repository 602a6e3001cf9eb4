"""Airflow: the hourly civiclake_cameras DAG imports, runs ingest then the case funnel, one run
at a time, for the landing hour its data interval starts in (the local clock).

Parsed by the Airflow environment's own Python in a subprocess (the environments share no
packages), in a scratch AIRFLOW_HOME: parsing needs no metadata database.
"""

from __future__ import annotations

import json
import os
import shutil
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
    dag = bag.dags.get("civiclake_cameras")
    if dag is not None:
        # The first run after 2026-06-10 23:30 in Shanghai (15:30 UTC).
        info = coerce_to_core_timetable(dag.timetable).next_dagrun_info(
            last_automated_data_interval=None,
            restriction=TimeRestriction(
                earliest=pendulum.datetime(2026, 6, 10, 15, 30, tz="UTC"), latest=None, catchup=True
            ),
        )
        out |= {
            "max_active_runs": dag.max_active_runs,
            "catchup": dag.catchup,
            "run_after": info.run_after.isoformat(),
            "order": [t.task_id for t in dag.topological_sort()],
            "upstream": {t.task_id: sorted(t.upstream_task_ids) for t in dag.tasks},
            "commands": {
                t.task_id: Template(t.python_callable()).render(data_interval_start=info.data_interval.start)
                for t in dag.tasks
            },
        }
    print("@@PROBE@@" + json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def parsed(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("dags")
    shutil.copy(ROOT / "dags" / "civiclake_cameras.py", folder)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME")} | {
        "AIRFLOW_HOME": str(tmp_path_factory.mktemp("airflow_home")),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "CIVICLAKE_HOME": str(ROOT),
    }
    env.pop("CIVICLAKE_CAMERA_TIMEZONE", None)
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


def test_the_dag_imports_and_runs_one_hour_at_a_time(parsed):
    assert parsed["import_errors"] == {}
    assert (parsed["max_active_runs"], parsed["catchup"]) == (1, False)
    assert parsed["order"] == ["ingest", "cases_build"]
    assert parsed["upstream"] == {"ingest": [], "cases_build": ["ingest"]}


def test_the_run_after_an_hour_ingests_that_local_hour_and_builds_its_day(parsed):
    # Hour 23 of 2026-06-10 in Shanghai ends at 16:00 UTC; its run starts ten minutes later.
    assert parsed["run_after"] == "2026-06-10T16:10:00+00:00"
    assert parsed["commands"] == {
        "ingest": f"{CIVICLAKE} ingest cameras --date 2026-06-10 --hour 23",
        "cases_build": f"{CIVICLAKE} cases build --date 2026-06-10",
    }

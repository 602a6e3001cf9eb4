"""Airflow: the civiclake_daily DAG's mechanics, with a stand-in CLI.

Cosmos rendering and execution, write-audit-publish ordering and a failing quality gate
stopping the run before publish, in an isolated Airflow home with a SQLite metadata DB, a
small fixture dbt project and a stand-in ``civiclake`` CLI that records its calls; dbt
itself is the core environment's. Nothing here touches the session's daily run, services
or ports, so these tests run beside them (tests/conftest.py).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.e2e.airflow_cli import airflow, explain, needs_airflow
from tests.e2e.test_airflow_dag import (
    AFTER,
    BRIEF_TASK,
    CLI_TASKS_AFTER_DBT,
    CLI_TASKS_BEFORE_DBT,
    CORE_VENV,
    DAG_ID,
    ROOT,
    SOURCE_STEPS,
    SOURCE_TASKS,
    WARM_TASK,
    assert_pipeline_shape,
    call,
    probe_dagbag,
    states_for,
)

pytestmark = [
    pytest.mark.e2e,
    needs_airflow,
]


FAKE_CLI = """#!/usr/bin/env bash
# Stand-in for the civiclake CLI: records the call; fails where FAKE_FAIL says.
echo "$*" >> "$FAKE_CALLS"
echo "fake civiclake $*"
if [ "${FAKE_FAIL:-}" = "$1 $2" ]; then echo "fake failure in $1 $2" >&2; exit 3; fi
"""


@pytest.fixture(scope="module")
def isolated(tmp_path_factory) -> dict[str, str]:
    if not (CORE_VENV / "bin" / "dbt").exists():
        pytest.skip(f"no dbt at {CORE_VENV}/bin/dbt; run `bash infra/setup.sh core`")
    base = tmp_path_factory.mktemp("airflow_iso")
    home, core, project = base / "home", base / "core", base / "dbt"
    (core / "bin").mkdir(parents=True)
    cli = core / "bin" / "civiclake"
    cli.write_text(FAKE_CLI)
    cli.chmod(0o755)
    (core / "bin" / "dbt").symlink_to(CORE_VENV / "bin" / "dbt")
    (project / "models" / "staging").mkdir(parents=True)
    (project / "models" / "marts").mkdir()
    (project / "dbt_project.yml").write_text(
        "name: fixture\nversion: '1.0.0'\nprofile: fixture\nmodels:\n  fixture:\n    +materialized: table\n"
        "    staging:\n      +tags: [layer_staging]\n    marts:\n      +tags: [layer_marts]\n"
    )
    (project / "profiles.yml").write_text(
        "fixture:\n  target: duckdb\n  outputs:\n    duckdb:\n      type: duckdb\n"
        "      path: \"{{ env_var('CIVICLAKE_DBT_DUCKDB_PATH') }}\"\n      threads: 1\n"
    )
    # The project's own layer selectors, so the fixture builds as the project does.
    shutil.copy(ROOT / "dbt" / "selectors.yml", project / "selectors.yml")
    (project / "models" / "staging" / "stg_cases.sql").write_text(
        "select 1 as case_id, 'LH01' as street_code\n"
    )
    (project / "models" / "marts" / "cases_by_street.sql").write_text(
        "select street_code, count(*) as cases from {{ ref('stg_cases') }} group by 1\n"
    )
    (project / "models" / "schema.yml").write_text(
        textwrap.dedent(
            """\
            version: 2
            models:
              - name: stg_cases
                columns:
                  - name: case_id
                    data_tests: [not_null, unique]
              - name: cases_by_street
                columns:
                  - name: street_code
                    data_tests:
                      - not_null
                      - relationships: {arguments: {to: ref('stg_cases'), field: street_code}}
            """
        )
    )
    (base / "marts").mkdir()
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "CIVICLAKE_CORE_VENV": str(core),
        # The stand-in CLI runs no Spark: run_dag.sh starts no warm Spark driver for it.
        "CIVICLAKE_SPARK_WARM_DRIVER": "false",
        "CIVICLAKE_DBT_PROJECT_DIR": str(project),
        "CIVICLAKE_DBT_DUCKDB_PATH": str(base / "marts" / "build.duckdb"),
        "FAKE_CALLS": str(base / "calls.txt"),
    }
    proc = airflow("airflow", "db", "migrate", env=env)
    assert proc.returncode == 0, f"airflow db migrate (SQLite) failed: {explain(proc)}"
    return env


def run_dag(env: dict[str, str], date: str) -> subprocess.CompletedProcess:
    """infra/airflow/run_dag.sh for ``date`` in the isolated Airflow, the stand-in CLI's record
    of calls emptied first."""
    Path(env["FAKE_CALLS"]).unlink(missing_ok=True)
    return subprocess.run(
        ["bash", "infra/airflow/run_dag.sh", date],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
        env={**os.environ, **env},
    )


def test_dbt_builds_layer_by_layer_between_prepare_and_publish(isolated):
    bag = probe_dagbag(isolated)
    assert bag["import_errors"] == {}
    dag = bag["dags"][DAG_ID]
    dbt_tasks = assert_pipeline_shape(dag)
    layers = [f"dbt.{layer}" for layer in ("staging", "intermediate", "marts")]
    assert sorted(dbt_tasks) == sorted(layers)
    tasks = dag["tasks"]
    assert tasks[layers[0]]["upstream"] == ["marts_prepare"]
    for up, down in zip(layers, layers[1:], strict=False):
        assert tasks[down]["upstream"] == [up], f"{down} must follow exactly {up}"
    assert all(tasks[t]["operator"] == "DbtBuildLocalOperator" for t in dbt_tasks)
    assert all(tasks[t]["retries"] == 0 for t in dbt_tasks)
    assert tasks["sources.governance.quality"]["retries"] == 0


def test_dags_test_runs_every_step_in_order(isolated):
    date = "2026-01-15"
    proc = run_dag(isolated, date)
    assert proc.returncode == 0, explain(proc)
    calls = Path(isolated["FAKE_CALLS"]).read_text().splitlines()
    n_sources = len(SOURCE_TASKS)
    # The families in any order, each family's steps in order; then the main line.
    assert sorted(calls[:n_sources]) == sorted(call(t, date) for t in SOURCE_TASKS)
    for family, steps in SOURCE_STEPS.items():
        seen = [calls.index(call(f"sources.{family}.{step}", date)) for step, _ in steps]
        assert seen == sorted(seen), steps
        for earlier in AFTER.get(family, []):
            gate = calls.index(call(f"sources.{earlier}.quality", date))
            assert gate < calls.index(call(f"sources.{family}.ingest", date)), (family, earlier)
    expected = [call(t, date) for t in CLI_TASKS_BEFORE_DBT + CLI_TASKS_AFTER_DBT]
    beside = [call(t, date) for t in (BRIEF_TASK, WARM_TASK)]
    main_line = calls[n_sources:]
    for step in beside:
        assert main_line.count(step) == 1, main_line
        assert main_line.index(step) > main_line.index("marts publish"), main_line
    assert [c for c in main_line if c not in beside] == expected
    states = states_for(isolated, date)
    assert states and set(states.values()) == {"success"}, states
    assert Path(isolated["CIVICLAKE_DBT_DUCKDB_PATH"]).exists(), "dbt did not build the DuckDB file"
    # Each layer built its own models and ran its tests; the relationships test, which
    # reads both layers, ran with the marts.
    log_files = Path(isolated["AIRFLOW_HOME"]).rglob("*.log")
    logs = "\n".join([proc.stdout, proc.stderr, *(f.read_text(errors="replace") for f in log_files)])
    for layer, node in (("staging", "stg_cases"), ("marts", "cases_by_street")):
        assert re.search(rf"'build'.*'--selector', '{layer}'", logs), f"no dbt build of the {layer} layer"
        assert re.search(rf"OK created sql table model \S*{node}", logs), f"{node} was not built"
    assert re.search(r"PASS relationships_cases_by_street", logs), "the test across the layers did not run"


def test_failed_quality_gate_stops_before_publish(isolated):
    date = "2026-01-16"
    proc = run_dag(isolated | {"FAKE_FAIL": "quality governance"}, date)
    assert proc.returncode != 0, "a failed quality gate must fail the run"
    calls = Path(isolated["FAKE_CALLS"]).read_text().splitlines()
    assert calls.count("quality governance") == 1, calls  # retries=0: called once
    assert not any(c.startswith(("classifier", "marts", "brief")) for c in calls), calls
    states = states_for(isolated, date)
    assert states["sources.governance.quality"] == "failed"
    assert states["sources.city.quality"] == "success"  # the other families still land
    for task in ("classifier_train", "marts_publish", "summary", BRIEF_TASK, WARM_TASK):
        assert states[task] == "upstream_failed", (task, states[task])

"""Airflow: the civiclake_daily DAG imports, has the specified shape, and runs.

These tests run in the core environment's pytest and talk to Airflow only through
subprocesses in ``.venvs/airflow`` (with ``infra/airflow/env.sh`` sourced), since
the two environments do not share packages.

* DagBag import and task order: against the repository's ``dbt/`` project, as the
  scheduler sees it (metadata DB: the local PostgreSQL ``airflow_meta``).
* DAG mechanics with a stand-in CLI: ``test_airflow_dag_mechanics.py``.
* End to end: ``infra/airflow/run_dag.sh`` (``airflow dags test``) for a fixed
  date with the real CLI; every task instance must end in success.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shlex
import subprocess
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.airflow_cli import airflow, explain, needs_airflow

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_VENV = ROOT / ".venvs" / "airflow"
CORE_VENV = ROOT / ".venvs" / "core"
DAG_ID = "civiclake_daily"
# Task groups of the source families: (task id, CLI arguments), in order. Steps about one
# day end with `--date {ds}`; the quality gates check silver as it stands and take no date.
OPEN311_URL = "http://127.0.0.1:8311"
DATED = " --date {ds}"
SOURCE_STEPS = {
    "governance": [
        ("simulate", "simulate governance" + DATED),
        ("simulate_intake", "simulate intake" + DATED),
        ("simulate_weather", "simulate weather" + DATED),
        ("ingest", "ingest governance" + DATED),
        ("quality", "quality governance"),
    ],
    "city": [
        ("simulate", "simulate city" + DATED),
        ("ingest", "ingest city" + DATED),
        ("quality", "quality city"),
    ],
    "resources": [
        ("simulate", "simulate resources" + DATED),
        ("ingest", "ingest resources" + DATED),
        ("quality", "quality resources"),
    ],
    "positions": [
        ("simulate", "simulate positions" + DATED),
        ("ingest", "ingest positions" + DATED),
        ("quality", "quality positions"),
    ],
    "cameras": [
        ("simulate", "simulate cameras" + DATED),
        ("ingest", "ingest cameras" + DATED),
        ("quality", "quality cameras"),
    ],
    "party": [
        ("simulate", "simulate party" + DATED),
        ("ingest", "ingest party" + DATED),
        ("quality", "quality party"),
    ],
    "services": [
        ("simulate", "simulate services" + DATED),
        ("ingest", "ingest services" + DATED),
        ("quality", "quality services"),
    ],
    "open311": [
        ("ingest", f"ingest open311 --base-url {OPEN311_URL}" + DATED),
        ("quality", "quality open311"),
    ],
}
# Families whose ingest reads another family's silver wait for that family's gate.
AFTER = {"positions": ["resources"], "cameras": ["resources"]}
SOURCE_TASKS = {
    f"sources.{family}.{step}": words for family, steps in SOURCE_STEPS.items() for step, words in steps
}
CLI_TASKS_BEFORE_DBT = [
    "cases_build",
    "classifier_train",
    "classifier_score",
    "operations_trigger",
    "dispatch_deliver",
    "escalation_check",
    "operations_follow",
    "manhole_street_bears",
    "simulate_departments",
    "simulate_reviews",
    "marts_prepare",
]
CLI_TASKS_AFTER_DBT = ["marts_publish", "summary"]
# The leaders' brief by e-mail and the dashboards' cache warm-up: after publish, beside
# the summary (any of them may run first).
BRIEF_TASK = "brief_push"
WARM_TASK = "marts_warm"
# Write-audit-publish and the cache warm-up work on files, not on a day: no --date.
CLI_COMMANDS = SOURCE_TASKS | {
    "cases_build": "cases build" + DATED,
    "classifier_train": "classifier train --max-age-days 7" + DATED,
    "classifier_score": "classifier score" + DATED,
    "dispatch_deliver": "dispatch deliver" + DATED,
    "escalation_check": "escalation check" + DATED,
    "operations_trigger": "operations trigger" + DATED,
    "operations_follow": "operations follow" + DATED,
    "manhole_street_bears": "manhole street-bears-due" + DATED,
    "simulate_departments": "simulate departments" + DATED,
    "simulate_reviews": "dispatch simulate-reviews" + DATED,
    "marts_prepare": "marts prepare",
    "marts_publish": "marts publish",
    "summary": "summary" + DATED,
    BRIEF_TASK: "brief send --skip-exit-code 99" + DATED,
    WARM_TASK: "marts warm --skip-exit-code 99",
}


def call(task_id: str, ds: str) -> str:
    """The CLI arguments task ``task_id`` runs with for logical date ``ds``."""
    return CLI_COMMANDS[task_id].format(ds=ds)


pytestmark = [
    pytest.mark.e2e,
    needs_airflow,
]


PROBE = textwrap.dedent(
    """
    import json, os
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    out = {"import_errors": {str(k): str(v) for k, v in bag.import_errors.items()}, "dags": {}}
    for dag_id, dag in bag.dags.items():
        tasks = {}
        for t in dag.tasks:
            command = None
            if hasattr(t, "python_callable") and type(t).__name__.startswith("_Bash"):
                command = t.python_callable()
            tasks[t.task_id] = {
                "upstream": sorted(t.upstream_task_ids),
                "operator": type(t).__name__,
                "retries": t.retries,
                "retry_delay_s": t.retry_delay.total_seconds(),
                "command": command,
                "dbt_executable_path": str(getattr(t, "dbt_executable_path", "") or "") or None,
            }
        out["dags"][dag_id] = {
            "timetable": type(dag.timetable).__name__,
            "catchup": dag.catchup,
            "max_active_runs": dag.max_active_runs,
            "max_active_tasks": dag.max_active_tasks,
            "order": [t.task_id for t in dag.topological_sort()],
            "tasks": tasks,
        }
    print("@@PROBE@@" + json.dumps(out))
    """
)


def probe_dagbag(env: dict[str, str] | None = None) -> dict:
    proc = airflow("python", "-c", PROBE, env=env, timeout=600)
    marker = [line for line in proc.stdout.splitlines() if line.startswith("@@PROBE@@")]
    assert proc.returncode == 0 and marker, f"DagBag probe failed: {explain(proc)}"
    return json.loads(marker[-1][len("@@PROBE@@") :])


def assert_pipeline_shape(dag: dict) -> list[str]:
    """The specified order; returns the dbt task ids (all between prepare and publish)."""
    tasks = dag["tasks"]
    dbt_tasks = sorted(t for t in tasks if t.startswith("dbt."))
    assert dbt_tasks, "the cosmos dbt task group rendered no tasks"
    expected = (
        set(SOURCE_TASKS)
        | set(CLI_TASKS_BEFORE_DBT)
        | set(CLI_TASKS_AFTER_DBT)
        | {BRIEF_TASK, WARM_TASK}
        | set(dbt_tasks)
    )
    assert set(tasks) == expected, f"unexpected tasks: {sorted(set(tasks) ^ expected)}"

    # Each family: its steps in a line, starting the run; the families side by side.
    last_steps = []
    for family, steps in SOURCE_STEPS.items():
        ids = [f"sources.{family}.{step}" for step, _ in steps]
        assert tasks[ids[0]]["upstream"] == [], f"{ids[0]} must start the run"
        for up, down in zip(ids, ids[1:], strict=False):
            waits = (
                [f"sources.{earlier}.quality" for earlier in AFTER.get(family, [])]
                if down.endswith(".ingest")
                else []
            )
            assert sorted(tasks[down]["upstream"]) == sorted([up, *waits]), (
                f"{down} must follow exactly {up}, {waits}"
            )
        last_steps.append(ids[-1])
    # Nothing downstream of the sources starts before every family passed its gate (a gate
    # another family waits for reaches it through that family).
    waited_for = {f"sources.{earlier}.quality" for earlier_list in AFTER.values() for earlier in earlier_list}
    assert sorted(tasks["cases_build"]["upstream"]) == sorted(set(last_steps) - waited_for)
    chain_before = CLI_TASKS_BEFORE_DBT
    for up, down in zip(chain_before, chain_before[1:], strict=False):
        assert tasks[down]["upstream"] == [up], f"{down} must follow exactly {up}"
    for t in dbt_tasks:
        ups = set(tasks[t]["upstream"])
        assert ups and ups <= set(dbt_tasks) | {"marts_prepare"}, f"{t} upstream {ups}"
        assert tasks[t]["dbt_executable_path"] == str(CORE_VENV / "bin" / "dbt") or tasks[t][
            "dbt_executable_path"
        ].endswith("/bin/dbt")
    roots = [t for t in dbt_tasks if tasks[t]["upstream"] == ["marts_prepare"]]
    assert roots, "no dbt task starts after marts_prepare"
    dbt_leaves = {t for t in dbt_tasks if not any(t in tasks[d]["upstream"] for d in dbt_tasks)}
    assert set(tasks["marts_publish"]["upstream"]) == dbt_leaves, "publish must wait for all dbt"
    assert tasks["summary"]["upstream"] == ["marts_publish"]
    assert tasks[BRIEF_TASK]["upstream"] == ["marts_publish"], "the brief reads the published marts"
    assert tasks[WARM_TASK]["upstream"] == ["marts_publish"], "the warm-up reads the published marts"

    order = dag["order"]
    positions = {t: order.index(t) for t in tasks}
    main_line = CLI_TASKS_BEFORE_DBT + CLI_TASKS_AFTER_DBT
    assert [positions[t] for t in main_line] == sorted(positions[t] for t in main_line)
    assert all(positions[t] < positions["classifier_train"] for t in SOURCE_TASKS)
    assert all(positions["marts_prepare"] < positions[t] < positions["marts_publish"] for t in dbt_tasks)
    assert positions[BRIEF_TASK] > positions["marts_publish"]
    assert positions[WARM_TASK] > positions["marts_publish"]
    return dbt_tasks


# --- the repository's DAG as the scheduler sees it -------------------------------


@pytest.fixture(scope="module")
def airflow_ready() -> None:
    proc = subprocess.run(
        ["bash", "infra/airflow/setup.sh"], cwd=ROOT, capture_output=True, text=True, timeout=1800
    )
    assert proc.returncode == 0, f"infra/airflow/setup.sh failed: {explain(proc)}"


@pytest.fixture(scope="module")
def repo_dagbag(airflow_ready) -> dict:
    return probe_dagbag()


def test_dagbag_imports_without_errors(repo_dagbag):
    assert repo_dagbag["import_errors"] == {}
    assert DAG_ID in repo_dagbag["dags"]


def test_dag_settings_and_task_order(repo_dagbag):
    dag = repo_dagbag["dags"][DAG_ID]
    assert dag["catchup"] is False
    assert dag["max_active_runs"] == 1
    assert dag["timetable"] in ("CronDataIntervalTimetable", "CronTriggerTimetable")
    assert_pipeline_shape(dag)
    tasks = dag["tasks"]
    for task_id, sub in CLI_COMMANDS.items():
        cmd = tasks[task_id]["command"]
        assert cmd.endswith(f"civiclake {sub.format(ds='{{ ds }}')}"), cmd
        assert cmd.startswith(str(CORE_VENV / "bin" / "civiclake")), cmd
    assert tasks["sources.governance.simulate"]["retries"] >= 1
    assert 0 < tasks["sources.governance.simulate"]["retry_delay_s"] <= 600
    assert all(tasks[f"sources.{family}.quality"]["retries"] == 0 for family in SOURCE_STEPS)


def json_output(proc: subprocess.CompletedProcess) -> list[dict]:
    """The JSON list an `airflow ... -o json` command printed (log lines may precede it)."""
    assert proc.returncode == 0, explain(proc)
    lines = [line for line in proc.stdout.splitlines() if line.startswith(("[{", "[]"))]
    assert lines, f"no JSON in the output: {explain(proc)}"
    return json.loads(lines[-1])


def states_for(env: dict[str, str], date: str) -> dict[str, str]:
    """Task states of the latest run of the DAG for a logical date, from the metadata DB."""
    runs = json_output(airflow("airflow", "dags", "list-runs", DAG_ID, "-o", "json", env=env))
    mine = [r for r in runs if (r["logical_date"] or "")[:10] == date]
    assert mine, f"no run of {DAG_ID} for {date} among {[r['run_id'] for r in runs]}"
    run_id = max(mine, key=lambda r: r["run_after"] or "")["run_id"]
    rows = json_output(
        airflow("airflow", "tasks", "states-for-dag-run", DAG_ID, run_id, "-o", "json", env=env)
    )
    return {row["task_id"]: row["state"] for row in rows}


# --- the services, as infra/airflow/start.sh runs them ------------------------------


def _secret(name: str) -> str:
    if os.environ.get(name):
        return os.environ[name]
    for line in (ROOT / "var" / "secrets.env").read_text().splitlines():
        if line.startswith(f"export {name}="):
            return line.split("=", 1)[1].strip().strip("'\"")
    raise AssertionError(f"{name} is neither in the environment nor in var/secrets.env")


def _http(url: str, data: dict | None = None, token: str | None = None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = json.dumps(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, {}


DRIVER_SCRIPT = "infra/spark/driver.sh"


def test_services_start_answer_and_stop(airflow_ready):
    api_pid = ROOT / "var" / "airflow" / "run" / "api-server.pid"
    was_running = api_pid.exists() and Path(f"/proc/{api_pid.read_text().strip()}").exists()
    base = f"http://127.0.0.1:{os.environ.get('AIRFLOW_API_PORT', '8080')}"
    start = subprocess.run(
        ["bash", "infra/airflow/start.sh"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    try:
        assert start.returncode == 0, explain(start)
        status, health = _http(f"{base}/api/v2/monitor/health")
        assert status == 200 and health["metadatabase"]["status"] == "healthy", health
        # The scheduled tasks' warm Spark driver (env.sh) runs beside them.
        driver = subprocess.run(["bash", DRIVER_SCRIPT, "status"], cwd=ROOT, capture_output=True, text=True)
        assert driver.returncode == 0 and driver.stdout.startswith("local-"), explain(driver)
        status, _ = _http(f"{base}/auth/token", {"username": "admin", "password": "not-it"})
        assert status in (401, 403)
        password = _secret("AIRFLOW_ADMIN_PASSWORD")
        status, login = _http(f"{base}/auth/token", {"username": "admin", "password": password})
        assert status in (200, 201) and login.get("access_token"), "admin login failed"
        token = login["access_token"]
        deadline = time.monotonic() + 180
        while True:  # the dag-processor parses and serialises the DAG after start
            status, dag = _http(f"{base}/api/v2/dags/{DAG_ID}", token=token)
            if status == 200 or time.monotonic() > deadline:
                break
            time.sleep(3)
        assert status == 200, f"{DAG_ID} not served by the API (HTTP {status})"
        status, errors = _http(f"{base}/api/v2/importErrors", token=token)
        assert status == 200 and errors["import_errors"] == [], errors
        deadline = time.monotonic() + 60
        while health["scheduler"]["status"] != "healthy" and time.monotonic() < deadline:
            time.sleep(2)
            _, health = _http(f"{base}/api/v2/monitor/health")
        assert health["scheduler"]["status"] == "healthy", health
    finally:
        if not was_running:
            stop = subprocess.run(
                ["bash", "infra/airflow/stop.sh"], cwd=ROOT, capture_output=True, text=True, timeout=120
            )
            assert stop.returncode == 0, explain(stop)
    if not was_running:
        assert not api_pid.exists(), "stop.sh left the api-server pid file"
        driver = subprocess.run(["bash", DRIVER_SCRIPT, "status"], cwd=ROOT, capture_output=True, text=True)
        assert driver.returncode == 1, "stop.sh left the warm Spark driver running"


# --- end to end with the real CLI --------------------------------------------------


def civiclake_commands(log: str) -> list[tuple[list[str], str]]:
    """Each ``civiclake`` command a bash task of the run's log ran: its arguments and its output."""
    found = []
    for block in log.split("Running command: ")[1:]:
        script = re.match(r"\[.*?'-c', '(.*?)'\]", block)
        words = shlex.split(script.group(1)) if script else []
        if words and words[0].endswith("/civiclake"):
            found.append((words[1:], block.split("Command exited with return code", 1)[0]))
    return found


def test_the_runs_spark_commands_share_one_warm_driver(dag_run):
    """run_dag.sh starts one Spark driver for the run (infra/spark/driver.sh): every Spark
    command of the run ran there, in its one application, and no other command did."""
    from civiclake.cli.driver import runs_spark

    commands = civiclake_commands(dag_run["proc"].stdout)
    on_driver = {
        " ".join(argv): re.findall(r"running on the warm Spark driver (\S+)", output)
        for argv, output in commands
    }
    spark = [" ".join(argv) for argv, _ in commands if runs_spark(argv)]
    # Every family's ingest, the case funnel, the classifier's training check and the scoring.
    assert {command.split(" --")[0] for command in spark} == {
        *(f"ingest {family}" for family in SOURCE_STEPS),
        "cases build",
        "classifier train",
        "classifier score",
    }
    applications = {app for command in spark for app in on_driver[command]}
    assert len(applications) == 1, applications
    assert all(len(on_driver[command]) == 1 for command in spark), {c: on_driver[c] for c in spark}
    others = {command: found for command, found in on_driver.items() if command not in spark}
    assert others and not any(others.values()), others
    # What a command prints on the driver reaches its task's log: the ingest's JSON summary.
    party = next(output for argv, output in commands if argv[:2] == ["ingest", "party"])
    assert '"table": "party_' in party, party[-2000:]


def test_dags_test_end_to_end(airflow_ready, dag_run):
    from collections import Counter

    import pandas as pd
    import psycopg

    from civiclake.geography import load_geography
    from civiclake.lake.read import read_table
    from civiclake.summary import run_summary
    from simulators.governance import cases_reported_on

    date = dag_run["date"]
    assert dag_run["proc"].returncode == 0, explain(dag_run["proc"], lines=120)
    states = states_for({}, date)
    assert set(CLI_COMMANDS) <= set(states)
    assert any(t.startswith("dbt.") for t in states)
    # Without an SMTP server the brief task ends as skipped (it says so in its log).
    allowed = {BRIEF_TASK: {"success", "skipped"}} if not os.environ.get("CIVICLAKE_SMTP_HOST") else {}
    # Superset serves other marts than this run's (the e2e data folder): nothing to warm.
    allowed[WARM_TASK] = {"success", "skipped"}
    not_ok = {t: s for t, s in states.items() if s not in allowed.get(t, {"success"})}
    assert not not_ok, f"task instances not in success: {not_ok}"

    # What the demo prints (the summary) agrees with the simulated source, by street: the
    # simulator's cases of the day and the residents' requests the intake API wrote into
    # the governance system (read back from that system, where the API placed them).
    settings = dag_run["settings"]
    day = dt.date.fromisoformat(date)
    plans = cases_reported_on(day, settings)
    with psycopg.connect(settings.pg_conninfo()) as conn:
        posted = [
            row[0]
            for row in conn.execute(
                "select community_code from governance.cases where case_id like %s", (f"GA{day:%Y%m%d}%",)
            ).fetchall()
        ]
    assert posted, "the simulated residents posted nothing through the intake API"
    geo = load_geography()
    expected = Counter(geo.street_of(p.community_code) for p in plans)
    expected.update(geo.street_of(community) for community in posted)
    summary = run_summary(settings, day)
    assert {s["area_code"]: s["cases_reported"] for s in summary["streets"]} == {
        code: expected.get(code, 0) for code in geo.streets
    }
    governance_cases = len(plans) + len(posted)
    assert summary["district"]["cases_reported"] == governance_cases
    # Every channel's case of the day is dispatched once: governance, city management and
    # Longhua's Open311 requests, each counted in its own silver table.
    city = read_table(settings, "silver", "city_cases", columns=["reported_at"]).to_pandas()
    city_of_day = (pd.to_datetime(city["reported_at"], utc=True).dt.date == day).sum()
    open311 = read_table(
        settings, "silver", "open311_requests", columns=["jurisdiction", "requested_date_local"]
    ).to_pandas()
    open311_of_day = ((open311["jurisdiction"] == "longhua") & (open311["requested_date_local"] == day)).sum()
    assert city_of_day > 0 and open311_of_day > 0
    # The day's camera events (from the simulated clips, through the frame model) are cases too.
    events = read_table(settings, "silver", "camera_events", columns=["started_at"]).to_pandas()
    events_of_day = int((pd.to_datetime(events["started_at"], utc=True).dt.date == day).sum())
    assert events_of_day > 0, "the frame model found no event in the day's simulated clips"
    assert summary["cameras"]["camera_events"] == events_of_day
    dispatch = summary["dispatch"]
    assert dispatch["auto"] + dispatch["review"] + dispatch["duplicate"] == (
        governance_cases + city_of_day + open311_of_day + events_of_day
    )
    assert sum(dispatch["auto_by_department"].values()) == dispatch["auto"]
    # Every source family landed its batch, and each batch adds up.
    families = ("governance_", "city_", "resources_", "party_", "services_", "open311_requests")
    for family in families:
        assert any(t.startswith(family) for t in summary["sources"]), (family, sorted(summary["sources"]))
    for table, c in summary["sources"].items():
        assert c["source_rows"] == c["silver_rows"] + c["quarantined_rows"] + c["duplicate_rows"], table
    assert summary["headline"]["cases_reported"] == governance_cases
    recon = summary["reconciliation"]["governance_cases"]
    assert recon["source_rows"] == recon["silver_rows"] + recon["quarantined_rows"] + recon["duplicate_rows"]
    assert summary["rows"]["silver.governance_cases (all)"] == recon["silver_rows"]

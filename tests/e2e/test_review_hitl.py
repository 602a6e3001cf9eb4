"""civiclake_review: a day's review queue worked through Airflow's human-in-the-loop tasks.

The real services (``infra/airflow/start.sh``: api-server, scheduler, dag-processor) run
the repository's DAG folder on a small lake of their own: a few cases written with delta-rs
(``tests/unit/test_review_queue.py``'s lake; no Spark, no daily run). The test triggers the
DAG through the REST API as an operator would, waits until each case's task awaits input,
answers one as a reviewer does in the browser (the UI sends the same ``hitlDetails`` PATCH),
and reads the correction back from silver.case_label_corrections — where the next training
takes its labels from (``spark_jobs/train_classifier.py``; shown on Spark by
``tests/integration/test_dispatch.py::test_training_uses_the_corrected_label``).

The services get an Airflow home, metadata database (SQLite) and port of their own, started
once for this module and stopped at its end: a demo's Airflow on this machine, or another
module's, is neither used nor disturbed, and no run is left behind.
"""

from __future__ import annotations

import json
import os
import textwrap
import time
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import requests

from civiclake.dispatch import corrections
from civiclake.pii import tokenise
from civiclake.review.queue import review_queue
from civiclake.settings import Settings
from tests.e2e.airflow_cli import airflow, explain, needs_airflow
from tests.e2e.conftest import free_port
from tests.unit.test_review_queue import write_review_lake

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_VENV = ROOT / ".venvs" / "airflow"
CORE_VENV = ROOT / ".venvs" / "core"
DAG_ID = "civiclake_review"
DAY = "2026-11-25"
# The queue of DAY in that lake as a reviewer gets it (map index = position): by what an
# answer teaches the model, with one of the three drawn at random and placed last
# (civiclake.review.order; tests/unit/test_review_queue.py has the order without the draw).
QUEUE = ["R3", "R1", "R2"]
R1_AT = QUEUE.index("R1")

pytestmark = [
    pytest.mark.e2e,
    needs_airflow,
]


def wait_for(what: str, check, timeout: float = 120, every: float = 1.0):
    """``check()``'s first truthy value, or a failure naming ``what`` and the last value seen."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout:.0f} s (last seen: {value!r})")
        time.sleep(every)


# --- the DAG as the dag-processor parses it -----------------------------------------

PROBE = textwrap.dedent(
    """
    import json, os
    from airflow.dag_processing.dagbag import DagBag
    from airflow.providers.standard.operators.hitl import HITLOperator

    bag = DagBag(dag_folder=os.path.join(os.environ["AIRFLOW__CORE__DAGS_FOLDER"], "civiclake_review.py"))
    out = {"import_errors": {str(k): str(v) for k, v in bag.import_errors.items()}}
    dag = bag.dags.get("civiclake_review")
    if dag is not None:
        out["timetable"] = type(dag.timetable).__name__
        out["params"] = {k: dag.params.get_param(k).serialize() for k in dag.params}
        out["tasks"] = {
            t.task_id: {
                "upstream": sorted(t.upstream_task_ids),
                "hitl": isinstance(t, HITLOperator),
                "template_fields": list(t.template_fields),
                "task_params": sorted(getattr(t, "serialized_params", {}) or {}),
            }
            for t in dag.tasks
        }
        out["mapped_group"] = type(dag.task_group_dict["case"]).__name__
        out["cli"] = __import__("civiclake_review").CIVICLAKE.as_posix()
    print("@@PROBE@@" + json.dumps(out, default=str))
    """
)


def test_the_review_dag_imports_with_a_mapped_human_in_the_loop_task_per_case(tmp_path):
    env = {
        "AIRFLOW_HOME": str(tmp_path / "home"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path}/probe.db",
        "PYTHONPATH": str(ROOT / "dags"),
    }
    proc = airflow("python", "-c", PROBE, env=env)
    marker = [line for line in proc.stdout.splitlines() if line.startswith("@@PROBE@@")]
    assert proc.returncode == 0 and marker, f"DagBag probe failed: {explain(proc)}"
    found = json.loads(marker[-1].removeprefix("@@PROBE@@"))
    assert found["import_errors"] == {}
    assert found["timetable"] == "NullTimetable"  # triggered by a person, for a day they choose
    # The day is required: the trigger form asks for it, no default hides a forgotten one.
    date_param = found["params"]["date"]
    assert date_param["schema"]["format"] == "date" and date_param["value"] == "NOTSET"
    tasks = found["tasks"]
    assert set(tasks) == {"open_queue", "case.decide", "case.record"}
    assert found["mapped_group"] == "MappedTaskGroup"
    assert tasks["case.decide"]["hitl"] and "options" in tasks["case.decide"]["template_fields"]
    assert tasks["case.decide"]["task_params"] == ["department"]
    assert tasks["case.decide"]["upstream"] == ["open_queue"]
    assert tasks["case.record"]["upstream"] == ["case.decide", "open_queue"]
    assert found["cli"] == (CORE_VENV / "bin" / "civiclake").as_posix()


# --- the services, a small lake, a reviewer ------------------------------------------


@pytest.fixture(scope="module")
def review_lake(tmp_path_factory) -> Settings:
    missing = [n for n in ("CIVICLAKE_PII_KEY", "AIRFLOW_ADMIN_PASSWORD") if not os.environ.get(n)]
    if missing:
        pytest.fail(f"the review test needs {missing}: `source var/secrets.env` or run `make test`")
    settings = Settings(data_dir=tmp_path_factory.mktemp("review-lake"), lake_path=None)
    write_review_lake(settings)
    assert [c.case_id for c in review_queue(settings, date.fromisoformat(DAY))] == QUEUE
    return settings


@pytest.fixture(scope="module")
def services(tmp_path_factory, review_lake) -> dict:
    """api-server, scheduler and dag-processor by infra/airflow/start.sh, on the review lake."""
    home = tmp_path_factory.mktemp("review-airflow")
    port = free_port()
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW_API_PORT": str(port),
        "CIVICLAKE_DATA_DIR": str(review_lake.data_dir),
        # The review DAG runs no Spark command: start.sh starts no warm Spark driver for it.
        "CIVICLAKE_SPARK_WARM_DRIVER": "false",
    }
    if os.environ.get("CIVICLAKE_LAKE_PATH"):
        pytest.fail("unset CIVICLAKE_LAKE_PATH: the services must read this module's lake")
    migrate = airflow("airflow", "db", "migrate", env=env)
    assert migrate.returncode == 0, f"airflow db migrate failed: {explain(migrate)}"
    start = airflow("bash", "infra/airflow/start.sh", env=env)
    try:
        assert start.returncode == 0, f"infra/airflow/start.sh failed: {explain(start)}"
        yield {"base": f"http://127.0.0.1:{port}", "env": env}
    finally:
        stop = airflow("bash", "infra/airflow/stop.sh", env=env, timeout=120)
        assert stop.returncode == 0, explain(stop)


class Api(requests.Session):
    """A REST session on one Airflow's API (``base`` ends in /api/v2)."""

    def __init__(self, base: str):
        super().__init__()
        self.base = base


@pytest.fixture(scope="module")
def api(services) -> Api:
    """A REST session logged in as the admin user (the reviewer here)."""
    session = Api(f"{services['base']}/api/v2")
    login = session.post(
        f"{services['base']}/auth/token",
        json={"username": "admin", "password": os.environ["AIRFLOW_ADMIN_PASSWORD"]},
        timeout=10,
    )
    assert login.status_code in (200, 201), login.text
    session.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
    wait_for(
        f"{DAG_ID} served by the API", lambda: session.get(f"{session.base}/dags/{DAG_ID}").status_code == 200
    )
    assert session.patch(f"{session.base}/dags/{DAG_ID}", json={"is_paused": False}).status_code == 200
    return session


@pytest.fixture(scope="module")
def review_run(api):
    """A run of civiclake_review for DAY, triggered as an operator does; ended and deleted after."""
    answer = api.post(f"{api.base}/dags/{DAG_ID}/dagRuns", json={"logical_date": None, "conf": {"date": DAY}})
    assert answer.status_code == 200, answer.text
    run_id = answer.json()["dag_run_id"]
    yield run_id
    api.patch(f"{api.base}/dags/{DAG_ID}/dagRuns/{run_id}", json={"state": "failed"})
    deleted = api.delete(f"{api.base}/dags/{DAG_ID}/dagRuns/{run_id}")
    assert deleted.status_code == 204, deleted.text
    api.patch(f"{api.base}/dags/{DAG_ID}", json={"is_paused": True})


def task_states(api, run_id: str) -> dict[tuple[str, int], str | None]:
    rows = api.get(f"{api.base}/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances").json()["task_instances"]
    return {(t["task_id"], t["map_index"]): t["state"] for t in rows}


def scheduler_loops_passed(api, loops: int):
    """A check that turns true once the scheduler has reported ``loops`` heartbeats after the
    first call: each lies at least one full scheduling loop after the one before."""
    beats: list[str | None] = []

    def check() -> bool:
        health = api.get(f"{api.base}/monitor/health").json()
        beat = health["scheduler"]["latest_scheduler_heartbeat"]
        if not beats or beat != beats[-1]:
            beats.append(beat)
        return len(beats) > loops

    return check


def test_a_run_without_a_day_is_refused(api):
    answer = api.post(f"{api.base}/dags/{DAG_ID}/dagRuns", json={"logical_date": None, "conf": {}})
    assert answer.status_code == 400 and "date" in answer.text, answer.text


def test_a_reviewer_answers_a_case_and_it_becomes_a_correction(api, review_run, review_lake):
    run = f"{api.base}/dags/{DAG_ID}/dagRuns/{review_run}"

    def awaiting():
        details = api.get(f"{run}/hitlDetails").json().get("hitl_details", [])
        states = [d["task_instance"]["state"] for d in details]
        return details if len(details) == len(QUEUE) and set(states) == {"awaiting_input"} else None

    opened = time.monotonic()
    details = sorted(
        wait_for("every case awaiting input", awaiting), key=lambda d: d["task_instance"]["map_index"]
    )
    print(
        f"{len(details)} cases awaiting input {time.monotonic() - opened:.1f} s after the run was triggered"
    )
    # A reviewer reads a card before answering; the scheduler, meanwhile, sees each parked
    # task's worker exit. An answer faster than that meets the race the decide task's retry
    # is for (dags/civiclake_review.py); this test is about the answer, so it waits as long.
    wait_for("two scheduler heartbeats after the cards are up", scheduler_loops_passed(api, 2), timeout=60)
    # What the reviewer sees: one task per case, oldest report first, the model's suggestions
    # first among the options, the text, place and channel in the body.
    assert [d["subject"].split("：")[0] for d in details] == [f"分类审核 {c}" for c in QUEUE]
    r1 = details[R1_AT]
    assert r1["options"][:3] == [
        "噪音扰民 noise · 41%",
        "物业纠纷 property · 33%",
        "市容环境 environment · 12%",
    ]
    assert len(r1["options"]) == 10 and r1["multiple"] is False
    assert "> 楼下广场舞音响太吵，晚上十点还在跳" in r1["body"] and "| 噪音扰民 | noise | 41% |" in r1["body"]
    assert "- **地点**：龙华街道 · 龙华社区" in r1["body"] and "- **渠道**：12345热线" in r1["body"]
    assert set(r1["params"]) == {"department"}

    answer_url = f"{run}/taskInstances/case.decide/{R1_AT}/hitlDetails"
    wrong = api.patch(answer_url, json={"chosen_options": ["noise"], "params_input": {"department": None}})
    assert wrong.status_code == 400, wrong.text  # not one of the offered options
    started = time.monotonic()
    answer = api.patch(
        answer_url,
        json={"chosen_options": ["物业纠纷 property · 33%"], "params_input": {"department": "住房和建设局"}},
    )
    assert answer.status_code == 200, answer.text
    responded = answer.json()
    assert responded["responded_by"]["name"] == "admin"
    again = api.patch(answer_url, json={"chosen_options": ["噪音扰民 noise · 41%"], "params_input": {}})
    assert again.status_code == 409  # one answer per case and try

    def recorded():
        states = task_states(api, review_run)
        assert states[("case.record", R1_AT)] not in ("failed", "upstream_failed"), states
        return states if states[("case.record", R1_AT)] == "success" else None

    states = wait_for("the answer recorded", recorded)
    print(f"answer recorded {time.monotonic() - started:.1f} s after the reviewer's PATCH")
    # Only the answered case moved on; the others still wait for their reviewer.
    others = [i for i in range(len(QUEUE)) if i != R1_AT]
    assert states[("case.decide", R1_AT)] == "success"
    assert all(states[("case.decide", i)] == "awaiting_input" for i in others), states
    assert all(states[("case.record", i)] is None for i in others), states

    stored = corrections.read(review_lake).set_index("case_id")
    assert sorted(stored.index) == ["R1", "R4"]  # R4 was decided before the run
    r1_row = stored.loc["R1"]
    assert (r1_row["corrected_category"], r1_row["corrected_department"]) == ("property", "住房和建设局")
    assert r1_row["reviewer_token"] == tokenise("admin", "name", review_lake.require_pii_key())
    # The moment of the answer, as the district's wall clock (UTC+8), is the decision time:
    # training for any later day takes it as R1's label.
    responded_at = pd.Timestamp(responded["responded_at"]).tz_convert("Asia/Shanghai").tz_localize(None)
    assert r1_row["reviewed_at"] == responded_at
    # Decided cases leave the queue; a run opened now would show the two still waiting.
    assert [c.case_id for c in review_queue(review_lake, date.fromisoformat(DAY))] == ["R2", "R3"]

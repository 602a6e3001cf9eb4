"""civiclake_operation: one joint operation (联合行动) started from a plan (预案), with one click.

Trigger it from the Airflow UI's trigger form: pick the plan (the plans of
``civiclake/reference/operations/plans``, listed by name), give the code of the area of the
plan's level it runs in (a street's or community's code, or the district's), optionally a
note and a start time on the district's clock (default: now). ``start`` records the
operation and puts one order per task in the dispatch outbox
(``civiclake operations start … --no-deliver``); ``deliver`` sends them to the departments'
queue in the governance system, exactly once per order id (``civiclake operations deliver``).
The daily DAG then follows the orders up (``operations_follow``): an order not completed by
its due time goes up once to the plan's escalation department.

The Airflow run id is the start key: retrying ``start`` or the whole run starts nothing new
(the operation id is derived from plan, area and key); a new run is a new operation.

Every step is the ``civiclake`` CLI of the core environment (``.venvs/core``), run as a
subprocess with an argument list (no shell: the note is an operator's free text); the
plans are read here with the standard library and PyYAML only (the Airflow environment does
not have the civiclake package), and validated by the CLI when the operation starts.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import timedelta
from pathlib import Path

import pendulum
import yaml
from airflow.sdk import Param, dag, get_current_context, task

ROOT = Path(os.environ.get("CIVICLAKE_HOME") or Path(__file__).resolve().parent.parent)
CORE_VENV = Path(os.environ.get("CIVICLAKE_CORE_VENV") or ROOT / ".venvs" / "core")
CIVICLAKE = CORE_VENV / "bin" / "civiclake"
PLANS_DIR = ROOT / "civiclake" / "reference" / "operations" / "plans"
AT_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}$"
_LEVELS = {"district": "区", "street": "街道", "community": "社区"}


def _plans(folder: Path) -> dict[str, str]:
    """Plan id → the label the form shows (name and level), in id order. A file that cannot be
    read as a plan is left out here; `civiclake operations validate` names its problem."""
    plans = {}
    for path in sorted(folder.glob("*.yaml")):
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(document, dict) and document.get("plan_id") == path.stem:
            level = _LEVELS.get(document.get("area_level"), document.get("area_level"))
            plans[path.stem] = f"{document.get('name', path.stem)}（{level}级，{path.stem}）"
    if not plans:
        raise FileNotFoundError(
            f"no operation plans (*.yaml) in {folder}; set CIVICLAKE_HOME to the project root"
        )
    return plans


def _civiclake(*args: str) -> str:
    """Runs ``civiclake <args>``; its stdout, or a failure carrying the CLI's own message."""
    proc = subprocess.run(
        [str(CIVICLAKE), *args], cwd=ROOT, capture_output=True, text=True, encoding="utf-8", check=False
    )
    if proc.stderr:
        print(proc.stderr)
    if proc.returncode != 0:
        raise RuntimeError(
            f"`civiclake {' '.join(args)}` failed (exit {proc.returncode}): {proc.stderr[-2000:]}"
        )
    return proc.stdout


PLANS = _plans(PLANS_DIR)


@dag(
    dag_id="civiclake_operation",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={
        "plan": Param(
            next(iter(PLANS)),
            type="string",
            enum=list(PLANS),
            values_display=PLANS,
            title="预案 (plan)",
            description="The plan to start (civiclake/reference/operations/plans).",
        ),
        "area": Param(
            type="string",
            minLength=1,
            title="区域编码 (area)",
            description="The code of the area the operation runs in, of the plan's level "
            "(e.g. a street's 9-digit or a community's 12-digit code).",
        ),
        "note": Param(
            None,
            type=["null", "string"],
            format="multiline",
            title="备注 (note)",
            description="Optional: why, who leads, anything the departments should know.",
        ),
        "at": Param(
            None,
            type=["null", "string"],
            pattern=AT_PATTERN,
            title="开始时间 (start time)",
            description='Optional: the start on the district\'s clock, "YYYY-MM-DD HH:MM"; empty: now.',
        ),
    },
    default_args={"owner": "command-centre", "retries": 1, "retry_delay": timedelta(minutes=1)},
    tags=["civiclake", "operations"],
    doc_md=__doc__,
)
def civiclake_operation():
    @task
    def start() -> dict:
        """Records the operation and enqueues one order per task (not delivered yet)."""
        context = get_current_context()
        params = context["params"]
        args = ["operations", "start", "--plan", params["plan"], "--area", str(params["area"]).strip()]
        args += ["--key", context["run_id"], "--no-deliver"]
        if params.get("note"):
            args += ["--note", params["note"]]
        if params.get("at"):
            args += ["--at", params["at"]]
        started = json.loads(_civiclake(*args))
        print(
            f"operation {started['operation_id']} ({started['plan_name']}, {started['area_name']}): "
            f"{len(started['orders'])} order(s), {'new' if started['new'] else 'started before'}"
        )
        return {"operation_id": started["operation_id"], "orders": [o["order_id"] for o in started["orders"]]}

    @task
    def deliver(started: dict) -> None:
        """Delivers the outbox to the departments' queue, exactly once per order id."""
        _civiclake("operations", "deliver")
        print(f"operation {started['operation_id']}: {len(started['orders'])} order(s) delivered")

    deliver(start())


civiclake_operation()

"""Starting a joint operation: a plan, an area of the plan's level, a start key.

:func:`start_operation` resolves the area in the reference geography, renders each task's
department over it, records the operation and its tasks (``state.operations``,
``state.operation_tasks``) and sends one order per task through the dispatch outbox into
``governance.dispatch_orders`` (kind ``operation``, case_id = the operation id).

Exactly once: the operation id is derived from the plan, the area and the start key (the
Airflow run of a manual start, the window of a condition), the order ids from the operation
and the task, and every write inserts only what is not there yet. Starting again with the
same key — a retried task, a condition still true the next hour — records, enqueues and
delivers nothing new, and reports the operation as it was first started.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd

from civiclake.dispatch.orders import ORDER_COLUMNS, order_id
from civiclake.geography import Area, Geography, load_geography
from civiclake.operations import state
from civiclake.operations.plans import TRIGGER_KINDS, Plan, get_plan
from civiclake.settings import Settings

log = logging.getLogger(__name__)

ORDER_KIND = "operation"
STARTED_BY = TRIGGER_KINDS  # "manual", or the kind of the condition that started it
# The deadline goes out with the task, as a work order carries its time limit (办理时限):
# the department sees by when, and the reason still reads as the task.
_REASON = "{task}（时限{hours:g}小时）"
_REASON_PATTERN = re.compile(r"（时限(\d+(?:\.\d+)?)小时）$")


class OperationError(ValueError):
    """An operation that cannot be started (unknown area, an area of another level)."""


def operation_id(plan_id: str, area_code: str, start_key: str) -> str:
    """``OP`` and 20 hex digits of SHA-256 over the plan, the area and the start key."""
    digest = hashlib.sha256("\x1f".join((plan_id, area_code, start_key)).encode()).hexdigest()
    return f"OP{digest[:20]}"


def task_reason(task: str, due_hours: float) -> str:
    """The order's reason: the task and its time limit."""
    return _REASON.format(task=task, hours=due_hours)


def due_hours_of(reason: str | None) -> float | None:
    """The time limit an operation order's reason carries (None: it carries none)."""
    match = _REASON_PATTERN.search(reason or "")
    return float(match.group(1)) if match else None


@dataclass(frozen=True)
class OperationArea:
    """The area an operation runs in, with the codes above it and the names its templates use."""

    level: str
    code: str
    name: str
    district_code: str
    street_code: str | None
    community_code: str | None
    fields: dict[str, str] = field(default_factory=dict)


def _level_of(code: str, geography: Geography) -> tuple[str, str] | None:
    if code == geography.district.code:
        return "district", geography.district.name
    for level, areas in (
        ("street", geography.streets),
        ("community", geography.communities),
        ("grid", geography.grids),
    ):
        if code in areas:
            return level, areas[code].name
    return None


def _nearby(level: str, code: str, geography: Geography) -> list[Area]:
    """Areas of ``level`` to suggest for ``code``: those within it, or the one it lies in."""
    areas = {"district": {geography.district.code: geography.district}, "street": geography.streets}
    areas["community"] = geography.communities
    if level == "district":
        return [geography.district]
    within = [a for a in areas[level].values() if a.code.startswith(code) and a.code != code]
    containing = [a for a in areas[level].values() if code.startswith(a.code)]
    return containing or within or list(areas[level].values())


def resolve_area(level: str, code: str, geography: Geography | None = None) -> OperationArea:
    """The area of ``level`` with ``code``; OperationError naming what the code is instead."""
    geography = geography or load_geography()
    code = str(code).strip()
    found = _level_of(code, geography)
    if found is None or found[0] != level:
        examples = ", ".join(f"{a.code} {a.name}" for a in _nearby(level, code, geography)[:2])
        what = (
            f"is not an area of {geography.district.name}"
            if found is None
            else f"is a {found[0]} ({found[1]}), not a {level}"
        )
        raise OperationError(
            f"area {code!r} {what}: the plan runs in a {level}; give a {level} code, e.g. {examples}"
        )
    district = geography.district
    fields = {"district_name": district.name}
    street = community = None
    if level == "community":
        community = geography.communities[code]
        street = geography.streets[community.parent_code]
    elif level == "street":
        street = geography.streets[code]
    if street is not None:
        fields |= {"street_name": street.name, "street_code": street.code}
    if community is not None:
        fields |= {"community_name": community.name, "community_code": community.code}
    return OperationArea(
        level=level,
        code=code,
        name=found[1],
        district_code=district.code,
        street_code=street.code if street else None,
        community_code=community.code if community else None,
        fields=fields,
    )


def plan_tasks(plan: Plan, area: OperationArea, operation: str, started_at: datetime) -> pd.DataFrame:
    """The operation's tasks (columns of ``state.operation_tasks``): one order id each, the
    department rendered over the area, due ``due_hours`` after the start."""
    escalation_department = plan.escalation.department.format(**area.fields)
    rows = []
    for index, task in enumerate(plan.tasks):
        department = task.department.format(**area.fields)
        rows.append(
            {
                "operation_id": operation,
                "order_id": order_id(operation, ORDER_KIND, plan.area_level, department, basis=str(index)),
                "task_index": index,
                "department": department,
                "task": task.task,
                "due_at": started_at + timedelta(hours=task.due_hours),
                "escalation_level": plan.escalation.level,
                "escalation_department": escalation_department,
            }
        )
    return pd.DataFrame(rows, columns=state.TASKS_SCHEMA.names)


def orders_of(tasks: pd.DataFrame, level: str, started_at: datetime) -> pd.DataFrame:
    """The operation orders (columns :data:`ORDER_COLUMNS`) of the tasks, issued at the start."""
    orders = pd.DataFrame(
        {
            "order_id": tasks["order_id"],
            "case_id": tasks["operation_id"],
            "kind": ORDER_KIND,
            "level": level,
            "department": tasks["department"],
            "team": None,
            "reason": [
                task_reason(task, (pd.Timestamp(due) - pd.Timestamp(started_at)) / pd.Timedelta(hours=1))
                for task, due in zip(tasks["task"], tasks["due_at"], strict=True)
            ],
            "previous_order_id": None,
            "issued_at": pd.Timestamp(started_at),
            "accepted_at": pd.NaT,
            "status": "issued",
            "updated_at": pd.Timestamp(started_at),
            "completed_at": pd.NaT,
        }
    )
    return orders.reindex(columns=list(ORDER_COLUMNS))


@dataclass(frozen=True)
class StartedOperation:
    """An operation as started (or as first started, when ``new`` is False) and its delivery."""

    operation_id: str
    plan_id: str
    plan_name: str
    area: OperationArea
    started_at: datetime
    started_by: str
    start_key: str
    new: bool  # False: the same start (plan, area, key) was made before; nothing new was sent
    tasks: pd.DataFrame  # state.operation_tasks rows
    enqueued: int  # orders new in the outbox
    delivery: dict[str, int]  # outbox.deliver's counts ({} when not delivered here)


def _wall_clock(at: datetime) -> datetime:
    stamp = pd.Timestamp(at)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("Asia/Shanghai").tz_localize(None)
    return stamp.to_pydatetime()


def start_operation(
    settings: Settings,
    plan: Plan | str,
    area_code: str,
    *,
    started_at: datetime,
    started_by: str,
    start_key: str,
    note: str | None = None,
    trigger_detail: str | None = None,
    deliver: bool = True,
) -> StartedOperation:
    """Starts ``plan`` (a Plan or a plan id of the shipped plans) in the area ``area_code`` of
    the plan's level: records it, enqueues one order per task and, unless ``deliver`` is
    False, delivers the outbox. ``started_at`` is the district's wall clock (naive, or with a
    zone); ``started_by`` ``manual`` or the trigger's kind; ``start_key`` what makes this
    start this one (the Airflow run id, the condition's window).

    Idempotent on the operation id: a second call with the same plan, area and key sends
    nothing new and returns the operation as first recorded (``new`` False).
    """
    from civiclake.dispatch import outbox

    if isinstance(plan, str):
        plan = get_plan(plan)
    if started_by not in STARTED_BY:
        raise OperationError(f"started_by {started_by!r} is not one of {list(STARTED_BY)}")
    if not str(start_key).strip():
        raise OperationError("start_key is empty: it tells this start from another of the same plan and area")
    area = resolve_area(plan.area_level, area_code)
    operation = operation_id(plan.plan_id, area.code, start_key)
    started_at = _wall_clock(started_at)
    record = {
        "operation_id": operation,
        "plan_id": plan.plan_id,
        "plan_name": plan.name,
        "area_level": plan.area_level,
        "area_code": area.code,
        "district_code": area.district_code,
        "street_code": area.street_code,
        "community_code": area.community_code,
        "started_at": started_at,
        "started_by": started_by,
        "trigger_detail": trigger_detail,
        "note": note,
        "start_key": start_key,
    }
    stored = state.read_operations(settings, operation)
    if stored.empty:
        tasks = plan_tasks(plan, area, operation, started_at)
        new = state.record(settings, record, tasks)
    else:
        new = False
    # What was first recorded rules: a rerun with another time or an edited plan sends the
    # orders the operation started with.
    first = state.read_operations(settings, operation).iloc[0]
    tasks = state.read_tasks(settings, operation)
    started_at = pd.Timestamp(first["started_at"]).to_pydatetime()
    enqueued = outbox.enqueue(settings, orders_of(tasks, first["area_level"], started_at))
    delivery = outbox.deliver(settings) if deliver else {}
    log.info(
        "operation %s (%s in %s %s): %s, %d order(s) new in the outbox",
        operation,
        plan.plan_id,
        area.level,
        area.code,
        "started" if new else "started before",
        enqueued,
    )
    return StartedOperation(
        operation_id=operation,
        plan_id=str(first["plan_id"]),
        plan_name=str(first["plan_name"]),
        area=area,
        started_at=started_at,
        started_by=str(first["started_by"]),
        start_key=str(first["start_key"]),
        new=new,
        tasks=tasks,
        enqueued=enqueued,
        delivery=delivery,
    )

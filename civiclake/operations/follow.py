"""Following joint operations up: where each order stands, one escalation per late order, and
a report per operation.

An operation order stands, at an instant:

* ``completed`` when the department reported it done by then;
* ``escalated`` when not, and the escalation of it has been issued;
* ``overdue`` when not, its due time has passed and nobody above has been told yet;
* ``accepted`` when the department accepted it (and it is not yet due);
* ``issued`` otherwise (also while the governance system's answer has not reached the lake).

An overdue order gets one escalation order (kind ``escalation``, following the operation
order) to the department and level the operation agreed at its start
(``state.operation_tasks``). Its id comes from the operation, the level, the department and
the order it follows, never from the instant of the check, so checking again — the next day,
a rerun — gives the same order, which the outbox holds and delivers once. The escalation does
not take the task from its department (the outbox never supersedes an operation order): the
level above sees that it gets done.

An operation is ``completed`` when all its orders are, ``overdue`` while any is late and not
done (overdue or escalated), ``running`` otherwise.

The functions over frames are pure (pandas, times naive wall clock); :func:`follow` reads the
lake and sends the escalations.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd

from civiclake.dispatch.orders import ORDER_COLUMNS, close_of_day, order_id
from civiclake.lake.read import wall_clock
from civiclake.settings import Settings

log = logging.getLogger(__name__)

ORDER_STATES = ("issued", "accepted", "completed", "overdue", "escalated")
OPERATION_STATUSES = ("running", "completed", "overdue")
STATE_COLUMNS = (
    "operation_id",
    "order_id",
    "task_index",
    "department",
    "task",
    "issued_at",
    "due_at",
    "accepted_at",
    "completed_at",
    "state",
    "late",
    "escalation_order_id",
)
# What order_states reads of the dispatch orders.
ORDER_INPUT_COLUMNS = ("order_id", "kind", "previous_order_id", "issued_at", "accepted_at", "completed_at")
REPORT_COLUMNS = (
    "operation_id",
    "plan_id",
    "plan_name",
    "area_level",
    "area_code",
    "started_at",
    "orders",
    *ORDER_STATES,
    "late",
    "status",
    "completed_at",
    "minutes_to_complete",
)


def _times(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    return frame.assign(**{c: wall_clock(frame[c]) for c in columns})


def order_states(
    operations: pd.DataFrame, tasks: pd.DataFrame, orders: pd.DataFrame, as_of: datetime
) -> pd.DataFrame:
    """Each task's order of the operations started by ``as_of`` and where it stands then
    (:data:`STATE_COLUMNS`).

    ``operations`` and ``tasks`` are ``state.operations`` and ``state.operation_tasks``;
    ``orders`` the dispatch orders as known (order_id, kind, previous_order_id, issued_at,
    accepted_at, completed_at): an operation order the governance system has not reported
    yet counts as issued.
    """
    as_of = pd.Timestamp(as_of)
    operations = _times(operations, "started_at")
    started = operations.loc[operations["started_at"].le(as_of), ["operation_id", "started_at"]]
    frame = _times(tasks, "due_at").merge(started, on="operation_id", how="inner")
    orders = _times(orders, "issued_at", "accepted_at", "completed_at")
    reported = orders.drop_duplicates("order_id").set_index("order_id")
    frame["issued_at"] = frame["started_at"]
    frame["accepted_at"] = frame["order_id"].map(reported["accepted_at"])
    frame["completed_at"] = frame["order_id"].map(reported["completed_at"])
    # What happened after the instant has not happened yet at it.
    frame["accepted_at"] = frame["accepted_at"].where(frame["accepted_at"].le(as_of))
    frame["completed_at"] = frame["completed_at"].where(frame["completed_at"].le(as_of))
    escalations = orders[orders["kind"].eq("escalation") & orders["issued_at"].le(as_of)]
    first_escalation = (
        escalations.sort_values(["issued_at", "order_id"])
        .drop_duplicates("previous_order_id")
        .set_index("previous_order_id")
    )
    frame["escalation_order_id"] = frame["order_id"].map(first_escalation["order_id"])

    completed = frame["completed_at"].notna()
    past_due = frame["due_at"].lt(as_of)
    state = pd.Series("issued", index=frame.index)
    state[frame["accepted_at"].notna()] = "accepted"
    state[~completed & past_due] = "overdue"
    state[~completed & frame["escalation_order_id"].notna()] = "escalated"
    state[completed] = "completed"
    frame["state"] = state
    frame["late"] = (completed & frame["completed_at"].gt(frame["due_at"])) | (~completed & past_due)
    frame["escalation_order_id"] = (
        frame["escalation_order_id"].astype(object).where(frame["escalation_order_id"].notna(), None)
    )
    return frame.sort_values(["operation_id", "task_index"], ignore_index=True)[list(STATE_COLUMNS)]


def with_orders(orders: pd.DataFrame, more: pd.DataFrame) -> pd.DataFrame:
    """The orders known (the columns :func:`order_states` reads) with ``more`` issued since."""
    if more.empty:
        return orders
    issued = ["order_id", "kind", "previous_order_id", "issued_at"]
    return pd.concat([orders[list(ORDER_INPUT_COLUMNS)], more[issued]], ignore_index=True)


def escalations_due(states: pd.DataFrame, tasks: pd.DataFrame, as_of: datetime) -> pd.DataFrame:
    """One escalation order (:data:`ORDER_COLUMNS`, issued at ``as_of``) per overdue order."""
    overdue = states[states["state"].eq("overdue")].merge(
        tasks[["order_id", "escalation_level", "escalation_department"]], on="order_id", how="left"
    )
    as_of = pd.Timestamp(as_of)
    rows = []
    for row in overdue.itertuples(index=False):
        rows.append(
            {
                "order_id": order_id(
                    row.operation_id,
                    "escalation",
                    row.escalation_level,
                    row.escalation_department,
                    row.order_id,
                ),
                "case_id": row.operation_id,
                "kind": "escalation",
                "level": row.escalation_level,
                "department": row.escalation_department,
                "team": None,
                "reason": (
                    f"operation {row.operation_id}, task {row.task_index} ({row.task}) of {row.department}: "
                    f"not completed by its due time {pd.Timestamp(row.due_at):%Y-%m-%d %H:%M}"
                ),
                "previous_order_id": row.order_id,
                "issued_at": as_of,
                "accepted_at": pd.NaT,
                "status": "issued",
                "updated_at": as_of,
                "completed_at": pd.NaT,
            }
        )
    return pd.DataFrame(rows, columns=list(ORDER_COLUMNS))


def operation_report(operations: pd.DataFrame, states: pd.DataFrame) -> pd.DataFrame:
    """One row per operation with orders (:data:`REPORT_COLUMNS`): its orders by state, how
    many were late, its status and, once all are completed, when and how many minutes after
    the start."""
    operations = _times(operations, "started_at")
    if states.empty:
        return pd.DataFrame(columns=list(REPORT_COLUMNS))
    counts = pd.crosstab(states["operation_id"], states["state"]).reindex(
        columns=list(ORDER_STATES), fill_value=0
    )
    grouped = states.groupby("operation_id")
    summary = counts.assign(
        orders=grouped.size(),
        late=grouped["late"].sum().astype(int),
        last_completed=grouped["completed_at"].max(),
    )
    report = operations.merge(summary, left_on="operation_id", right_index=True, how="inner")
    done = report["completed"].eq(report["orders"])
    report["status"] = "running"
    report.loc[(report["overdue"] + report["escalated"]).gt(0), "status"] = "overdue"
    report.loc[done, "status"] = "completed"
    report["completed_at"] = report["last_completed"].where(done)
    report["minutes_to_complete"] = (report["completed_at"] - report["started_at"]) / pd.Timedelta(minutes=1)
    return report.sort_values(["started_at", "operation_id"], ignore_index=True)[list(REPORT_COLUMNS)]


@dataclass(frozen=True)
class FollowResult:
    as_of: datetime
    states: pd.DataFrame  # STATE_COLUMNS, after this run's escalations
    escalations: pd.DataFrame  # the escalation orders due (ORDER_COLUMNS)
    enqueued: int  # of them, new in the outbox
    delivery: dict[str, int]
    report: pd.DataFrame  # REPORT_COLUMNS


def follow(settings: Settings, day: date, *, deliver: bool = True) -> FollowResult:
    """Follows every operation up at the close of ``day``: escalates the overdue orders
    through the outbox (delivering it unless ``deliver`` is False) and reports."""
    from civiclake.dispatch import outbox
    from civiclake.operations import state

    as_of = close_of_day(day)
    operations = state.read_operations(settings)
    tasks = state.read_tasks(settings)
    # The orders as issued (the outbox) with what the governance system reported (silver).
    orders = outbox.orders_with_acceptance(settings)
    states = order_states(operations, tasks, orders, as_of)
    due = escalations_due(states, tasks, as_of)
    enqueued = outbox.enqueue(settings, due)
    delivery = outbox.deliver(settings) if deliver else {}
    states = order_states(operations, tasks, with_orders(orders, due), as_of)
    report = operation_report(operations, states)
    log.info(
        "operations followed up at %s: %d operation(s), %d escalation(s) due, %d new; status %s",
        as_of,
        len(report),
        len(due),
        enqueued,
        report["status"].value_counts().to_dict(),
    )
    return FollowResult(as_of, states, due, enqueued, delivery, report)

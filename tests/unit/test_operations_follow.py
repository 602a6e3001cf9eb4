"""Following joint operations up: each order's state, one escalation per late order, the
operation's status; values worked out by hand from the times below."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pandas as pd
import pyarrow as pa
import pytest
from deltalake import write_deltalake

from civiclake.contracts.governance import DISPATCH_ORDERS
from civiclake.dispatch import outbox
from civiclake.dispatch.orders import ORDER_COLUMNS, close_of_day, order_id
from civiclake.geography import load_geography
from civiclake.lake.read import table_uri
from civiclake.operations.follow import (
    REPORT_COLUMNS,
    STATE_COLUMNS,
    escalations_due,
    follow,
    operation_report,
    order_states,
    with_orders,
)
from civiclake.operations.start import start_operation
from civiclake.settings import Settings

D = date(2026, 11, 25)
START = datetime(2026, 11, 25, 10, 0)
CLOSE_D = close_of_day(D)  # 2026-11-25 23:59:59.999999
CLOSE_NEXT = close_of_day(D + timedelta(days=1))
OP, DONE_OP, LATER_OP = "OPaaaa", "OPbbbb", "OPcccc"


def operation(op: str, started_at: datetime) -> dict:
    return {
        "operation_id": op,
        "plan_id": "garbage_cleanup",
        "plan_name": "垃圾堆积联合整治",
        "area_level": "community",
        "area_code": "C1",
        "district_code": "D",
        "street_code": "S",
        "community_code": "C1",
        "started_at": started_at,
        "started_by": "manual",
        "trigger_detail": None,
        "note": None,
        "start_key": op,
    }


def task(op: str, index: int, due_hours: float, started_at: datetime = START) -> dict:
    return {
        "operation_id": op,
        "order_id": f"DO{op}{index}",
        "task_index": index,
        "department": f"部门{index}",
        "task": f"任务{index}",
        "due_at": started_at + timedelta(hours=due_hours),
        "escalation_level": "street",
        "escalation_department": "民治街道办事处",
    }


def reported(
    order: str, accepted: datetime | None = None, completed: datetime | None = None, **values
) -> dict:
    """An order as silver.governance_dispatch_orders holds it (times as the lake keeps them)."""
    row = {c: None for c in ORDER_COLUMNS} | {
        "order_id": order,
        "kind": "operation",
        "issued_at": START,
        "accepted_at": accepted,
        "completed_at": completed,
        "status": "completed" if completed else "accepted" if accepted else "issued",
    }
    return row | values


OPERATIONS = pd.DataFrame(
    [operation(OP, START), operation(DONE_OP, START), operation(LATER_OP, datetime(2026, 11, 26, 8))]
)
TASKS = pd.DataFrame(
    [task(OP, 0, 4), task(OP, 1, 8), task(OP, 2, 24), task(DONE_OP, 0, 2), task(DONE_OP, 1, 6)]
    + [task(LATER_OP, 0, 2, datetime(2026, 11, 26, 8))]
)
# What the governance system reported by the close of D:
ORDERS_D = pd.DataFrame(
    [
        reported(f"DO{OP}0", datetime(2026, 11, 25, 10, 30), datetime(2026, 11, 25, 13)),  # done in time
        reported(f"DO{OP}1", datetime(2026, 11, 25, 11)),  # accepted, due 18:00, not done
        # DO{OP}2: not reported yet (due the next day at 10:00)
        reported(f"DO{DONE_OP}0", datetime(2026, 11, 25, 10, 5), datetime(2026, 11, 25, 11, 40)),
        reported(f"DO{DONE_OP}1", datetime(2026, 11, 25, 10, 5), datetime(2026, 11, 25, 15, 10)),
        reported("DOcase", kind="dispatch", case_id="GC1"),  # a case's order: not an operation's
    ]
)
ESCALATION = order_id(OP, "escalation", "street", "民治街道办事处", f"DO{OP}1")


def states_at(orders: pd.DataFrame, as_of: datetime) -> dict[str, str]:
    frame = order_states(OPERATIONS, TASKS, orders, as_of)
    assert list(frame.columns) == list(STATE_COLUMNS)
    return dict(zip(frame["order_id"], frame["state"], strict=True))


def test_each_order_stands_where_its_times_put_it_at_the_close_of_the_day():
    frame = order_states(OPERATIONS, TASKS, ORDERS_D, CLOSE_D)
    assert dict(zip(frame["order_id"], frame["state"], strict=True)) == {
        f"DO{OP}0": "completed",
        f"DO{OP}1": "overdue",
        f"DO{OP}2": "issued",
        f"DO{DONE_OP}0": "completed",
        f"DO{DONE_OP}1": "completed",
    }  # LATER_OP starts the next day: not yet
    assert frame["late"].tolist() == [False, True, False, False, False]
    assert (frame["issued_at"] == START).all()
    # In the afternoon of D: the second order accepted and not yet due, the first not yet done.
    assert states_at(ORDERS_D, datetime(2026, 11, 25, 12))[f"DO{OP}0"] == "accepted"
    assert states_at(ORDERS_D, datetime(2026, 11, 25, 12))[f"DO{OP}1"] == "accepted"
    assert states_at(ORDERS_D, datetime(2026, 11, 25, 10, 10))[f"DO{OP}1"] == "issued"


def test_an_overdue_order_gets_one_escalation_to_the_agreed_department():
    states = order_states(OPERATIONS, TASKS, ORDERS_D, CLOSE_D)
    due = escalations_due(states, TASKS, CLOSE_D)
    assert list(due.columns) == list(ORDER_COLUMNS)
    (row,) = due.to_dict("records")
    assert row["order_id"] == ESCALATION
    assert (row["case_id"], row["kind"], row["level"], row["department"]) == (
        OP,
        "escalation",
        "street",
        "民治街道办事处",
    )
    assert row["previous_order_id"] == f"DO{OP}1" and row["issued_at"] == pd.Timestamp(CLOSE_D)
    assert (
        row["reason"]
        == f"operation {OP}, task 1 (任务1) of 部门1: not completed by its due time 2026-11-25 18:00"
    )
    # Once issued, the order is escalated, and checking again escalates nothing more.
    with_escalation = with_orders(ORDERS_D, due)
    again = order_states(OPERATIONS, TASKS, with_escalation, CLOSE_D)
    assert again.set_index("order_id").loc[f"DO{OP}1", ["state", "escalation_order_id"]].tolist() == [
        "escalated",
        ESCALATION,
    ]
    assert escalations_due(again, TASKS, CLOSE_D).empty


def test_the_report_counts_orders_by_state_and_gives_each_operation_its_status():
    due = escalations_due(order_states(OPERATIONS, TASKS, ORDERS_D, CLOSE_D), TASKS, CLOSE_D)
    states = order_states(OPERATIONS, TASKS, with_orders(ORDERS_D, due), CLOSE_D)
    report = operation_report(OPERATIONS, states).set_index("operation_id")
    assert list(report.reset_index().columns) == list(REPORT_COLUMNS)
    assert list(report.index) == [OP, DONE_OP]
    counts = ["orders", "issued", "accepted", "completed", "overdue", "escalated", "late"]
    assert report.loc[OP, counts].tolist() == [3, 1, 0, 1, 0, 1, 1]
    assert report.loc[OP, "status"] == "overdue" and pd.isna(report.loc[OP, "completed_at"])
    assert report.loc[DONE_OP, counts].tolist() == [2, 0, 0, 2, 0, 0, 0]
    assert report.loc[DONE_OP, "status"] == "completed"
    # Started 10:00, last task done 15:10: 310 minutes.
    assert report.loc[DONE_OP, "completed_at"] == pd.Timestamp(2026, 11, 25, 15, 10)
    assert report.loc[DONE_OP, "minutes_to_complete"] == 310


def test_the_late_order_done_the_next_day_completes_the_operation_and_a_running_one_stays_running():
    orders = pd.DataFrame(
        [
            *ORDERS_D.to_dict("records")[:1],
            reported(f"DO{OP}1", datetime(2026, 11, 25, 11), datetime(2026, 11, 26, 9)),  # late
            reported(f"DO{OP}2", datetime(2026, 11, 26, 9), datetime(2026, 11, 26, 9, 30)),  # due 10:00
            *ORDERS_D.to_dict("records")[2:],
            reported(f"DO{LATER_OP}0", datetime(2026, 11, 26, 8, 20)),  # started D+1 08:00, due 10:00
        ]
    )
    before_ten = datetime(2026, 11, 26, 9, 45)
    assert states_at(orders, before_ten)[f"DO{LATER_OP}0"] == "accepted"
    report = operation_report(OPERATIONS, order_states(OPERATIONS, TASKS, orders, before_ten)).set_index(
        "operation_id"
    )
    assert report["status"].to_dict() == {OP: "completed", DONE_OP: "completed", LATER_OP: "running"}
    # 10:00 on D to 09:30 on D+1: 23.5 hours.
    assert report.loc[OP, "minutes_to_complete"] == 23.5 * 60 and report.loc[OP, "late"] == 1
    # At the close of D+1 the later operation's order, due 10:00, is overdue.
    states = order_states(OPERATIONS, TASKS, orders, CLOSE_NEXT)
    assert operation_report(OPERATIONS, states).set_index("operation_id").loc[LATER_OP, "status"] == "overdue"
    assert escalations_due(states, TASKS, CLOSE_NEXT)["previous_order_id"].tolist() == [f"DO{LATER_OP}0"]


def test_what_happened_after_the_instant_has_not_happened_at_it():
    # Following D again after D+1's completions reached the lake gives D's answer.
    orders = pd.DataFrame([reported(f"DO{OP}1", datetime(2026, 11, 25, 11), datetime(2026, 11, 26, 9))])
    assert states_at(orders, CLOSE_D)[f"DO{OP}1"] == "overdue"
    assert states_at(orders, CLOSE_NEXT)[f"DO{OP}1"] == "completed"


# --- over the lake (delta-rs, no delivery) --------------------------------------------------


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path)


def write_silver(settings: Settings, rows: list[dict]) -> None:
    frame = pd.DataFrame(rows, columns=list(ORDER_COLUMNS))
    for column in ("issued_at", "accepted_at", "updated_at", "completed_at"):
        frame[column] = pd.to_datetime(frame[column]).dt.tz_localize("UTC")  # the lake's wall clock
    write_deltalake(
        table_uri(settings, "silver", DISPATCH_ORDERS.table),
        pa.Table.from_pandas(frame, preserve_index=False),
        mode="overwrite",
    )


def test_following_up_escalates_once_and_a_rerun_adds_nothing(settings):
    community = min(load_geography().communities)
    started = start_operation(
        settings,
        "garbage_cleanup",
        community,
        started_at=START,
        started_by="manual",
        start_key="k",
        deliver=False,
    )
    first, second, third = started.tasks["order_id"]
    write_silver(
        settings,
        [
            reported(
                first,
                datetime(2026, 11, 25, 10, 30),
                datetime(2026, 11, 25, 13),
                case_id=started.operation_id,
            ),
            reported(second, datetime(2026, 11, 25, 11), case_id=started.operation_id),
        ],
    )
    result = follow(settings, D, deliver=False)
    assert result.enqueued == 1 and result.delivery == {}
    assert result.escalations["previous_order_id"].tolist() == [second]
    street = load_geography().streets[load_geography().communities[community].parent_code]
    assert result.escalations["department"].tolist() == [f"{street.name}办事处"]
    assert dict(zip(result.states["order_id"], result.states["state"], strict=True)) == {
        first: "completed",
        second: "escalated",
        third: "issued",
    }
    assert result.report["status"].tolist() == ["overdue"]
    stored = outbox.read(settings)
    assert stored["kind"].value_counts().to_dict() == {"operation": 3, "escalation": 1}

    rerun = follow(settings, D, deliver=False)
    assert (rerun.enqueued, len(rerun.escalations)) == (0, 0)
    assert rerun.states["state"].tolist() == result.states["state"].tolist()
    assert len(outbox.read(settings)) == 4


def test_a_lake_without_operations_follows_up_to_nothing(settings):
    result = follow(settings, D, deliver=False)
    assert result.report.empty and list(result.report.columns) == list(REPORT_COLUMNS)
    assert result.states.empty and result.escalations.empty and result.enqueued == 0

"""The dispatch outbox (Delta, no JVM) and the orders it gets from dispatch decisions.

Delivery to PostgreSQL, and its exactly-once promise across a crash, is tested in
tests/integration/test_dispatch_delivery.py.
"""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest

from civiclake.dispatch import outbox
from civiclake.dispatch.delivery import (
    DECISION_COLUMNS,
    current_orders,
    issued_at,
    level_of_team,
    orders_from_decisions,
)
from civiclake.dispatch.orders import ORDER_COLUMNS, order_id
from civiclake.settings import Settings

D = date(2026, 11, 25)
END_OF_D = datetime(2026, 11, 25, 23, 59, 59, 999999)
NO_ORDERS = outbox.SCHEMA.empty_table().to_pandas()


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path)


def an_order(case: str, kind: str = "dispatch", previous: str | None = None, **values) -> dict:
    department = values.pop("department", "城市管理和综合执法局")
    level = values.pop("level", "street")
    return {
        "order_id": order_id(case, kind, level, department, previous or ""),
        "case_id": case,
        "kind": kind,
        "level": level,
        "department": department,
        "team": "龙华街道环卫所",
        "reason": "test",
        "previous_order_id": previous,
        "issued_at": values.pop("issued_at", END_OF_D),
    } | values


def decision(case: str, department: str, team: str, rule: str, category: str, **values) -> dict:
    row = {
        "case_id": case,
        "routed_department": department,
        "batch_date": D,
        "rule_id": rule,
        "team": team,
        "route_input_category": category,
        "route_input_community_code": "440309003001",
        "route_input_grid_code": "44030900300101",
        "route_input_department": None,
        "route_input_reviewed": False,
    }
    return row | values


def test_enqueue_adds_each_order_id_once(settings):
    orders = pd.DataFrame([an_order("GC1"), an_order("GC2")])
    assert outbox.enqueue(settings, orders) == 2
    # The same orders again, and one new: only the new one is added.
    assert outbox.enqueue(settings, pd.DataFrame([an_order("GC1"), an_order("GC3")])) == 1
    stored = outbox.read(settings)
    assert sorted(stored["case_id"]) == ["GC1", "GC2", "GC3"]
    assert stored["delivered_at"].isna().all()
    assert (stored["status"] == "issued").all()
    # updated_at defaults to issued_at, kept as wall clock (no shift through the lake's UTC).
    assert (stored["issued_at"] == END_OF_D).all() and (stored["updated_at"] == END_OF_D).all()
    assert list(stored.columns) == [*ORDER_COLUMNS, "enqueued_at", "delivered_at"]


def test_an_empty_outbox_reads_as_an_empty_frame_with_its_columns(settings):
    stored = outbox.read(settings)
    assert stored.empty and list(stored.columns) == [*ORDER_COLUMNS, "enqueued_at", "delivered_at"]
    assert outbox.deliver(settings)["pending"] == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "recall"}, r"order #0 \(.*case GC1\): field 'kind' is 'recall'"),
        ({"level": "city"}, r"field 'level' is 'city'"),
        ({"department": " "}, r"field 'department' is missing"),
        ({"kind": "transfer"}, r"field 'previous_order_id' is missing: a transfer follows an order"),
        ({"previous_order_id": "DOx"}, r"a dispatch order follows no order"),
    ],
)
def test_a_bad_order_is_refused_naming_it_and_nothing_is_written(settings, change, message):
    with pytest.raises(outbox.OutboxError, match=message):
        outbox.enqueue(settings, pd.DataFrame([an_order("GC1") | change]))
    assert outbox.read(settings).empty


def test_orders_are_sent_after_the_order_they_follow():
    first = an_order("GC1", issued_at=datetime(2026, 11, 27))
    # A transfer issued (oddly) before the order it follows still goes after it.
    transfer = an_order("GC1", "transfer", previous=first["order_id"], issued_at=datetime(2026, 11, 26))
    other = an_order("GC2", issued_at=datetime(2026, 11, 25))
    ordered = outbox._in_sending_order(pd.DataFrame([transfer, first, other]))
    assert ordered["order_id"].tolist() == [other["order_id"], first["order_id"], transfer["order_id"]]


def test_the_level_is_the_level_of_the_area_the_team_is_named_after():
    assert level_of_team("观澜社区网格工作站") == "community"
    assert level_of_team("龙华街道城管执法中队") == "street"
    assert level_of_team("市水务集团（大浪街道）维修班组") == "street"
    assert level_of_team("区指挥中心值班组") == "district"
    assert level_of_team(None) == "district"


def test_issued_at_is_the_end_of_the_day_on_the_wall_clock():
    assert issued_at(D) == END_OF_D


def frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(DECISION_COLUMNS))


def test_each_decision_gets_one_dispatch_order_and_a_rerun_none():
    decisions = frame(
        [
            decision("GC1", "城市管理和综合执法局", "观澜社区网格工作站", "environment", "environment"),
            decision("GC2", "交通警察大队", "观澜街道交警中队", "parking", "parking"),
        ]
    )
    orders = orders_from_decisions(decisions, NO_ORDERS, D)
    assert orders[["case_id", "kind", "level", "department"]].values.tolist() == [
        ["GC1", "dispatch", "community", "城市管理和综合执法局"],
        ["GC2", "dispatch", "street", "交通警察大队"],
    ]
    assert orders["previous_order_id"].isna().all()
    assert (orders["issued_at"] == END_OF_D).all() and (orders["status"] == "issued").all()
    # The next day, the same decisions: their orders are in the outbox, nothing new.
    again = orders_from_decisions(decisions, orders, date(2026, 11, 26))
    assert again.empty


def test_a_corrected_department_is_a_transfer_following_the_latest_order():
    first = frame([decision("GC1", "交通警察大队", "观澜街道交警中队", "parking", "parking")])
    sent = orders_from_decisions(first, NO_ORDERS, D)
    corrected = frame(
        [
            decision(
                "GC1",
                "城市管理和综合执法局",
                "观澜街道城管执法中队",
                "street_vending",
                "street_vending",
                route_input_reviewed=True,
            )
        ]
    )
    later = date(2026, 11, 27)
    transfer = orders_from_decisions(corrected, sent, later)
    (row,) = transfer.to_dict("records")
    assert row["kind"] == "transfer" and row["department"] == "城市管理和综合执法局"
    assert row["previous_order_id"] == sent["order_id"].iloc[0]
    assert row["issued_at"] == datetime(2026, 11, 27, 23, 59, 59, 999999)
    assert "交通警察大队 → 城市管理和综合执法局" in row["reason"]
    both = pd.concat([sent, transfer], ignore_index=True)
    assert current_orders(both).loc["GC1", "routing_department"] == "城市管理和综合执法局"
    # Rerunning either day now adds nothing: both decisions have their order.
    assert orders_from_decisions(first, both, D).empty
    assert orders_from_decisions(corrected, both, later).empty


def test_a_new_decision_keeping_the_department_sends_nothing():
    first = frame([decision("GC1", "城市管理和综合执法局", "观澜街道环卫所", "garbage", "garbage")])
    sent = orders_from_decisions(first, NO_ORDERS, D)
    reviewed = frame(
        [
            decision(
                "GC1", "城市管理和综合执法局", "观澜社区网格工作站", "environment", "environment",
                route_input_reviewed=True,
            )
        ]
    )  # fmt: skip
    assert orders_from_decisions(reviewed, sent, D).empty


def test_the_latest_order_is_the_end_of_the_chain_and_escalations_are_not_routing_orders():
    dispatch = an_order("GC1")
    escalation = an_order(
        "GC1", "escalation", previous=dispatch["order_id"], level="district", department="区指挥中心"
    )
    now = current_orders(pd.DataFrame([escalation, dispatch]))
    assert now.loc["GC1"].to_dict() == {
        "head_order_id": escalation["order_id"],
        "head_kind": "escalation",
        "routing_order_id": dispatch["order_id"],
        "routing_department": "城市管理和综合执法局",
    }
    # A reviewer's change after an escalation follows the escalation.
    corrected = frame(
        [decision("GC1", "交通警察大队", "观澜街道交警中队", "parking", "parking", route_input_reviewed=True)]
    )
    (row,) = orders_from_decisions(corrected, pd.DataFrame([dispatch, escalation]), D).to_dict("records")
    assert row["kind"] == "transfer" and row["previous_order_id"] == escalation["order_id"]


def test_a_batch_the_database_refuses_is_retried_then_left_for_the_next_run(settings, monkeypatch):
    import psycopg

    outbox.enqueue(settings, pd.DataFrame([an_order("GC1"), an_order("GC2")]))
    monkeypatch.setattr(outbox, "RETRY_PAUSE_S", 0)
    attempts = []

    def unreachable(settings, batch):
        attempts.append(len(batch))
        raise psycopg.OperationalError("connection refused")

    monkeypatch.setattr(outbox, "_send", unreachable)
    with pytest.raises(outbox.OutboxError, match=r"could not be reached after 3 attempts.*2 orders stay"):
        outbox.deliver(settings)
    assert attempts == [2, 2, 2]
    assert outbox.read(settings)["delivered_at"].isna().all()

    def flaky(settings, batch):
        attempts.append(len(batch))
        if len(attempts) < 5:
            raise psycopg.OperationalError("connection reset")
        return len(batch), 0

    monkeypatch.setattr(outbox, "_send", flaky)
    assert outbox.deliver(settings)["inserted"] == 2 and len(attempts) == 5
    assert outbox.read(settings)["delivered_at"].notna().all()

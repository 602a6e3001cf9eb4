"""Re-routing open cases under changed routing rules: who moves, who stays, and the transfer
orders (civiclake/dispatch/reroute.py). The command line's dry run against the real run, with
delivery to PostgreSQL, is in tests/integration/test_dispatch_delivery.py."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import yaml

from civiclake.dispatch.orders import order_id
from civiclake.dispatch.reroute import MOVE_COLUMNS, plan_moves
from civiclake.dispatch.rules import DEFAULT_RULES_FILE, parse_rules

D = date(2026, 11, 25)
COMMUNITY, GRID, STREET = "440309003001", "44030900300101", "440309003"
POLICE, CITY = "交通警察大队", "城市管理和综合执法局"


def rules_sending_parking_to_city_management():
    document = yaml.safe_load(DEFAULT_RULES_FILE.read_text(encoding="utf-8"))
    for rule in document["rules"]:
        if rule["id"] == "parking":
            rule["department"] = CITY
            rule["team"] = "{community_name}网格工作站"
    return parse_rules(document, "new_rules.yaml")


def case(case_id: str, category: str, *, closed: bool = False, reviewer_department=None) -> dict:
    return {
        "case_id": case_id,
        "route_input_category": category,
        "route_input_community_code": COMMUNITY,
        "route_input_grid_code": GRID,
        "route_input_department": reviewer_department,
        "street_code": STREET,
        "reported_at": datetime(2026, 11, 25, 10),
        "closed_at": datetime(2026, 11, 25, 16) if closed else None,
    }


def order(case_id: str, department: str, kind: str = "dispatch", previous=None, delivered=True) -> dict:
    return {
        "order_id": order_id(case_id, kind, "street", department, previous or ""),
        "case_id": case_id,
        "kind": kind,
        "level": "street",
        "department": department,
        "previous_order_id": previous,
        "issued_at": datetime(2026, 11, 26),
        "delivered_at": datetime(2026, 11, 26, 1) if delivered else None,
    }


def test_open_cases_move_to_the_new_department_and_nobody_else():
    first = order("GC4", POLICE)
    escalation = order("GC4", "区指挥中心", "escalation", previous=first["order_id"])
    cases = pd.DataFrame(
        [
            case("GC1", "parking"),  # moves
            case("GC2", "parking", closed=True),  # closed: stays
            case("GC3", "parking", reviewer_department=POLICE),  # a reviewer's department: stays
            case("GC4", "parking"),  # escalated: left with its level
            case("GC5", "garbage"),  # its department is unchanged
            case("GC6", "parking"),  # no order delivered yet: nothing to move
        ]
    )
    delivered = pd.DataFrame(
        [
            order("GC1", POLICE),
            order("GC2", POLICE),
            order("GC3", POLICE),
            first,
            escalation,
            order("GC5", CITY),
        ]
    )
    plan = plan_moves(cases, delivered, rules_sending_parking_to_city_management(), D)
    assert plan.moves.values.tolist() == [["GC1", POLICE, CITY, "parking", "龙华社区网格工作站", "community"]]
    assert list(plan.moves.columns) == list(MOVE_COLUMNS)
    assert (plan.open_cases, plan.escalated) == (3, 1)  # GC1, GC3, GC5 routed again; GC4 left
    (transfer,) = plan.orders.to_dict("records")
    assert transfer["kind"] == "transfer" and transfer["department"] == CITY
    assert transfer["level"] == "community" and transfer["team"] == "龙华社区网格工作站"
    assert transfer["previous_order_id"] == delivered["order_id"].iloc[0]
    assert transfer["issued_at"] == datetime(2026, 11, 25, 23, 59, 59, 999999)
    assert f"{POLICE} → {CITY}" in transfer["reason"] and "new_rules.yaml" in transfer["reason"]


def test_planning_twice_gives_the_same_orders_and_after_delivery_nothing_moves():
    cases = pd.DataFrame([case("GC1", "parking")])
    delivered = pd.DataFrame([order("GC1", POLICE)])
    rules = rules_sending_parking_to_city_management()
    first = plan_moves(cases, delivered, rules, D)
    assert first.orders.equals(plan_moves(cases, delivered, rules, D).orders)
    sent = first.orders.assign(delivered_at=datetime(2026, 11, 26, 1))
    after = plan_moves(cases, pd.concat([delivered, sent], ignore_index=True), rules, D)
    assert after.moves.empty and after.orders.empty and after.open_cases == 1


def test_unchanged_rules_move_nobody():
    from civiclake.dispatch.rules import load_rules

    cases = pd.DataFrame([case("GC1", "parking"), case("GC5", "garbage")])
    delivered = pd.DataFrame([order("GC1", POLICE), order("GC5", CITY)])
    assert plan_moves(cases, delivered, load_rules(), D).moves.empty

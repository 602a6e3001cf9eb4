"""Dispatch decisions (``silver.case_dispatch``) as orders for the outbox.

Every case the scoring job sent somewhere — an ``auto`` decision, or a reviewed one: a
``routed_department`` — gets an order once per decision:

* a ``dispatch`` order when the case has no order yet;
* a ``transfer`` order, following the case's latest order, when a new decision (a
  reviewer's correction, a changed place) sends it to another department than its current
  order's;
* nothing when the decision already has its order, or when the new decision keeps the
  department (a reviewer who confirms, a correction within the department).

A decision is known by its *basis*: the rule and team that routed it and the inputs the
route was computed from (the ``route_input_*`` columns). The basis goes into the order id
(:func:`civiclake.dispatch.orders.order_id`), so the orders of a decision are found again by
id: a rerun of the day, or the next day's run over the same decisions, enqueues nothing.
A case moved by ``civiclake dispatch reroute`` keeps its old decision in case_dispatch;
that decision has its order, so it does not send the case back.

Times: an order of day D is issued at the close of D on the district's wall clock
(:func:`civiclake.dispatch.orders.close_of_day`), never at the machine's clock, so a rerun
issues the same orders at the same time; D's marts count them, and the governance ingest
of D+1 picks up what the departments did with them.

Level: the level of the area the acting team serves, read from the team's name (which the
routing rules build from the area's name): a team named after a community (a community's
grid work station, its property mediation room) acts at ``community`` level; one named
after a street (a street's 城管 squad, police station, sanitation office), at ``street``
level; a team of no area (the district command centre's duty team), at ``district`` level.
"""

from __future__ import annotations

import logging
from datetime import date, datetime

import pandas as pd

from civiclake.dispatch.orders import ORDER_COLUMNS, close_of_day, order_id
from civiclake.geography import Geography, load_geography
from civiclake.lake.read import read_table
from civiclake.settings import Settings

log = logging.getLogger(__name__)

DECISIONS_TABLE = "case_dispatch"
# The decision's basis: what routed it and what the route was computed from.
BASIS_COLUMNS = (
    "rule_id",
    "team",
    "route_input_category",
    "route_input_community_code",
    "route_input_grid_code",
    "route_input_department",
    "route_input_reviewed",
)
DECISION_COLUMNS = ("case_id", "routed_department", "batch_date", *BASIS_COLUMNS)
ROUTING_KINDS = ("dispatch", "transfer")  # orders that say which department a case is with


def issued_at(day: date) -> datetime:
    """When the orders of ``day`` are issued (:func:`civiclake.dispatch.orders.close_of_day`)."""
    return close_of_day(day)


def level_of_team(team: str | None, geography: Geography | None = None) -> str:
    """``community``, ``street`` or ``district``: the level of the area the team is named after."""
    geography = geography or load_geography()
    name = team or ""
    if any(area.name in name for area in geography.communities.values()):
        return "community"
    if any(area.name in name for area in geography.streets.values()):
        return "street"
    return "district"


def _text(value) -> str:
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def decision_basis(row) -> str:
    return "\x1e".join(_text(row[c]) for c in BASIS_COLUMNS)


def current_orders(outbox: pd.DataFrame) -> pd.DataFrame:
    """Per case, indexed by case_id: its latest order (``head_order_id``, ``head_kind``), the
    order the next one follows, and its latest dispatch or transfer (``routing_order_id``,
    ``routing_department``), the department the case is with.

    Orders of a case form a chain through previous_order_id; the latest is the deepest.
    """
    columns = ["head_order_id", "head_kind", "routing_order_id", "routing_department"]
    if outbox.empty:
        return pd.DataFrame(columns=columns, index=pd.Index([], name="case_id"))
    follows = dict(zip(outbox["order_id"], outbox["previous_order_id"], strict=True))
    depth: dict[str, int] = {}

    def depth_of(start: str) -> int:
        chain, order = [], start
        while order not in depth:
            previous = follows.get(order)
            if not isinstance(previous, str) or previous not in follows or previous in chain:
                depth[order] = 0  # the first order of its chain (or one whose predecessor is unknown)
                break
            chain.append(order)
            order = previous
        for step in reversed(chain):
            depth[step] = depth[follows[step]] + 1
        return depth[start]

    ranked = outbox.assign(_depth=[depth_of(o) for o in outbox["order_id"]])
    ranked = ranked.sort_values(["case_id", "_depth", "issued_at", "order_id"])
    heads = ranked.groupby("case_id").tail(1).set_index("case_id")
    routing = ranked[ranked["kind"].isin(ROUTING_KINDS)].groupby("case_id").tail(1).set_index("case_id")
    return pd.DataFrame(
        {
            "head_order_id": heads["order_id"],
            "head_kind": heads["kind"],
            "routing_order_id": routing["order_id"],
            "routing_department": routing["department"],
        },
        index=heads.index,
    )[columns]


def orders_from_decisions(
    decisions: pd.DataFrame,
    outbox: pd.DataFrame,
    day: date,
    geography: Geography | None = None,
) -> pd.DataFrame:
    """The orders (:data:`ORDER_COLUMNS`) the decisions need that the outbox does not hold.

    ``decisions`` holds :data:`DECISION_COLUMNS` for cases with a routed_department.
    """
    geography = geography or load_geography()
    known = set(outbox["order_id"])
    now = current_orders(outbox)
    when = issued_at(day)
    orders = []
    for _, decision in decisions.sort_values("case_id").iterrows():
        case, department = decision["case_id"], decision["routed_department"]
        level = level_of_team(decision["team"], geography)
        basis = decision_basis(decision)
        dispatch_id = order_id(case, "dispatch", level, department, basis)
        transfer_id = order_id(case, "transfer", level, department, basis)
        if dispatch_id in known or transfer_id in known:
            continue  # this decision has its order
        order = {
            "case_id": case,
            "level": level,
            "department": department,
            "team": decision["team"],
            "issued_at": when,
            "status": "issued",
            "updated_at": when,
            "accepted_at": None,
        }
        if case not in now.index:
            orders.append(
                order
                | {
                    "order_id": dispatch_id,
                    "kind": "dispatch",
                    "reason": f"routing rule {decision['rule_id']}",
                    "previous_order_id": None,
                }
            )
            continue
        current = now.loc[case]
        if current["routing_department"] == department:
            continue  # a new decision that keeps the case where it is
        orders.append(
            order
            | {
                "order_id": transfer_id,
                "kind": "transfer",
                "reason": (
                    f"decision changed ({'reviewed' if decision['route_input_reviewed'] else 'rescored'}): "
                    f"{current['routing_department']} → {department}, routing rule {decision['rule_id']}"
                ),
                "previous_order_id": current["head_order_id"],
            }
        )
    return pd.DataFrame(orders, columns=list(ORDER_COLUMNS))


def read_decisions(settings: Settings, day: date) -> pd.DataFrame:
    """The sent decisions of cases scored on or before ``day`` (a later day's are left to
    that day's run, which issues them at its own time)."""
    frame = read_table(settings, "silver", DECISIONS_TABLE, columns=list(DECISION_COLUMNS)).to_pandas()
    sent = frame["routed_department"].notna() & (frame["routed_department"].astype(str).str.strip() != "")
    scored = pd.to_datetime(frame["batch_date"]).dt.date <= day
    return frame[sent & scored].reset_index(drop=True)


def enqueue_decisions(settings: Settings, day: date) -> dict[str, int]:
    """Enqueues the orders of the sent decisions up to ``day``; returns the counts."""
    from civiclake.dispatch import outbox

    decisions = read_decisions(settings, day)
    orders = orders_from_decisions(decisions, outbox.read(settings), day)
    added = outbox.enqueue(settings, orders)
    counts = {
        "decisions": len(decisions),
        "dispatch_orders": int((orders["kind"] == "dispatch").sum()),
        "transfer_orders": int((orders["kind"] == "transfer").sum()),
        "enqueued": added,
    }
    log.info("orders of the decisions up to %s: %s", day, counts)
    return counts

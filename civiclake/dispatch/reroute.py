"""Re-routing open cases after the routing rules change (``civiclake dispatch reroute``).

A case moves when the new rules send it to another department than its latest delivered
dispatch or transfer order. Each move becomes a ``transfer`` order following the case's
latest delivered order; :func:`plan` computes the moves without writing anything (the
``--dry-run`` listing), :func:`reroute` enqueues and delivers the same orders.

Which cases: those with a delivered order, still open (no ``closed_at`` in the case table),
and not escalated (a case whose latest order is an escalation is with a higher level, which
the routing rules do not govern). Each is routed again from the inputs its decision was
routed on (category, community, grid: ``silver.case_dispatch``'s ``route_input_*``) and its
report time; a department a reviewer chose stays (a person's decision outranks the rules).

The transfer's id rests on the order it follows and the new rule, so planning twice gives
the same ids, and a second run after delivery finds the cases already where the rules say.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from civiclake.dispatch import delivery, outbox
from civiclake.dispatch.orders import ORDER_COLUMNS, order_id
from civiclake.dispatch.rules import RuleSet, route
from civiclake.geography import Geography, load_geography
from civiclake.lake.read import has_table, read_table, table_or_none, wall_clock
from civiclake.settings import Settings

# The case table: the unified one where the lake has it, else the governance cases.
CASE_TABLES = ("cases", "governance_cases")
CASE_COLUMNS = ("case_id", "street_code", "reported_at", "closed_at")
MOVE_COLUMNS = ("case_id", "from_department", "to_department", "rule_id", "team", "level")


@dataclass(frozen=True)
class Plan:
    """The moves (:data:`MOVE_COLUMNS`) and their transfer orders (:data:`ORDER_COLUMNS`), row for row."""

    moves: pd.DataFrame
    orders: pd.DataFrame
    open_cases: int  # open cases with a delivered order that the new rules were applied to
    escalated: int  # open cases left alone because their latest order is an escalation


def _text(values: pd.Series) -> pd.Series:
    return values.where(values.notna() & (values.astype(str).str.strip() != ""), None)


def plan_moves(
    cases: pd.DataFrame,
    delivered: pd.DataFrame,
    rules: RuleSet,
    day: date,
    geography: Geography | None = None,
) -> Plan:
    """The transfers the new ``rules`` call for.

    ``cases``: case_id, route_input_category, route_input_community_code,
    route_input_grid_code, route_input_department (a reviewer's department or empty),
    street_code, reported_at (wall clock) and closed_at. ``delivered``: the outbox's
    delivered orders.
    """
    geography = geography or load_geography()
    now = delivery.current_orders(delivered)
    candidates = cases[cases["closed_at"].isna()].merge(now, left_on="case_id", right_index=True)
    candidates = candidates[candidates["routing_order_id"].notna()]
    escalated = candidates["head_kind"] == "escalation"
    candidates = candidates[~escalated].sort_values("case_id").reset_index(drop=True)
    routed = route(
        pd.DataFrame(
            {
                "category": candidates["route_input_category"],
                "street_code": candidates["street_code"],
                "community_code": candidates["route_input_community_code"],
                "grid_code": candidates["route_input_grid_code"],
                "reported_at": candidates["reported_at"],
                # The cover's owner the case was routed with (a decision made before the
                # column existed has none).
                "asset_owner": candidates.get("route_input_asset_owner"),
            }
        ),
        rules,
        geography,
    )
    reviewer = _text(candidates["route_input_department"])
    department = reviewer.where(reviewer.notna(), routed["department"])
    moving = department != candidates["routing_department"]
    moves = pd.DataFrame(
        {
            "case_id": candidates["case_id"],
            "from_department": candidates["routing_department"],
            "to_department": department,
            "rule_id": routed["rule_id"],
            "team": routed["team"],
            "level": [delivery.level_of_team(t, geography) for t in routed["team"]],
        }
    )[moving].reset_index(drop=True)
    follows = candidates.loc[moving, "head_order_id"].reset_index(drop=True)
    when = delivery.issued_at(day)
    orders = pd.DataFrame(
        {
            "order_id": [
                order_id(m.case_id, "transfer", m.level, m.to_department, f"reroute\x1e{prev}\x1e{m.rule_id}")
                for m, prev in zip(moves.itertuples(), follows, strict=True)
            ],
            "case_id": moves["case_id"],
            "kind": "transfer",
            "level": moves["level"],
            "department": moves["to_department"],
            "team": moves["team"],
            "reason": [
                f"routing rules changed ({rules.source}): {m.from_department} → {m.to_department}, rule {m.rule_id}"
                for m in moves.itertuples()
            ],
            "previous_order_id": follows,
            "issued_at": when,
            "accepted_at": None,
            "status": "issued",
            "updated_at": when,
        },
        columns=list(ORDER_COLUMNS),
    )
    return Plan(moves, orders, open_cases=len(candidates), escalated=int(escalated.sum()))


def _asset_owner_column(settings: Settings) -> list[str]:
    """``route_input_asset_owner`` where case_dispatch has it (a table written before it, not)."""
    table = table_or_none(settings, "silver", delivery.DECISIONS_TABLE)
    present = table is not None and "route_input_asset_owner" in table.schema().to_arrow().names
    return ["route_input_asset_owner"] if present else []


def read_cases(settings: Settings) -> pd.DataFrame:
    """Each sent case's routing inputs (case_dispatch) with its place, report time and close."""
    decided = read_table(
        settings,
        "silver",
        delivery.DECISIONS_TABLE,
        columns=[
            "case_id",
            "routed_department",
            "route_input_category",
            "route_input_community_code",
            "route_input_grid_code",
            "route_input_department",
            *_asset_owner_column(settings),
        ],
    ).to_pandas()
    decided = decided[_text(decided["routed_department"]).notna()].drop(columns="routed_department")
    table = next((t for t in CASE_TABLES if has_table(settings, "silver", t)), CASE_TABLES[-1])
    cases = read_table(settings, "silver", table, columns=list(CASE_COLUMNS)).to_pandas()
    for column in ("reported_at", "closed_at"):  # the lake keeps wall clock as UTC instants
        cases[column] = wall_clock(cases[column])
    return decided.merge(cases, on="case_id")


def delivered_orders(settings: Settings) -> pd.DataFrame:
    orders = outbox.read(settings)
    return orders[orders["delivered_at"].notna()].reset_index(drop=True)


def plan(settings: Settings, day: date, rules: RuleSet) -> Plan:
    """The moves of ``civiclake dispatch reroute --date day`` under ``rules``; writes nothing."""
    return plan_moves(read_cases(settings), delivered_orders(settings), rules, day)


def reroute(settings: Settings, day: date, rules: RuleSet) -> tuple[Plan, int, dict[str, int]]:
    """Plans the moves, enqueues their transfer orders and delivers the outbox.
    Returns the plan, the orders enqueued and the delivery's counts."""
    moves = plan(settings, day, rules)
    added = outbox.enqueue(settings, moves.orders)
    return moves, added, outbox.deliver(settings)

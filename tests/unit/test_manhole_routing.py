"""Routing a case about a manhole cover: to the cover's owner when the register knows it,
else to the street's squad, which repairs first (先修后定). The dispatch decision passes the
owner to the rules and keeps it beside the route."""

from __future__ import annotations

import pandas as pd
import pytest

from civiclake.dispatch.decide import decide
from civiclake.dispatch.rules import load_rules, route
from civiclake.geography import load_geography

GEO = load_geography()
STREET = next(s for s in GEO.streets.values() if s.name == "民治街道")
COMMUNITY = next(c for c in GEO.communities.values() if c.parent_code == STREET.code)
GRID = GEO.grids_of(COMMUNITY.code)[0]
TUESDAY_10 = pd.Timestamp(2026, 11, 24, 10)


def a_case(category: str = "manhole", owner: str | None = None, **values) -> dict:
    return {
        "category": category,
        "community_code": COMMUNITY.code,
        "grid_code": GRID.code,
        "reported_at": TUESDAY_10,
        "asset_owner": owner,
    } | values


def test_a_cover_with_a_known_owner_goes_to_the_owner():
    routed = route(pd.DataFrame([a_case(owner="水务局")]), load_rules(), GEO).iloc[0]
    assert routed.to_dict() == {
        "department": "水务局",
        "team": "水务局（民治街道）维修班组",
        "rule_id": "manhole_owner_known",
    }


@pytest.mark.parametrize("owner", [None, "", "  "])
def test_a_cover_without_a_known_owner_is_repaired_first_by_the_street(owner):
    routed = route(pd.DataFrame([a_case(owner=owner)]), load_rules(), GEO).iloc[0]
    assert routed.to_dict() == {
        "department": "城市管理和综合执法局",
        "team": "民治街道城管执法中队（先修后定值班）",
        "rule_id": "manhole_repair_first",
    }


def test_an_owner_does_not_change_the_route_of_another_category():
    rules = load_rules()
    with_owner = route(pd.DataFrame([a_case("garbage", owner="水务局")]), rules, GEO)
    without = route(pd.DataFrame([a_case("garbage")]), rules, GEO)
    assert with_owner.equals(without) and with_owner.iloc[0]["rule_id"] == "garbage"


def decision_row(case_id: str, owner: str | None, **values) -> dict:
    return {
        "case_id": case_id,
        "predicted_category": "manhole",
        "decision": "auto",
        "duplicate_of": None,
        "corrected_category": None,
        "corrected_department": None,
        "street_code": STREET.code,
        "community_code": COMMUNITY.code,
        "grid_code": GRID.code,
        "reported_at": TUESDAY_10,
        "asset_owner": owner,
    } | values


def test_the_decision_routes_with_the_owner_and_keeps_it_as_a_route_input():
    frame = pd.DataFrame([decision_row("GC1", "燃气集团"), decision_row("CM2", None)])
    out = decide(frame, load_rules(), GEO).set_index("case_id")
    assert out.loc["GC1", ["routed_department", "rule_id", "route_input_asset_owner"]].tolist() == [
        "燃气集团",
        "manhole_owner_known",
        "燃气集团",
    ]
    assert out.loc["CM2", "routed_department"] == "城市管理和综合执法局"
    assert out.loc["CM2", "rule_id"] == "manhole_repair_first"
    assert out.loc["CM2", "route_input_asset_owner"] is None


def test_a_reviewers_department_still_outranks_the_owner():
    frame = pd.DataFrame(
        [decision_row("GC3", "燃气集团", corrected_category="manhole", corrected_department="水务局")]
    )
    out = decide(frame, load_rules(), GEO).iloc[0]
    assert (out["department"], out["team"]) == ("水务局", "燃气集团（民治街道）维修班组")


def test_a_decision_without_the_owner_column_routes_as_unknown():
    frame = pd.DataFrame([decision_row("GC4", None)]).drop(columns="asset_owner")
    assert decide(frame, load_rules(), GEO).iloc[0]["rule_id"] == "manhole_repair_first"

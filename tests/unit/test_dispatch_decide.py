"""The dispatch decision of a case and when its route must be computed again."""

import pandas as pd

from civiclake.dispatch.decide import decide, needs_rerouting
from civiclake.dispatch.rules import load_rules

COMMUNITY, GRID = "440309003001", "44030900300101"  # in 龙华街道


def cases():
    base = {
        "street_code": None,
        "community_code": COMMUNITY,
        "grid_code": GRID,
        "reported_at": pd.Timestamp("2026-11-25 10:00"),
        "corrected_category": None,
        "corrected_department": None,
        "duplicate_of": None,
    }
    rows = [
        {"case_id": "auto", "predicted_category": "parking", "decision": "auto"},
        {"case_id": "review", "predicted_category": "parking", "decision": "review"},
        {"case_id": "dup", "predicted_category": "parking", "decision": "auto", "duplicate_of": "auto"},
        {
            "case_id": "fixed",
            "predicted_category": "parking",
            "decision": "review",
            "corrected_category": "garbage",
        },
        {
            "case_id": "chosen",
            "predicted_category": "parking",
            "decision": "review",
            "corrected_category": "noise",
            "corrected_department": "公安分局",
        },
    ]
    return pd.DataFrame([base | r for r in rows]).set_index("case_id", drop=False)


def test_modes_routes_and_where_a_case_was_sent():
    out = decide(cases(), load_rules())
    columns = ["dispatch_mode", "department", "team", "rule_id", "routed_department", "route_input_category"]
    got = {
        case: tuple(row) for case, row in zip(out.index, out[columns].itertuples(index=False), strict=True)
    }
    assert got == {
        "auto": ("auto", "交通警察大队", "龙华街道交警中队", "parking", "交通警察大队", "parking"),
        # Still in review: the rules' suggestion is shown, nothing is sent.
        "review": ("review", "交通警察大队", "龙华街道交警中队", "parking", None, "parking"),
        "dup": ("duplicate", "交通警察大队", "龙华街道交警中队", "parking", None, "parking"),
        "fixed": (
            "review",
            "城市管理和综合执法局",
            "龙华街道环卫所",
            "garbage",
            "城市管理和综合执法局",
            "garbage",
        ),
        "chosen": ("review", "公安分局", "龙华街道生态环境监管所", "noise_day", "公安分局", "noise"),
    }
    assert out.loc["chosen", "route_input_department"] == "公安分局"
    assert out.loc["auto", "route_input_grid_code"] == GRID


def test_only_changed_inputs_call_for_a_new_route():
    routed = decide(cases(), load_rules())
    stored = routed.drop(
        columns=["community_code", "grid_code", "corrected_category", "corrected_department"]
    )
    current = cases()[["community_code", "grid_code", "corrected_category", "corrected_department"]]
    assert not needs_rerouting(stored.join(current)).any()
    current.loc["auto", "grid_code"] = "44030900300102"  # moved to another grid
    current.loc["review", "corrected_category"] = "parking"  # reviewed: confirmed, so now sent on
    current.loc["dup", "corrected_category"] = "garbage"  # reviewed: another category
    current.loc["chosen", "corrected_department"] = None  # department choice withdrawn
    changed = needs_rerouting(stored.join(current))
    assert changed.to_dict() == {"auto": True, "review": True, "dup": True, "fixed": False, "chosen": True}
    # A row routed before the inputs were stored has none: it is routed once.
    legacy = stored.assign(
        route_input_category=None,
        route_input_community_code=None,
        route_input_grid_code=None,
        route_input_reviewed=None,
    )
    assert needs_rerouting(legacy.join(cases()[current.columns])).all()

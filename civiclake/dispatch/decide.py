"""The dispatch decision of a case from its classification, review and duplicate link.

Pure pandas, used by the scoring job inside ``mapInPandas`` for the day's new cases and
for earlier cases whose routing inputs changed:

* the category a case is routed on is the reviewer's corrected category where there is
  one, else the classifier's prediction;
* the routing rules give department, team and rule_id; a reviewer who chose a
  department overrides the rules' department (the rule still names the team);
* dispatch_mode is ``duplicate`` when the case is linked to an earlier open case, else
  the classifier's decision (``auto`` or ``review``);
* routed_department — where the case was actually sent — is the department for an
  ``auto`` case or a reviewed one, and empty for duplicates and cases still in review.

The inputs a route was computed from are kept beside it (``route_input_*``), so a later
run can tell whether a case's category, place or reviewer's department changed and route
it again only then.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from civiclake.dispatch.rules import RuleSet, route
from civiclake.geography import Geography

ROUTE_INPUTS = {
    "route_input_category": "category",
    "route_input_community_code": "community_code",
    "route_input_grid_code": "grid_code",
    "route_input_department": "corrected_department",
    "route_input_reviewed": "corrected_category",
    "route_input_asset_owner": "asset_owner",
}
DECISION_COLUMNS = (
    "department",
    "team",
    "rule_id",
    "dispatch_mode",
    "routed_department",
    *ROUTE_INPUTS,
)


def _present(values: pd.Series) -> pd.Series:
    return values.notna() & (values.astype(str).str.strip() != "")


def decide(frame: pd.DataFrame, rules: RuleSet, geography: Geography | None = None) -> pd.DataFrame:
    """``frame`` with :data:`DECISION_COLUMNS` set.

    ``frame`` holds predicted_category, decision (auto/review), duplicate_of,
    corrected_category, corrected_department (both empty when nobody reviewed the case),
    street_code, community_code, grid_code, reported_at and, optionally, asset_owner (the
    owner department of the manhole cover the case is about; empty when unknown).
    """
    out = frame.copy()
    if "asset_owner" not in out.columns:
        out["asset_owner"] = None
    owner = out["asset_owner"].where(_present(out["asset_owner"]), None)
    corrected = _present(out["corrected_category"])
    category = out["corrected_category"].where(corrected, out["predicted_category"])
    routed = route(
        pd.DataFrame(
            {
                "category": category,
                "street_code": out["street_code"],
                "community_code": out["community_code"],
                "grid_code": out["grid_code"],
                "reported_at": out["reported_at"],
                "asset_owner": owner,
            },
            index=out.index,
        ),
        rules,
        geography,
    )
    override = _present(out["corrected_department"])
    out["department"] = out["corrected_department"].where(override, routed["department"])
    out["team"] = routed["team"]
    out["rule_id"] = routed["rule_id"]
    duplicate = _present(out["duplicate_of"])
    out["dispatch_mode"] = np.where(duplicate, "duplicate", out["decision"])
    sent = (out["dispatch_mode"] == "auto") | ((out["dispatch_mode"] == "review") & corrected)
    out["routed_department"] = out["department"].where(sent, None)
    out["route_input_category"] = category
    out["route_input_community_code"] = out["community_code"]
    out["route_input_grid_code"] = out["grid_code"]
    out["route_input_department"] = out["corrected_department"].where(override, None)
    out["route_input_reviewed"] = corrected.astype(bool)
    out["route_input_asset_owner"] = owner
    return out


def needs_rerouting(frame: pd.DataFrame) -> pd.Series:
    """True where the stored route inputs differ from the case's current ones.

    ``frame`` holds the stored ``route_input_*`` columns and the current predicted_category,
    corrected_category, corrected_department, community_code and grid_code.
    """
    corrected = _present(frame["corrected_category"])
    current = {
        "route_input_category": frame["corrected_category"].where(corrected, frame["predicted_category"]),
        "route_input_community_code": frame["community_code"],
        "route_input_grid_code": frame["grid_code"],
        "route_input_department": frame["corrected_department"].where(
            _present(frame["corrected_department"]), None
        ),
        # A reviewer who confirms the predicted category still sends the case on.
        "route_input_reviewed": corrected.astype(bool),
    }
    changed = pd.Series(False, index=frame.index)
    for stored, now in current.items():
        before = frame[stored]
        both_missing = before.isna() & now.isna()
        changed |= ~both_missing & (before.isna() | now.isna() | (before.astype(str) != now.astype(str)))
    return changed

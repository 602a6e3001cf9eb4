"""Three-level linkage (三级联动): a case not accepted in time goes up a level.

The policy (``civiclake/reference/dispatch/escalation.yaml``) gives each level the working
hours it has to accept a case, per category where it differs, the department that receives
an escalation at each level above the community, and the categories beyond a community's
competence, which start at the street. :func:`escalations` applies it to the open cases as
they stand at an instant, in pandas, and returns escalation orders in the columns of
``governance.dispatch_orders``.

Where a case stands comes from its dispatch orders: the latest order issued up to the
instant gives its level and the time it reached it; the level has answered when that order
was accepted (or the case was accepted in the case system after the order was issued). A
case dispatched before orders existed (history) stands at the level the policy starts its
category at, since its dispatch, answered when the case was accepted.

An escalation's order id comes from the case, the level, the department and the order it
follows, never from the instant of the check: the same overdue case checked again before
its escalation is seen in the lake gives the same order, which the outbox delivers once.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from civiclake.catalogue import CATEGORY_BY_CODE
from civiclake.contracts.governance import ORDER_LEVELS
from civiclake.dispatch.orders import ORDER_COLUMNS, order_id
from civiclake.geography import Geography, load_geography
from civiclake.lake.read import wall_clock
from civiclake.working_time import (
    WorkingCalendar,
    WorkingTimeError,
    check_periods,
    default_calendar,
    parse_period,
)

DEFAULT_POLICY_FILE = Path(__file__).resolve().parent.parent / "reference" / "dispatch" / "escalation.yaml"
# Fields a department template may name.
TEMPLATE_FIELDS = ("district_name", "street_name", "street_code", "community_name", "community_code")
# Columns of the inputs: silver.governance_cases and silver.governance_dispatch_orders.
CASE_COLUMNS = (
    "case_id",
    "category",
    "street_code",
    "community_code",
    "status",
    "dispatched_at",
    "accepted_at",
)
ORDER_INPUT_COLUMNS = ("order_id", "case_id", "kind", "level", "issued_at", "accepted_at", "status")


def template_names(template: str) -> set[str]:
    """The fields a department template names (``{street_name}`` …); raises ValueError for a
    malformed one (an unclosed brace)."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def check_template(template: str, allowed: tuple[str, ...] = TEMPLATE_FIELDS) -> str:
    """The template, when it names only ``allowed`` fields; else ValueError naming the others."""
    unknown = sorted(template_names(template) - set(allowed))
    if unknown:
        raise ValueError(f"names {unknown}; a department may name {list(allowed)}")
    return template


class EscalationPolicyError(ValueError):
    """An escalation policy file cannot be used; the message names the file and the key."""


class Level(BaseModel):
    model_config = ConfigDict(extra="forbid")
    level: str
    accept_within: float | None = Field(default=None, gt=0)
    by_category: dict[str, float] = {}
    department: str | None = None

    @field_validator("by_category")
    @classmethod
    def _known_categories(cls, value: dict[str, float]) -> dict[str, float]:
        for code, hours in value.items():
            if code not in CATEGORY_BY_CODE:
                raise ValueError(f"unknown category {code!r}; expected one of {sorted(CATEGORY_BY_CODE)}")
            if not hours > 0:
                raise ValueError(f"{code}: working hours must be more than 0, got {hours}")
        return value

    @field_validator("department")
    @classmethod
    def _known_fields(cls, value: str | None) -> str | None:
        return value if value is None else check_template(value)


class PolicyDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int | str
    working_hours: list[str]
    levels: list[Level]
    beyond_community: dict[str, str] = {}

    @field_validator("beyond_community")
    @classmethod
    def _known_beyond(cls, value: dict[str, str]) -> dict[str, str]:
        for code in value:
            if code not in CATEGORY_BY_CODE:
                raise ValueError(f"unknown category {code!r}; expected one of {sorted(CATEGORY_BY_CODE)}")
        return value

    @model_validator(mode="after")
    def _three_levels(self) -> PolicyDocument:
        names = tuple(level.level for level in self.levels)
        if names != ORDER_LEVELS:
            raise ValueError(f"levels must be {list(ORDER_LEVELS)} in this order, got {list(names)}")
        return self


@dataclass(frozen=True)
class EscalationPolicy:
    """A validated policy: per level its time to accept and department, and the working calendar."""

    source: str
    version: str
    calendar: WorkingCalendar
    levels: dict[str, Level]
    beyond_community: dict[str, str] = field(default_factory=dict)

    def next_level(self, level: str) -> str | None:
        index = ORDER_LEVELS.index(level)
        return ORDER_LEVELS[index + 1] if index + 1 < len(ORDER_LEVELS) else None

    def start_level(self, category: str) -> str:
        """Where a case of ``category`` starts: the street for what a community cannot settle."""
        return "street" if category in self.beyond_community else "community"

    def accept_within(self, level: str, category: str) -> tuple[float, str]:
        """Working hours ``level`` has to accept a case of ``category``, and the key that says so."""
        spec = self.levels[level]
        if category in spec.by_category:
            return spec.by_category[category], f"{level}.by_category.{category}"
        return spec.accept_within, f"{level}.accept_within"


def _error(source: str, key: str, message: str) -> EscalationPolicyError:
    return EscalationPolicyError(f"{source}, {key}: {message}")


def _read(path: Path) -> EscalationPolicy:
    source = str(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise EscalationPolicyError(
            f"{source}: cannot read the escalation policy ({error.strerror})"
        ) from None
    except yaml.YAMLError as error:
        raise EscalationPolicyError(f"{source}: not valid YAML ({error})") from None
    if not isinstance(document, dict):
        raise EscalationPolicyError(f"{source}: expected a mapping with version, working_hours, levels")
    try:
        parsed = PolicyDocument.model_validate(document)
    except ValidationError as error:
        first = error.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "(policy)"
        raise _error(source, key, first["msg"]) from None
    periods = []
    for index, text in enumerate(parsed.working_hours):
        try:
            periods.append(parse_period(text, f"{source}, working_hours.{index}"))
        except WorkingTimeError as error:
            raise EscalationPolicyError(str(error)) from None
    try:
        check_periods(tuple(periods), f"{source}, working_hours")
    except WorkingTimeError as error:
        raise EscalationPolicyError(str(error)) from None
    for index, level in enumerate(parsed.levels):
        top = index == len(parsed.levels) - 1
        if top and (level.accept_within is not None or level.by_category):
            raise _error(
                source, f"levels.{index}.accept_within", "the top level escalates nowhere; leave it out"
            )
        if not top and level.accept_within is None:
            raise _error(source, f"levels.{index}.accept_within", f"required for the {level.level} level")
        if index > 0 and not level.department:
            raise _error(
                source, f"levels.{index}.department", f"required: who receives escalations to {level.level}"
            )
    for code in parsed.beyond_community:
        if code in parsed.levels[0].by_category:
            raise _error(
                source,
                f"levels.0.by_category.{code}",
                "the category is beyond_community, so its cases never wait at the community",
            )
    return EscalationPolicy(
        source=source,
        version=str(parsed.version),
        calendar=default_calendar().with_periods(periods),
        levels={level.level: level for level in parsed.levels},
        beyond_community=dict(parsed.beyond_community),
    )


@cache
def _default_policy() -> EscalationPolicy:
    return _read(DEFAULT_POLICY_FILE)


def load_policy(path: Path | str | None = None) -> EscalationPolicy:
    """The policy of a YAML file (the shipped default when ``path`` is None)."""
    path = Path(path) if path is not None else DEFAULT_POLICY_FILE
    return _default_policy() if path == DEFAULT_POLICY_FILE else _read(path)


def _missing(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise ValueError(f"{what} lacks the columns {absent}")


def positions(
    cases: pd.DataFrame, orders: pd.DataFrame, as_of: datetime, policy: EscalationPolicy
) -> pd.DataFrame:
    """Where each open, dispatched case stands at ``as_of``: case_id, category, street_code,
    community_code, level, reached_at, answered (bool) and previous_order_id (None for a
    case without orders)."""
    _missing(cases, CASE_COLUMNS, "the cases frame")
    _missing(orders, ORDER_INPUT_COLUMNS, "the dispatch orders frame")
    as_of = pd.Timestamp(as_of)
    cases = cases.assign(
        dispatched_at=wall_clock(cases["dispatched_at"]), accepted_at=wall_clock(cases["accepted_at"])
    )
    open_cases = cases[(cases["status"] != "closed") & cases["dispatched_at"].le(as_of)]

    orders = orders.assign(
        issued_at=wall_clock(orders["issued_at"]), accepted_at=wall_clock(orders["accepted_at"])
    )
    orders = orders[orders["issued_at"].le(as_of) & orders["case_id"].isin(open_cases["case_id"])]
    # The latest order is where the case is; at equal times, the higher level (an escalation
    # issued with the order it follows), then the order id, so the choice never depends on row order.
    orders = orders.assign(_rank=orders["level"].map(ORDER_LEVELS.index))
    latest = (
        orders.sort_values(["case_id", "issued_at", "_rank", "order_id"])
        .drop_duplicates("case_id", keep="last")
        .set_index("case_id")
    )

    frame = open_cases.set_index("case_id")
    ordered = frame.index.isin(latest.index)
    current = latest.reindex(frame.index)
    level = current["level"].where(ordered, frame["category"].map(policy.start_level))
    reached_at = current["issued_at"].where(ordered, frame["dispatched_at"])
    order_accepted = current["accepted_at"].le(as_of) | current["status"].eq("accepted")
    case_accepted = frame["accepted_at"].le(as_of) & frame["accepted_at"].ge(reached_at)
    answered = (order_accepted & ordered) | case_accepted
    return pd.DataFrame(
        {
            "case_id": frame.index,
            "category": frame["category"].to_numpy(),
            "street_code": frame["street_code"].to_numpy(),
            "community_code": frame["community_code"].to_numpy(),
            "level": level.to_numpy(),
            "reached_at": reached_at.to_numpy(),
            "answered": answered.to_numpy(dtype=bool),
            "previous_order_id": [
                order if has_order else None
                for order, has_order in zip(current["order_id"], ordered, strict=True)
            ],
        }
    ).reset_index(drop=True)


def _department(template: str, geography: Geography, street_code: str, community_code: str | None) -> str:
    street = geography.streets.get(street_code)
    if street is None:
        raise ValueError(f"street_code {street_code!r} is not a street of {geography.district.name}")
    community = geography.communities.get(community_code) if community_code else None
    return template.format(
        district_name=geography.district.name,
        street_name=street.name,
        street_code=street.code,
        community_name=community.name if community else "",
        community_code=community.code if community else "",
    )


def escalations(
    cases: pd.DataFrame,
    orders: pd.DataFrame,
    as_of: datetime,
    policy: EscalationPolicy | None = None,
    geography: Geography | None = None,
) -> pd.DataFrame:
    """The escalation orders due at ``as_of`` (columns ORDER_COLUMNS, issued at ``as_of``).

    ``cases`` holds CASE_COLUMNS of silver.governance_cases, ``orders`` ORDER_INPUT_COLUMNS of
    silver.governance_dispatch_orders; times are wall clock (naive, or zone-aware as the lake
    keeps them). A case goes up one level per check: an open case at the community whose
    category is beyond its competence at once; any other case not answered at its level
    within the level's working hours. Cases at the district, answered, closed or not yet
    dispatched stay where they are.
    """
    policy = policy or load_policy()
    geography = geography or load_geography()
    as_of = pd.Timestamp(as_of).to_pydatetime()
    rows = []
    for case in positions(cases, orders, as_of, policy).itertuples(index=False):
        target = policy.next_level(case.level)
        if case.answered or target is None:
            continue
        reached_at = pd.Timestamp(case.reached_at).to_pydatetime()
        waited = policy.calendar.working_hours_between(reached_at, as_of)
        since = f"since {reached_at:%Y-%m-%d %H:%M}"
        if case.level == "community" and case.category in policy.beyond_community:
            reason = (
                f"beyond_community.{case.category}: {policy.beyond_community[case.category]} "
                f"(waited {waited:.1f} working hours at community {since})"
            )
        else:
            limit, key = policy.accept_within(case.level, case.category)
            if waited < limit:
                continue
            reason = (
                f"{key} = {limit:g} working hours: not accepted after {waited:.1f} working hours "
                f"at {case.level} {since}"
            )
        department = _department(
            policy.levels[target].department, geography, case.street_code, case.community_code
        )
        basis = case.previous_order_id or f"dispatched {reached_at.isoformat()}"
        rows.append(
            {
                "order_id": order_id(case.case_id, "escalation", target, department, basis),
                "case_id": case.case_id,
                "kind": "escalation",
                "level": target,
                "department": department,
                "team": None,
                "reason": reason,
                "previous_order_id": case.previous_order_id,
                "issued_at": as_of,
                "accepted_at": None,
                "status": "issued",
                "updated_at": as_of,
            }
        )
    frame = pd.DataFrame(rows, columns=list(ORDER_COLUMNS))
    frame["issued_at"] = pd.to_datetime(frame["issued_at"])
    frame["updated_at"] = pd.to_datetime(frame["updated_at"])
    frame["accepted_at"] = pd.to_datetime(frame["accepted_at"])
    return frame.sort_values("case_id", ignore_index=True)

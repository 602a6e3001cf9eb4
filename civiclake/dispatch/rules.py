"""Routing rules of case dispatch: an ordered YAML list, the first matching rule wins.

A rule names the responsible department and the team that acts (a street's 城管 squad,
a community's grid team, …) for cases that match its conditions on category, area, time
of report and, for city-management assets such as manhole covers, the asset's owner.
The rules are data (``civiclake/reference/dispatch/routing_rules.yaml``) so that a
district changes its routing without changing code; every file is validated when read,
and an error names the file, the rule (index and id) and the field.

:func:`route` applies the rules to a pandas frame, one boolean mask per rule, so it runs
unchanged inside a Spark ``mapInPandas``.
"""

from __future__ import annotations

import string
from functools import cache
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from civiclake.catalogue import CATEGORIES, CATEGORY_BY_CODE
from civiclake.geography import Geography, load_geography

DEFAULT_RULES_FILE = Path(__file__).resolve().parent.parent / "reference" / "dispatch" / "routing_rules.yaml"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = Python's date.weekday()
# Fields a department or team template may name; asset_owner only where the rule requires a known owner.
AREA_FIELDS = ("street_code", "street_name", "community_code", "community_name", "grid_code", "grid_name")
TEMPLATE_FIELDS = (*AREA_FIELDS, "category", "asset_owner")
ROUTE_COLUMNS = ("department", "team", "rule_id")


class RoutingRulesError(ValueError):
    """A routing rules file cannot be used; the message names the file, rule and field."""


class HourRange(BaseModel):
    """Hours of the day from ``start`` up to (not including) ``end``; crosses midnight when start > end."""

    model_config = ConfigDict(extra="forbid")
    start: int = Field(ge=0, le=23)
    end: int = Field(ge=1, le=24)

    @model_validator(mode="after")
    def _not_empty(self) -> HourRange:
        if self.start == self.end or (self.start == 0 and self.end == 24):
            raise ValueError("start and end must make a part of the day (leave hours out to match all day)")
        return self

    def contains(self, hours: np.ndarray) -> np.ndarray:
        if self.start < self.end:
            return (hours >= self.start) & (hours < self.end)
        return (hours >= self.start) | (hours < self.end)


class Match(BaseModel):
    model_config = ConfigDict(extra="forbid")
    categories: list[str] | None = None
    street_codes: list[str] | None = None
    community_codes: list[str] | None = None
    grid_codes: list[str] | None = None
    weekdays: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] | None = None
    hours: HourRange | None = None
    # "known", "unknown" (先修后定) or the owning department's name.
    asset_owner: str | None = None

    @field_validator("categories")
    @classmethod
    def _known_categories(cls, value):
        unknown = [c for c in value or () if c not in CATEGORY_BY_CODE]
        if unknown:
            raise ValueError(f"unknown category {unknown}; known: {sorted(CATEGORY_BY_CODE)}")
        return value

    @field_validator("street_codes", "community_codes", "grid_codes")
    @classmethod
    def _known_areas(cls, value, info):
        geography = load_geography()
        known = {
            "street_codes": geography.streets,
            "community_codes": geography.communities,
            "grid_codes": geography.grids,
        }[info.field_name]
        unknown = [str(c) for c in value or () if str(c) not in known]
        if unknown:
            raise ValueError(f"unknown code(s) {unknown} (not in the reference geography)")
        return [str(c) for c in value] if value is not None else None

    @field_validator("categories", "street_codes", "community_codes", "grid_codes", "weekdays")
    @classmethod
    def _not_empty(cls, value):
        if value is not None and not value:
            raise ValueError("an empty list matches nothing: leave the condition out to match anything")
        return value

    @field_validator("asset_owner")
    @classmethod
    def _owner(cls, value):
        if value is not None and not value.strip():
            raise ValueError("give known, unknown or a department name")
        return value

    @property
    def is_catch_all(self) -> bool:
        return all(getattr(self, name) is None for name in type(self).model_fields)


def _template_fields(template: str) -> set[str]:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as error:
        raise ValueError(f"malformed template {template!r}: {error}") from None


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, pattern=r"^[a-z0-9_]+$")
    description: str = ""
    match: Match = Field(default_factory=Match)
    department: str = Field(min_length=1)
    team: str = Field(min_length=1)

    @model_validator(mode="after")
    def _templates(self) -> Rule:
        owner_known = self.match.asset_owner not in (None, "unknown")
        allowed = set(TEMPLATE_FIELDS) if owner_known else set(TEMPLATE_FIELDS) - {"asset_owner"}
        for name in ("department", "team"):
            fields = _template_fields(getattr(self, name))
            bad = sorted(fields - allowed)
            if bad:
                hint = (
                    " ({asset_owner} needs match.asset_owner: known or a department)"
                    if "asset_owner" in bad
                    else ""
                )
                raise ValueError(f"{name} names unknown field(s) {bad}{hint}; allowed: {sorted(allowed)}")
        return self


class RuleSet(BaseModel):
    version: int = 1
    rules: list[Rule]
    source: str = "<memory>"

    @property
    def departments(self) -> set[str]:
        """Departments the rules name literally (templates left out)."""
        return {r.department for r in self.rules if not _template_fields(r.department)}


def _error(path: str, where: str, field: str, message: str) -> RoutingRulesError:
    return RoutingRulesError(f"{path}: {where}: field {field!r}: {message}")


def parse_rules(document: object, source: str = "<memory>") -> RuleSet:
    """Validates a parsed YAML document (a mapping with ``rules``) rule by rule."""
    if not isinstance(document, dict) or not isinstance(document.get("rules"), list):
        raise RoutingRulesError(f"{source}: expected a mapping with a list under 'rules'")
    unknown_keys = sorted(set(document) - {"version", "rules"})
    if unknown_keys:
        raise RoutingRulesError(f"{source}: unknown top-level key(s) {unknown_keys}; expected version, rules")
    if not document["rules"]:
        raise RoutingRulesError(f"{source}: no rules")
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(document["rules"]):
        rule_id = raw.get("id") if isinstance(raw, dict) else None
        where = f"rule #{index}" + (f" ({rule_id})" if rule_id else "")
        try:
            rule = Rule.model_validate(raw)
        except ValidationError as error:
            first = error.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "(rule)"
            raise _error(source, where, field, first["msg"]) from None
        if rule.id in seen:
            raise _error(source, where, "id", f"duplicate id, first used by rule #{seen[rule.id]}")
        seen[rule.id] = index
        if rule.match.is_catch_all and index != len(document["rules"]) - 1:
            raise _error(
                source, where, "match", "matches every case, so the rules after it could never apply"
            )
        rules.append(rule)
    if not rules[-1].match.is_catch_all:
        last = rules[-1]
        raise _error(
            source,
            f"rule #{len(rules) - 1} ({last.id})",
            "match",
            "the last rule must match every case (match: {}), so that no case is left unrouted",
        )
    return RuleSet(version=document.get("version", 1), rules=rules, source=source)


def load_rules(path: Path | str | None = None) -> RuleSet:
    """The rules of a YAML file (the shipped default when ``path`` is None)."""
    path = Path(path) if path is not None else DEFAULT_RULES_FILE
    if path == DEFAULT_RULES_FILE:
        return _default_rules()
    return _read(path)


@cache
def _default_rules() -> RuleSet:
    return _read(DEFAULT_RULES_FILE)


def _read(path: Path) -> RuleSet:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RoutingRulesError(f"{path}: routing rules file does not exist") from None
    except UnicodeDecodeError as error:
        raise RoutingRulesError(f"{path}: not UTF-8 text (byte {error.start})") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise RoutingRulesError(f"{path}: not valid YAML: {error}") from None
    return parse_rules(document, str(path))


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame.columns:
        return frame[name]
    return pd.Series([None] * len(frame), index=frame.index, dtype="object")


def _isin(values: pd.Series, allowed: list[str]) -> np.ndarray:
    return values.isin(allowed).to_numpy()


def route(frame: pd.DataFrame, rules: RuleSet, geography: Geography | None = None) -> pd.DataFrame:
    """department, team and rule_id of each row, by the first rule that matches it.

    ``frame`` holds category, community_code, grid_code, reported_at (local time) and,
    optionally, street_code (else derived from the community) and asset_owner (a
    department, or missing when the owner is not known). Rows of an unknown community
    still route: area conditions fail for them and area names in templates are empty.
    """
    geography = geography or load_geography()
    n = len(frame)
    community = _column(frame, "community_code").astype("object")
    street = _column(frame, "street_code").astype("object")
    derived = community.map(
        lambda c: geography.communities[c].parent_code if c in geography.communities else None
    )
    street = street.where(street.notna(), derived)
    grid = _column(frame, "grid_code").astype("object")
    category = _column(frame, "category").astype("object")
    owner = _column(frame, "asset_owner").astype("object")
    owner = owner.where(owner.notna() & (owner.astype(str).str.strip() != ""), None)
    reported = pd.to_datetime(_column(frame, "reported_at"))
    hours = reported.dt.hour.to_numpy()
    weekdays = reported.dt.weekday.to_numpy()
    has_time = reported.notna().to_numpy()

    chosen = np.full(n, -1)
    for index, rule in enumerate(rules.rules):
        open_rows = chosen < 0
        if not open_rows.any():
            break
        m = rule.match
        mask = open_rows.copy()
        if m.categories is not None:
            mask &= _isin(category, m.categories)
        if m.street_codes is not None:
            mask &= _isin(street, m.street_codes)
        if m.community_codes is not None:
            mask &= _isin(community, m.community_codes)
        if m.grid_codes is not None:
            mask &= _isin(grid, m.grid_codes)
        if m.weekdays is not None:
            wanted = [WEEKDAYS.index(d) for d in m.weekdays]
            mask &= has_time & np.isin(weekdays, wanted)
        if m.hours is not None:
            mask &= has_time & m.hours.contains(hours)
        if m.asset_owner == "known":
            mask &= owner.notna().to_numpy()
        elif m.asset_owner == "unknown":
            mask &= owner.isna().to_numpy()
        elif m.asset_owner is not None:
            mask &= (owner == m.asset_owner).to_numpy()
        chosen[mask] = index

    def names(codes: pd.Series, areas: dict) -> list[str]:
        return [areas[c].name if c in areas else "" for c in codes]

    values = {
        "street_code": street.fillna("").tolist(),
        "street_name": names(street, geography.streets),
        "community_code": community.fillna("").tolist(),
        "community_name": names(community, geography.communities),
        "grid_code": grid.fillna("").tolist(),
        "grid_name": names(grid, geography.grids),
        "category": category.fillna("").tolist(),
        "asset_owner": owner.fillna("").tolist(),
    }
    departments, teams, ids = [], [], []
    for row, index in enumerate(chosen):
        rule = rules.rules[index]
        fields = {k: v[row] for k, v in values.items()}
        departments.append(rule.department.format(**fields))
        teams.append(rule.team.format(**fields))
        ids.append(rule.id)
    return pd.DataFrame({"department": departments, "team": teams, "rule_id": ids}, index=frame.index)


def catalogue_conflicts(rules: RuleSet, geography: Geography | None = None) -> list[str]:
    """Where the rules disagree with the catalogue's default department of a category.

    Checked for a case of each category reported in every community at 10:00 on each
    weekday (Monday to Friday), owner not known: the situation the catalogue's default
    describes. Night, weekend and owner-specific rules may route elsewhere.
    """
    geography = geography or load_geography()
    rows = [
        {
            "category": c.code,
            "community_code": code,
            "grid_code": geography.grids_of(code)[0].code,
            "reported_at": pd.Timestamp(2026, 11, 23 + day, 10),  # 2026-11-23 is a Monday
        }
        for c in CATEGORIES
        for code in sorted(geography.communities)
        for day in range(5)
    ]
    frame = pd.DataFrame(rows)
    routed = route(frame, rules, geography)
    conflicts = []
    for category in CATEGORIES:
        chosen = routed[frame["category"] == category.code]
        wrong = chosen[chosen["department"] != category.department]
        if len(wrong):
            first = wrong.iloc[0]
            conflicts.append(
                f"{category.code}: catalogue says {category.department}, rule {first.rule_id} "
                f"routes {len(wrong)} weekday-daytime case(s) to {first.department}"
            )
    return conflicts

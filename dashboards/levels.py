"""One dashboard per level of the 1+6+N command system, generated from one YAML file.

Row-level security narrows every dashboard to the viewer's area, but a panel that
lists streets means nothing to a community's secretary (their security leaves it
empty), and a street's leader wants its communities where the district sees its
streets. So a screen's YAML says, under ``civiclake_levels``, which levels get a
dashboard and which charts a level replaces::

    civiclake_levels:
      district: {}                                # the file as written
      street: {}
      community:
        replace: {<chart uuid>: <chart uuid>}     # a community version of a panel

and a chart whose rows depend on the viewer's level says, under
``civiclake_level_rows``, which rows of the mart (the value of its ``level`` filter)
each level reads::

    civiclake_level_rows: {district: street, street: community, community: community}

The district's dashboard and charts keep the file's own uuid and slug (links stay
valid); the street's and community's get ``uuid5`` uuids derived from them and the
slugs ``<slug>-street`` / ``<slug>-community``. Both keys are civiclake's own and are
removed before the bundle reaches Superset.

This module imports nothing of civiclake: Superset's configuration loads it by path to
send each viewer's saved link to the dashboard of their level.
"""

from __future__ import annotations

import copy
import uuid as uuidlib
from typing import Any

LEVELS = ("district", "street", "community")
LEVEL_NAMES_ZH = {"district": "区级", "street": "街道", "community": "社区"}
LEVELS_KEY = "civiclake_levels"
LEVEL_ROWS_KEY = "civiclake_level_rows"
# Where a leader's saved links lead: the screen of their level (infra/superset/screen_links.py).
SCREEN_SLUGS = {"screen": "longhua-command-screen", "mobile": "longhua-leader-mobile"}


class LevelsError(ValueError):
    """A dashboard's or chart's civiclake level keys are wrong (the message names which)."""


def variant_uuid(base_uuid: str, level: str, kind: str) -> str:
    """The uuid of a chart's or dashboard's version for ``level`` (the district keeps
    the base uuid)."""
    if level == "district":
        return base_uuid
    return str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"civiclake:{kind}:{base_uuid}:{level}"))


def level_slug(slug: str, level: str) -> str:
    return slug if level == "district" else f"{slug}-{level}"


def _level_filter(chart: dict[str, Any]) -> dict[str, Any]:
    found = [
        f
        for f in chart["params"].get("adhoc_filters", [])
        if f.get("subject") == "level" and f.get("operator") == "=="
    ]
    if len(found) != 1:
        raise LevelsError(
            f"chart {chart['slice_name']!r}: {LEVEL_ROWS_KEY} needs exactly one `level ==` filter"
        )
    return found[0]


def _chart_for_level(chart: dict[str, Any], level: str) -> dict[str, Any]:
    rows = chart[LEVEL_ROWS_KEY]
    unknown = set(rows) ^ set(LEVELS)
    if unknown:
        raise LevelsError(
            f"chart {chart['slice_name']!r}: {LEVEL_ROWS_KEY} must name the rows of each of {LEVELS}"
        )
    if _level_filter(chart)["comparator"] != rows["district"]:
        raise LevelsError(
            f"chart {chart['slice_name']!r}: its `level` filter must be the district's rows "
            f"({rows['district']!r}) as written in {LEVEL_ROWS_KEY}"
        )
    variant = copy.deepcopy(chart)
    del variant[LEVEL_ROWS_KEY]
    variant["uuid"] = variant_uuid(chart["uuid"], level, "chart")
    _level_filter(variant)["comparator"] = rows[level]
    return variant


def _dashboard_for_level(
    dashboard: dict[str, Any], level: str, chart_uuid_for: dict[str, str], slice_names: dict[str, str]
) -> dict[str, Any]:
    variant = copy.deepcopy(dashboard)
    del variant[LEVELS_KEY]
    variant["uuid"] = variant_uuid(dashboard["uuid"], level, "dashboard")
    variant["slug"] = level_slug(dashboard["slug"], level)
    if level != "district":
        variant["dashboard_title"] = f"{dashboard['dashboard_title']}（{LEVEL_NAMES_ZH[level]}）"
    for component in variant["position"].values():
        if isinstance(component, dict) and component.get("type") == "CHART":
            meta = component["meta"]
            meta["uuid"] = chart_uuid_for.get(meta["uuid"], meta["uuid"])
            meta["sliceName"] = slice_names.get(meta["uuid"], meta.get("sliceName"))
    return variant


def expand_levels(assets: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The assets with each leveled dashboard once per level and the versions of leveled
    charts those dashboards show (a version no dashboard shows is left out); files
    without the civiclake keys pass through unchanged."""
    charts = {a["uuid"]: a for rel, a in assets.items() if rel.startswith("charts/")}
    out: dict[str, dict[str, Any]] = {}
    for rel, asset in assets.items():
        if rel.startswith("dashboards/") and LEVELS_KEY in asset:
            for level, spec in _levels_of(rel, asset, charts).items():
                chart_uuid_for = {
                    base: variant_uuid(base, level, "chart")
                    for base, c in charts.items()
                    if LEVEL_ROWS_KEY in c
                }
                for old, new in (spec or {}).get("replace", {}).items():
                    chart_uuid_for[old] = chart_uuid_for.get(new, new)
                slice_names = {
                    variant_uuid(u, level, "chart") if LEVEL_ROWS_KEY in c else u: c["slice_name"]
                    for u, c in charts.items()
                }
                out[_variant_path(rel, level)] = _dashboard_for_level(
                    asset, level, chart_uuid_for, slice_names
                )
        elif not (rel.startswith("charts/") and LEVEL_ROWS_KEY in asset):
            out[rel] = asset
    shown = {
        c["meta"]["uuid"]
        for rel, a in out.items()
        if rel.startswith("dashboards/")
        for c in a["position"].values()
        if isinstance(c, dict) and c.get("type") == "CHART"
    }
    for rel, asset in assets.items():
        if rel.startswith("charts/") and LEVEL_ROWS_KEY in asset:
            for level in LEVELS:
                variant = _chart_for_level(asset, level)
                if variant["uuid"] in shown:
                    out[_variant_path(rel, level)] = variant
    return out


def _levels_of(rel: str, dashboard: dict[str, Any], charts: dict[str, dict[str, Any]]) -> dict[str, Any]:
    levels = dashboard[LEVELS_KEY]
    if set(levels) - set(LEVELS) or "district" not in levels:
        raise LevelsError(f"{rel}: {LEVELS_KEY} names {sorted(levels)}; levels are {LEVELS}")
    for level, spec in levels.items():
        replace = (spec or {}).get("replace", {})
        missing = [u for u in (*replace, *replace.values()) if u not in charts]
        if missing:
            raise LevelsError(f"{rel}: {level}: replace names charts not in assets: {missing}")
    return levels


def _variant_path(rel: str, level: str) -> str:
    return rel if level == "district" else rel.replace(".yaml", f"__{level}.yaml")


def dashboard_levels(assets: dict[str, dict[str, Any]]) -> dict[str, tuple[str, str]]:
    """uuid of every generated dashboard -> (the file's uuid, level)."""
    out = {}
    for rel, asset in assets.items():
        if rel.startswith("dashboards/") and LEVELS_KEY in asset:
            for level in asset[LEVELS_KEY]:
                out[variant_uuid(asset["uuid"], level, "dashboard")] = (asset["uuid"], level)
    return out


def chart_levels(assets: dict[str, dict[str, Any]]) -> dict[str, tuple[str, str]]:
    """uuid of every chart version -> (the file's uuid, level)."""
    out = {}
    for rel, asset in assets.items():
        if rel.startswith("charts/") and LEVEL_ROWS_KEY in asset:
            for level in LEVELS:
                out[variant_uuid(asset["uuid"], level, "chart")] = (asset["uuid"], level)
    return out


def viewer_level(role_names: set[str] | frozenset[str]) -> str:
    """The level whose dashboards a viewer opens, from their Superset roles (the role
    names of dashboards/access.yaml): a street's or a community's role gives that level,
    any other role the district's view (narrowed by row-level security all the same)."""
    if any(name.startswith("civiclake_community_") for name in role_names):
        return "community"
    if any(name.startswith("civiclake_street_") for name in role_names):
        return "street"
    return "district"


def screen_path(screen: str, level: str) -> str:
    """Where a saved link to ``screen`` (``screen`` or ``mobile``) leads a viewer of
    ``level``: the level's dashboard in Superset's standalone mode 2 (no navigation bar,
    no title or edit controls)."""
    return f"/superset/dashboard/{level_slug(SCREEN_SLUGS[screen], level)}/?standalone=2"


def dashboard_level(slug: str, slugs: set[str]) -> str | None:
    """The level a dashboard was generated for, from its slug among all dashboards'
    slugs; None for a dashboard that serves every level (no versions)."""
    for level in ("street", "community"):
        if slug.endswith(f"-{level}") and slug.removesuffix(f"-{level}") in slugs:
            return level
    return "district" if level_slug(slug, "street") in slugs else None

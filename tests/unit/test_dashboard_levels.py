"""One dashboard per level from one YAML file (dashboards/levels.py), the themes the
importer applies (dashboards/themes.py) and where a viewer's saved link leads."""

from __future__ import annotations

import copy
import io
import zipfile

import pytest
import yaml

from dashboards.importer import build_bundle, load_assets
from dashboards.levels import (
    LEVELS,
    LevelsError,
    chart_levels,
    expand_levels,
    screen_path,
    variant_uuid,
    viewer_level,
)
from dashboards.superset_client import AssetImportError
from dashboards.themes import dashboard_themes, load_themes

FILES = load_assets()
EXPANDED = expand_levels(FILES)
COMMAND_SCREEN = "0739059c-9461-5695-8c75-4b56267084c4"
LEADER_MOBILE = "f8688cca-88e4-5980-8f82-545e6cea38c6"
SPECIAL_POPULATION = "2a7b9763-9611-536f-8ecd-e07e013801a9"
SCORE_STREETS = "cbea1608-4813-5627-b033-c0fb5639b1dd"
SCORE_TREND = "c412c113-875f-5fce-b194-3cd4603d3d07"


def _by_uuid(assets: dict, kind: str) -> dict[str, dict]:
    return {a["uuid"]: a for rel, a in assets.items() if rel.startswith(f"{kind}/")}


def _charts_on(dashboard: dict) -> set[str]:
    return {
        c["meta"]["uuid"]
        for c in dashboard["position"].values()
        if isinstance(c, dict) and c.get("type") == "CHART"
    }


def _level_filter(chart: dict) -> str:
    return next(f["comparator"] for f in chart["params"]["adhoc_filters"] if f.get("subject") == "level")


@pytest.mark.parametrize(
    "screen,slug", [(COMMAND_SCREEN, "longhua-command-screen"), (LEADER_MOBILE, "longhua-leader-mobile")]
)
def test_each_screen_becomes_one_dashboard_per_level(screen, slug):
    dashboards = _by_uuid(EXPANDED, "dashboards")
    versions = [dashboards[variant_uuid(screen, level, "dashboard")] for level in LEVELS]
    assert [d["slug"] for d in versions] == [slug, f"{slug}-street", f"{slug}-community"]
    assert versions[0]["uuid"] == screen  # the district keeps the file's uuid: old links hold
    assert len({d["uuid"] for d in versions}) == 3
    for d in versions:
        assert not {k for k in d if k.startswith("civiclake_levels")}, (
            "civiclake's key reached Superset's YAML"
        )


def test_a_level_shows_its_own_version_of_each_leveled_chart():
    charts = _by_uuid(EXPANDED, "charts")
    versions = chart_levels(FILES)
    for level in LEVELS:
        shown = _charts_on(_by_uuid(EXPANDED, "dashboards")[variant_uuid(COMMAND_SCREEN, level, "dashboard")])
        special = variant_uuid(SPECIAL_POPULATION, level, "chart")
        assert special in shown
        # district: the streets; a street: its communities; a community: its own row
        assert (
            _level_filter(charts[special])
            == {"district": "street", "street": "community", "community": "community"}[level]
        )
        assert all(versions.get(u, (u, level))[1] == level for u in shown), (
            f"{level} shows another level's chart"
        )
        for u in shown:
            assert "civiclake_level_rows" not in charts[u]


def test_street_and_community_follow_their_own_score_where_the_district_ranks_streets():
    dashboards = _by_uuid(EXPANDED, "dashboards")
    district = _charts_on(dashboards[COMMAND_SCREEN])
    assert SCORE_STREETS in district and variant_uuid(SCORE_TREND, "district", "chart") not in district
    for level in ("street", "community"):
        shown = _charts_on(dashboards[variant_uuid(COMMAND_SCREEN, level, "dashboard")])
        assert SCORE_STREETS not in shown
        trend = variant_uuid(SCORE_TREND, level, "chart")
        assert trend in shown
        assert _level_filter(_by_uuid(EXPANDED, "charts")[trend]) == level
    # a version no dashboard shows is not imported
    assert SCORE_TREND not in _by_uuid(EXPANDED, "charts")


def test_the_bundle_carries_no_civiclake_keys():
    bundle = build_bundle(EXPANDED, "duckdb:////tmp/marts.duckdb", {})
    with zipfile.ZipFile(io.BytesIO(bundle)) as z:
        for name in z.namelist():
            text = z.read(name).decode("utf-8")
            for key in ("civiclake_levels", "civiclake_level_rows", "civiclake_theme"):
                assert key not in text, f"{name} carries {key}"


def _assets_with(chart_change=None, dashboard_change=None) -> dict:
    assets = copy.deepcopy(FILES)
    rel_chart = next(r for r, a in assets.items() if a["uuid"] == SPECIAL_POPULATION)
    rel_dash = next(r for r, a in assets.items() if a["uuid"] == COMMAND_SCREEN)
    if chart_change:
        chart_change(assets[rel_chart])
    if dashboard_change:
        dashboard_change(assets[rel_dash])
    return assets


@pytest.mark.parametrize(
    "chart_change,dashboard_change,message",
    [
        (
            lambda c: c["params"].__setitem__(
                "adhoc_filters", [f for f in c["params"]["adhoc_filters"] if f.get("subject") != "level"]
            ),
            None,
            "exactly one `level ==` filter",
        ),
        (lambda c: c["civiclake_level_rows"].pop("community"), None, "must name the rows of each of"),
        (lambda c: c["civiclake_level_rows"].__setitem__("district", "community"), None, "district's rows"),
        (None, lambda d: d["civiclake_levels"].__setitem__("province", {}), "levels are"),
        (None, lambda d: d["civiclake_levels"].pop("district"), "levels are"),
        (
            None,
            lambda d: d["civiclake_levels"]["community"]["replace"].__setitem__(
                SCORE_STREETS, "no-such-chart"
            ),
            "replace names charts not in assets",
        ),
    ],
    ids=[
        "no-level-filter",
        "level-missing",
        "district-mismatch",
        "unknown-level",
        "no-district",
        "unknown-chart",
    ],
)
def test_wrong_level_keys_are_refused_naming_the_asset(chart_change, dashboard_change, message):
    with pytest.raises(LevelsError, match=message):
        expand_levels(_assets_with(chart_change, dashboard_change))


@pytest.mark.parametrize(
    "roles,level",
    [
        ({"civiclake_district_leader"}, "district"),
        ({"Admin"}, "district"),
        ({"civiclake_analyst", "Gamma"}, "district"),
        ({"civiclake_street_440309002", "Gamma"}, "street"),
        ({"civiclake_community_440309002001"}, "community"),
        ({"civiclake_street_440309002", "civiclake_community_440309002001"}, "community"),
    ],
)
def test_a_viewers_level_comes_from_their_roles(roles, level):
    assert viewer_level(roles) == level


def test_saved_links_open_the_levels_dashboard_in_kiosk_mode():
    assert screen_path("mobile", "street") == "/superset/dashboard/longhua-leader-mobile-street/?standalone=2"
    assert screen_path("screen", "district") == "/superset/dashboard/longhua-command-screen/?standalone=2"
    slugs = {a["slug"] for a in _by_uuid(EXPANDED, "dashboards").values()}
    for screen in ("screen", "mobile"):
        for level in LEVELS:
            assert screen_path(screen, level).split("/")[3] in slugs


def test_the_command_screens_of_every_level_are_dark():
    themes = load_themes()
    wanted = dashboard_themes(EXPANDED, themes)
    assert {variant_uuid(COMMAND_SCREEN, level, "dashboard") for level in LEVELS} <= set(wanted)
    assert all(themes[stem]["json_data"]["algorithm"] == "dark" for stem in wanted.values())


def test_a_dashboard_naming_an_unknown_theme_is_refused(tmp_path):
    assets = _assets_with(dashboard_change=lambda d: d.__setitem__("civiclake_theme", "neon"))
    with pytest.raises(AssetImportError, match="neon"):
        dashboard_themes(expand_levels(assets), load_themes())
    (tmp_path / "broken.yaml").write_text(yaml.safe_dump({"theme_name": "x"}), encoding="utf-8")
    with pytest.raises(AssetImportError, match="broken.yaml"):
        load_themes(tmp_path)

"""Multi-layer maps name their layers by uuid in YAML; the bundle carries chart ids."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
import yaml

from dashboards.importer import build_bundle, load_assets, map_layers
from dashboards.superset_client import AssetImportError

ROOT = Path(__file__).resolve().parents[2]

DISTRICT_MAP = "157ae666-ac3d-5149-ad3b-0334f171f374"
CASE_POLYGONS = "ee762bec-426d-5fe6-8302-79f19b0a7541"
RESOURCE_POINTS = "6d229d93-bc06-53b4-a115-307344ad821a"
CAMERA_EVENTS = "b1c8f96b-1145-5bfa-8b3e-6de773a94762"
STREET_OUTLINES = "89fb3adf-bca2-578c-ace6-8e4fd0c8ec9f"
OPERATIONS = "39c72d9b-3ab4-5bf3-9185-5057020cb81a"
OFFLINE = "offline://no-tiles"


def _bundled_chart(bundle: bytes, uuid: str) -> dict:
    with zipfile.ZipFile(io.BytesIO(bundle)) as z:
        for name in z.namelist():
            if "/charts/" in name:
                chart = yaml.safe_load(z.read(name))
                if chart["uuid"] == uuid:
                    return chart
    raise AssertionError(f"chart {uuid} not in the bundle")


def test_district_map_layers_go_from_the_case_polygons_up_to_the_live_operations():
    assert map_layers(load_assets()) == {
        DISTRICT_MAP: [CASE_POLYGONS, STREET_OUTLINES, RESOURCE_POINTS, CAMERA_EVENTS, OPERATIONS]
    }


def test_known_layer_ids_go_into_the_bundle_in_layer_order():
    ids = {CAMERA_EVENTS: 9, CASE_POLYGONS: 41, RESOURCE_POINTS: 7, STREET_OUTLINES: 3, OPERATIONS: 12}
    chart = _bundled_chart(build_bundle(load_assets(), "duckdb:///m.duckdb", ids), DISTRICT_MAP)
    assert chart["params"]["deck_slices"] == [41, 3, 7, 9, 12]
    assert chart["query_context"] is None


def test_layers_new_to_superset_are_left_for_after_the_import():
    bundle = build_bundle(load_assets(), "duckdb:///m.duckdb", {CASE_POLYGONS: 41})
    assert _bundled_chart(bundle, DISTRICT_MAP)["params"]["deck_slices"] == []


def test_a_layer_that_is_not_a_deck_chart_is_refused_with_the_file():
    assets = json.loads(json.dumps(load_assets()))
    district_map = next(rel for rel, a in assets.items() if a["uuid"] == DISTRICT_MAP)
    table_chart = next(
        a["uuid"] for rel, a in assets.items() if rel.startswith("charts/") and a["viz_type"] == "table"
    )
    assets[district_map]["params"]["civiclake_layer_uuids"] = [CASE_POLYGONS, table_chart]
    with pytest.raises(
        AssetImportError, match=rf"{district_map}: layer {table_chart} is not a deck.gl chart"
    ):
        map_layers(assets)


def test_the_district_map_and_its_own_layers_fetch_no_tiles():
    """Superset draws a tile layer for tile:// or an OSM URL and a Mapbox map for mapbox://;
    the offline style draws none, and superset_config offers it as the only base map."""
    assets = load_assets()
    charts = {a["uuid"]: a for rel, a in assets.items() if rel.startswith("charts/")}
    for uuid in (DISTRICT_MAP, CASE_POLYGONS, STREET_OUTLINES, RESOURCE_POINTS):
        assert charts[uuid]["params"]["mapbox_style"] == OFFLINE, uuid
    config = (ROOT / "infra" / "superset" / "superset_config.py").read_text(encoding="utf-8")
    assert f'DECKGL_BASE_MAP = [["{OFFLINE}", ' in config
    assert "tile.openstreetmap.org" not in config


def test_resource_points_colour_vehicles_and_teams_by_position_state():
    assets = load_assets()
    points = next(
        a for rel, a in assets.items() if rel.startswith("charts/") and a["uuid"] == RESOURCE_POINTS
    )
    dataset = next(a for rel, a in assets.items() if a["uuid"] == points["dataset_uuid"])
    classes = {c["column_name"]: c for c in dataset["columns"]}
    assert points["params"]["dimension"] == "map_class"
    for state, label in (("fresh", "实时定位"), ("stale", "定位过时"), ("none", "无定位（区域中心）")):
        assert f"WHEN '{state}' THEN '{label}'" in classes["map_class"]["expression"]

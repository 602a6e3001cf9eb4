"""Multi-layer maps name their layers by uuid in YAML; the bundle carries chart ids."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
import yaml

from dashboards.importer import build_bundle, load_assets, map_layers
from dashboards.superset_client import AssetImportError

DISTRICT_MAP = "157ae666-ac3d-5149-ad3b-0334f171f374"
CASE_POLYGONS = "ee762bec-426d-5fe6-8302-79f19b0a7541"
RESOURCE_POINTS = "6d229d93-bc06-53b4-a115-307344ad821a"
CAMERA_EVENTS = "b1c8f96b-1145-5bfa-8b3e-6de773a94762"


def _bundled_chart(bundle: bytes, uuid: str) -> dict:
    with zipfile.ZipFile(io.BytesIO(bundle)) as z:
        for name in z.namelist():
            if "/charts/" in name:
                chart = yaml.safe_load(z.read(name))
                if chart["uuid"] == uuid:
                    return chart
    raise AssertionError(f"chart {uuid} not in the bundle")


def test_district_map_layers_are_the_case_polygons_under_the_resource_and_camera_event_points():
    assert map_layers(load_assets()) == {DISTRICT_MAP: [CASE_POLYGONS, RESOURCE_POINTS, CAMERA_EVENTS]}


def test_known_layer_ids_go_into_the_bundle_in_layer_order():
    bundle = build_bundle(
        load_assets(), "duckdb:///m.duckdb", {CAMERA_EVENTS: 9, CASE_POLYGONS: 41, RESOURCE_POINTS: 7}
    )
    chart = _bundled_chart(bundle, DISTRICT_MAP)
    assert chart["params"]["deck_slices"] == [41, 7, 9]
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

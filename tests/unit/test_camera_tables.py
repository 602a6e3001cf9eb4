"""The camera tables' one definition (civiclake/frames/tables.py), their quality suites, and
the camera source of the category mapping."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pyarrow as pa
import pytest
import yaml

from civiclake.cases.categories import DEFAULT_PATH, SourceCategoriesError, load_categories
from civiclake.frames import tables
from civiclake.frames.classes import load_classes
from civiclake.geography import load_geography
from quality.gate import validate
from quality.suites import SUITES, camera_table


def test_one_schema_per_table_with_no_binary_column():
    for table in tables.TABLES:
        schema = tables.arrow_schema(table)
        assert schema.names == list(tables.column_names(table))
        assert not any(pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type) for f in schema)
        assert tables.spark_schema(table).startswith("`")
    assert set(tables.TABLES) <= set(SUITES)
    with pytest.raises(KeyError, match="no camera table 'camera_frames'"):
        tables.columns("camera_frames")


def _event(**changes) -> dict:
    geo = load_geography()
    community = "440309006001"
    grid = geo.grids_of(community)[0]
    lon, lat = grid.box.centroid
    start = datetime(2026, 6, 10, 10, 0, 3)
    return {
        "event_id": "CE-CAM-A-pothole-20260610100003",
        "camera_id": "CAM-A",
        "class": "pothole",
        "category": "road_facility",
        "started_at": start,
        "ended_at": datetime(2026, 6, 10, 10, 0, 7),
        "peak_score": 0.8,
        "frames_seen": 5,
        "frames_sampled": 5,
        "model_version": "fd-1",
        "auto_dispatch": False,
        "district_code": geo.district.code,
        "street_code": geo.street_of(community),
        "community_code": community,
        "grid_code": grid.code,
        "lon": lon,
        "lat": lat,
        "hour": datetime(2026, 6, 10, 10),
    } | changes


def test_the_events_suite_passes_a_good_event_and_names_what_is_wrong():
    suite = camera_table(tables.EVENTS)
    assert validate(pd.DataFrame([_event()]), suite, engine="pandas").success
    bad = validate(
        pd.DataFrame(
            [_event(), _event(event_id="CE-CAM-A-garbage_bin-20260610100003", **{"class": "garbage_bin"})]
        ),
        suite,
        engine="pandas",
    )
    assert len(bad.failures) == 1 and "'column': 'class'" in bad.failures[0]
    # A column the table does not have (pixels, say) fails the exact column set.
    extra = validate(pd.DataFrame([_event(frame_jpeg=b"\xff\xd8")]), suite, engine="pandas")
    assert any("ExpectTableColumnsToMatchSet" in f or "table_columns" in f for f in extra.failures)


def test_the_camera_source_maps_every_event_class_to_its_catalogue_category(tmp_path):
    events = {code: c.category for code, c in load_classes().items() if c.event}
    assert load_categories().sources["camera"] == events
    assert "garbage_bin" not in events
    content = yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))
    path = tmp_path / "categories.yaml"

    content["sources"]["camera"]["categories"]["pothole"] = "environment"
    path.write_text(yaml.safe_dump(content, allow_unicode=True), encoding="utf-8")
    with pytest.raises(SourceCategoriesError, match="'pothole'.*frame class catalogue.*'road_facility'"):
        load_categories(path)

    del content["sources"]["camera"]["categories"]["pothole"]
    path.write_text(yaml.safe_dump(content, allow_unicode=True), encoding="utf-8")
    with pytest.raises(SourceCategoriesError, match=r"codes \['pothole'\] of its contract are not mapped"):
        load_categories(path)

    content["sources"]["camera"]["categories"] |= {"pothole": "road_facility", "garbage_bin": None}
    path.write_text(yaml.safe_dump(content, allow_unicode=True), encoding="utf-8")
    with pytest.raises(SourceCategoriesError, match=r"codes \['garbage_bin'\] are not codes"):
        load_categories(path)

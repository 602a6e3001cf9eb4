"""Camera events as cases: silver.camera_events through the case funnel and scoring.

A lake of its own: a small governance history to train the classifier on, three camera
events and two residents' reports of the day, written straight to silver (delta-rs):

* a pothole the camera saw at 09:00 (its class's gate open), and a resident's appeal about
  the same hole at 10:00, 33 m away → the appeal repeats the camera's case;
* a resident's call about overflowing garbage at 08:00, and the camera's garbage_overflow
  event there at 11:00 → the camera's case repeats the resident's;
* a pothole elsewhere at 12:00 whose class's gate is closed → review, with its category.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from civiclake.contracts.catalog import silver_schema
from civiclake.frames import tables
from civiclake.frames.classes import load_classes
from civiclake.geography import load_geography
from spark_jobs import case_funnel, score_cases, train_classifier

pytestmark = pytest.mark.integration

D = date(2026, 6, 10)
ROADS = "440309003001"
MARKET = "440309006001"
TEXTS = {
    "road_facility": "路面塌陷有个大坑{}号路段车辆颠簸",
    "garbage": "垃圾桶满了好几天没人清运{}号楼下很臭",
    "noise": "楼下广场舞音响太吵{}点还在跳",
    "manhole": "井盖不见了{}号路口很危险",
}


def _local(hour: int, day: date = D) -> datetime:
    """A wall-clock time as the lake keeps it: the UTC instant of the same digits."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def _place(community: str, dlat: float = 0.0) -> dict:
    geo = load_geography()
    grid = geo.grids_of(community)[0]
    lon, lat = grid.box.centroid
    return {
        "district_code": geo.district.code,
        "street_code": geo.street_of(community),
        "community_code": community,
        "grid_code": grid.code,
        "lon": lon,
        "lat": lat + dlat,
    }


def _governance(case_id, category, text, at, community=ROADS, dlat=0.0, closed=None) -> dict:
    return {
        "case_id": case_id,
        "channel": "hotline_12345",
        "category": category,
        "department": "街道办",
        "description": text,
        **_place(community, dlat),
        "reported_at": at,
        "closed_at": closed,
        "status": "closed" if closed else "dispatched",
        "updated_at": closed or at,
        "feedback_text": None,
        "batch_date": at.date(),
    }


def _event(camera, frame_class, at, auto, community=ROADS, dlat=0.0) -> dict:
    category = load_classes()[frame_class].category
    return {
        "event_id": f"CE-{camera}-{frame_class}-{at:%Y%m%d%H%M%S}",
        "camera_id": camera,
        "class": frame_class,
        "category": category,
        "started_at": at,
        "ended_at": at + timedelta(seconds=40),
        "peak_score": 0.83,
        "frames_seen": 38,
        "frames_sampled": 41,
        "model_version": "frame-detector-test",
        "auto_dispatch": auto,
        **_place(community, dlat),
        "hour": at.replace(minute=0),
    }


EVENTS = {
    "road": _event("CAM-1", "pothole", _local(9), True, dlat=0.0003),
    "garbage": _event("CAM-2", "garbage_overflow", _local(11), True, MARKET, dlat=0.0003),
    "unsure": _event("CAM-3", "pothole", _local(12), False, MARKET, dlat=0.004),
}


@pytest.fixture(scope="module")
def lake(settings, tmp_path_factory):
    own = settings.model_copy(update={"data_dir": tmp_path_factory.mktemp("camera_cases"), "lake_path": None})
    for cached in ("lake", "model_store"):
        own.__dict__.pop(cached, None)
    history = []
    for back in (3, 2, 1):
        day = D - timedelta(days=back)
        for category, text in TEXTS.items():
            for i in range(8):
                at = _local(8 + i, day)
                history.append(
                    _governance(
                        f"GCH{back}{category[:3]}{i}",
                        category,
                        text.format(i),
                        at,
                        closed=at + timedelta(hours=1),
                    )
                )
    today = [
        _governance("GC_ROAD", "road_facility", TEXTS["road_facility"].format(5), _local(10)),
        _governance("GC_GARB", "garbage", TEXTS["garbage"].format(3), _local(8), MARKET),
    ]
    write_deltalake(
        own.table_path("silver", "governance_cases"),
        pa.Table.from_pylist(history + today, schema=silver_schema("governance_cases")),
    )
    write_deltalake(
        own.table_path("silver", tables.EVENTS),
        pa.Table.from_pylist(list(EVENTS.values()), schema=tables.arrow_schema(tables.EVENTS)),
    )
    return own


@pytest.fixture(scope="module")
def built(spark, lake):
    result = case_funnel.run(spark, lake, D)
    cases = {
        r.case_id: r.asDict()
        for r in spark.read.format("delta").load(lake.table_path("silver", "cases")).collect()
    }
    return result, cases


def test_camera_events_become_cases_of_the_camera_channel(built):
    result, cases = built
    assert result["by_channel"]["longhua/camera"] == 3
    road = cases[EVENTS["road"]["event_id"]]
    assert (road["source_system"], road["source_case_id"], road["channel"]) == (
        "camera",
        EVENTS["road"]["event_id"],
        "camera",
    )
    assert (road["source_category"], road["category"], road["category_trusted"]) == (
        "pothole",
        "road_facility",
        True,
    )
    assert (road["reported_at"], road["status"], road["closed_at"]) == (
        datetime(2026, 6, 10, 9),
        "received",
        None,
    )
    assert (road["community_code"], road["lat"]) == (ROADS, EVENTS["road"]["lat"])
    assert road["description"].startswith(
        "视频监控识别：路面坑洼（pothole），摄像头 CAM-1，2026-06-10 09:00:00"
    )
    garbage, unsure = cases[EVENTS["garbage"]["event_id"]], cases[EVENTS["unsure"]["event_id"]]
    assert (garbage["category"], garbage["category_trusted"]) == ("garbage", True)
    assert (unsure["category"], unsure["category_trusted"]) == ("road_facility", False)


def test_scoring_sends_the_unsure_camera_case_to_review_and_links_either_way_round(spark, lake, built):
    card = train_classifier.run(spark, lake, D)
    # Linking is under test, not the classifier's threshold: fix it at 0.6 (as test_case_funnel).
    card_file = lake.model_store / "case_classifier" / card.version / "card.json"
    data = json.loads(card_file.read_text(encoding="utf-8"))
    card_file.write_text(json.dumps(data | {"threshold": 0.6}, ensure_ascii=False), encoding="utf-8")
    result = score_cases.run(spark, lake, D)
    rows = {
        r.case_id: r.asDict()
        for r in spark.read.format("delta").load(lake.table_path("silver", "case_dispatch")).collect()
    }
    road, garbage, unsure = (rows[EVENTS[k]["event_id"]] for k in ("road", "garbage", "unsure"))
    # The camera saw the hole first: the resident's appeal an hour later repeats its case.
    assert (road["dispatch_mode"], road["model_version"], road["predicted_category"]) == (
        "auto",
        "source",
        "road_facility",
    )
    assert (rows["GC_ROAD"]["dispatch_mode"], rows["GC_ROAD"]["duplicate_of"]) == (
        "duplicate",
        EVENTS["road"]["event_id"],
    )
    # The resident called first: the camera's event three hours later repeats the call.
    assert (rows["GC_GARB"]["dispatch_mode"], rows["GC_GARB"]["predicted_category"]) == ("auto", "garbage")
    assert (garbage["dispatch_mode"], garbage["duplicate_of"]) == ("duplicate", "GC_GARB")
    # The closed gate: a reviewer confirms the class's category; the text classifier never ran.
    assert (unsure["decision"], unsure["dispatch_mode"], unsure["predicted_category"]) == (
        "review",
        "review",
        "road_facility",
    )
    assert (unsure["model_version"], unsure["confidence"], unsure["suggestions"]) == ("camera", None, None)
    assert unsure["routed_department"] is None
    assert (result["scored"], result["review"], result["duplicate"]) == (5, 1, 2)

"""The case funnel on Spark + Delta: silver.cases from governance, city and Open311 silver,
its counts per channel against the sources, cross-channel duplicates either way round,
reruns.

A lake of its own: a few hand-made rows per source written straight to silver with the
contracts' silver schemas (delta-rs), a small governance history to train the classifier on.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from civiclake.contracts.catalog import silver_schema
from civiclake.geography import load_geography
from spark_jobs import case_funnel, score_cases, train_classifier

pytestmark = pytest.mark.integration

D = date(2026, 6, 10)
D1 = D + timedelta(days=1)
ROADS = "440309003001"  # 龙华街道
MARKET = "440309006001"  # 观澜街道
TEXTS = {
    "manhole": "井盖不见了{}号路口很危险",
    "noise": "楼下广场舞音响太吵{}点还在跳",
    "road_facility": "路面塌陷有个大坑{}号路段车辆颠簸",
}


def _local(day: date, hour: int, minute: int = 0) -> datetime:
    """A wall-clock time as the lake keeps it for the district's systems: the UTC instant of the same digits."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


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


def _governance(case_id, category, text, at, channel, community=ROADS, dlat=0.0, closed=None) -> dict:
    return {
        "case_id": case_id,
        "channel": channel,
        "category": category,
        "department": "街道办",
        "description": text,
        **_place(community, dlat),
        "reported_at": at,
        "closed_at": closed,
        "status": "closed" if closed else "dispatched",
        "updated_at": closed or at,
        "feedback_text": "已修复，谢谢反映" if closed else None,
        "batch_date": at.date(),
    }


def _city(case_id, category, source, at, community=ROADS, dlat=0.0, status="dispatched") -> dict:
    return {
        "case_id": case_id,
        "category": category,
        "source": source,
        "description": None,
        **_place(community, dlat),
        "asset_id": "MH0001" if category == "manhole" else None,
        "reported_at": at,
        "closed_at": at + timedelta(hours=2) if status == "closed" else None,
        "status": status,
        "updated_at": at,
        "batch_date": at.date(),
    }


def _open311(jurisdiction, request_id, code, text, utc, local_day, timezone, lon, lat, agency=None) -> dict:
    return {
        "jurisdiction": jurisdiction,
        "service_request_id": request_id,
        "status": "open",
        "status_notes": "已受理",
        "service_code": code,
        "description": text,
        "agency_responsible": agency,
        "lat": lat,
        "lon": lon,
        "requested_at": utc,
        "updated_at": utc,
        "timezone": timezone,
        "requested_date_local": local_day,
        "batch_date": local_day,
    }


def _write(settings, table: str, rows: list[dict]) -> None:
    write_deltalake(
        settings.table_path("silver", table),
        pa.Table.from_pylist(rows, schema=silver_schema(table)),
        mode="append",
    )


@pytest.fixture(scope="module")
def lake(spark, settings, tmp_path_factory):
    own = settings.model_copy(update={"data_dir": tmp_path_factory.mktemp("funnel"), "lake_path": None})
    for cached in ("lake", "model_store"):
        own.__dict__.pop(cached, None)
    governance = []
    for day in (D - timedelta(days=3), D - timedelta(days=2), D - timedelta(days=1)):
        for category, text in TEXTS.items():
            for i in range(8):
                at = _local(day, 8 + i)
                # Closed within the hour: never an open case for today's to repeat.
                case_id = f"GCH{day:%d}{category[:2]}{i}"
                governance.append(
                    _governance(
                        case_id, category, text.format(i), at, "grid_patrol", closed=at + timedelta(hours=1)
                    )
                )
    open311_place = _place(MARKET)
    governance += [
        # A resident's appeal about a pothole a city patrol reported an hour before, 33 m away.
        _governance(
            "GC_ROAD", "road_facility", TEXTS["road_facility"].format(5), _local(D, 10), "find_secretary"
        ),
        # A resident's call about a missing cover that a camera sees three hours later, 33 m away.
        _governance(
            "GC_MAN", "manhole", TEXTS["manhole"].format(3), _local(D, 8), "hotline_12345", dlat=0.01
        ),
        _governance("GC_NOISE", "noise", TEXTS["noise"].format(9), _local(D, 22), "mini_program", MARKET),
    ]
    city = [
        _city("CM_ROAD", "road_damage", "patrol", _local(D, 9), dlat=0.0003),
        _city("CM_MAN", "manhole", "camera_ai", _local(D, 11), dlat=0.0103),
        _city("CM_PARK", "illegal_parking", "citizen_12345", _local(D, 12), MARKET, dlat=0.002),
        _city("CM_OLD", "garbage", "patrol", _local(D - timedelta(days=1), 15), status="closed"),
    ]
    ny_lon, ny_lat = -73.95, 40.7
    open311 = [
        # 14:00 in Shenzhen is 06:00 UTC.
        _open311(
            "longhua",
            "LH311-1",
            "noise",
            TEXTS["noise"].format(7),
            datetime(2026, 6, 10, 6, tzinfo=UTC),
            D,
            "Asia/Shanghai",
            open311_place["lon"],
            open311_place["lat"] + 0.004,
            agency="生态环境局",
        ),
        # 07:00 on D in Shenzhen is still D-1 in UTC: the local day counts.
        _open311(
            "longhua",
            "LH311-2",
            "illegal_building",
            "违建",
            datetime(2026, 6, 9, 23, tzinfo=UTC),
            D,
            "Asia/Shanghai",
            open311_place["lon"],
            open311_place["lat"] + 0.004,
        ),
        # 22:00 on D in New York is D+1 in UTC.
        _open311(
            "nyc",
            "1",
            "noise_residential",
            "Loud Music/Party",
            datetime(2026, 6, 11, 2, tzinfo=UTC),
            D,
            "America/New_York",
            ny_lon,
            ny_lat,
        ),
        _open311(
            "nyc",
            "2",
            "taxi_complaint",
            None,
            datetime(2026, 6, 11, 14, tzinfo=UTC),
            D1,
            "America/New_York",
            ny_lon,
            ny_lat,
        ),
    ]
    _write(own, "governance_cases", governance)
    _write(own, "city_cases", city)
    _write(own, "open311_requests", open311)
    return own


def _table(spark, settings, name):
    return spark.read.format("delta").load(settings.table_path("silver", name))


def _cases(spark, settings) -> dict[str, dict]:
    return {r.case_id: r.asDict() for r in _table(spark, settings, "cases").collect()}


def _expected_day_counts(spark, settings, day: date) -> Counter:
    """(jurisdiction, channel) → cases reported on ``day``, read from the three sources."""
    from pyspark.sql import functions as F

    city_channel = {"citizen_12345": "hotline_12345", "patrol": "city_patrol", "camera_ai": "camera"}
    counts = Counter()
    for r in (
        _table(spark, settings, "governance_cases").where(F.to_date("reported_at") == F.lit(day)).collect()
    ):
        counts["longhua", r.channel] += 1
    for r in _table(spark, settings, "city_cases").where(F.to_date("reported_at") == F.lit(day)).collect():
        counts["longhua", city_channel[r.source]] += 1
    for r in (
        _table(spark, settings, "open311_requests")
        .where(F.col("requested_date_local") == F.lit(day))
        .collect()
    ):
        counts[r.jurisdiction, "open311"] += 1
    return counts


@pytest.fixture(scope="module")
def built(spark, lake):
    return case_funnel.run(spark, lake, D), _cases(spark, lake)


def test_the_day_per_channel_reconciles_with_the_sources(spark, lake, built):
    result, cases = built
    expected = _expected_day_counts(spark, lake, D)
    day_rows = Counter(
        (c["jurisdiction"], c["channel"]) for c in cases.values() if c["reported_at"].date() == D
    )
    assert day_rows == expected
    assert result["by_channel"] == {f"{j}/{c}": n for (j, c), n in sorted(expected.items())}
    assert expected == {
        ("longhua", "find_secretary"): 1,
        ("longhua", "hotline_12345"): 2,
        ("longhua", "mini_program"): 1,
        ("longhua", "city_patrol"): 1,
        ("longhua", "camera"): 1,
        ("longhua", "open311"): 2,
        ("nyc", "open311"): 1,
    }
    # Everything reported up to D, and nothing later (the NYC request of D+1 waits for D+1).
    assert len(cases) == 72 + 3 + 4 + 3 and "311:nyc:2" not in cases
    assert result["inserted"] == len(cases) and result["updated"] == 0


def test_each_source_in_the_funnels_terms(built):
    _, cases = built
    road, park = cases["CM_ROAD"], cases["CM_PARK"]
    assert (road["source_category"], road["category"], road["category_trusted"], road["channel"]) == (
        "road_damage",
        "road_facility",
        True,
        "city_patrol",
    )
    assert (park["category"], park["channel"], park["status"]) == ("parking", "hotline_12345", "in_progress")
    appeal = cases["GC_ROAD"]
    assert (appeal["source_system"], appeal["category_trusted"], appeal["status"]) == (
        "governance",
        False,
        "in_progress",
    )
    old = cases[[c for c in cases if c.startswith("GCH")][0]]
    assert (old["status"], old["feedback_text"]) == ("closed", "已修复，谢谢反映")
    lh1, lh2, ny = cases["311:longhua:LH311-1"], cases["311:longhua:LH311-2"], cases["311:nyc:1"]
    # The wall clock of the request's place; the point located in the district's geography.
    assert lh1["reported_at"] == datetime(2026, 6, 10, 14) and ny["reported_at"] == datetime(2026, 6, 10, 22)
    assert lh1["community_code"] == MARKET and lh1["street_code"] == _place(MARKET)["street_code"]
    assert (lh1["category"], lh1["status"], lh1["feedback_text"]) == ("noise", "in_progress", "已受理")
    assert (lh2["source_category"], lh2["category"], lh2["status"]) == ("illegal_building", None, "received")
    assert (ny["jurisdiction"], ny["category"], ny["community_code"]) == ("nyc", "noise", None)


def test_scoring_links_duplicates_across_channels_either_way_round(spark, lake, built):
    card = train_classifier.run(spark, lake, D)
    # Linking is under test, not the threshold (see test_dispatch): fix it at 0.6.
    card_file = lake.model_store / "case_classifier" / card.version / "card.json"
    data = json.loads(card_file.read_text(encoding="utf-8"))
    card_file.write_text(json.dumps(data | {"threshold": 0.6}, ensure_ascii=False), encoding="utf-8")
    result = score_cases.run(spark, lake, D)
    rows = {r.case_id: r.asDict() for r in _table(spark, lake, "case_dispatch").collect()}
    # Longhua's cases of the day, every channel; New York's are never dispatched here.
    assert set(rows) == {
        "GC_ROAD",
        "GC_MAN",
        "GC_NOISE",
        "CM_ROAD",
        "CM_MAN",
        "CM_PARK",
        "311:longhua:LH311-1",
        "311:longhua:LH311-2",
    }
    assert result["scored"] == 8 and result["source_category"] == 3 and result["duplicate"] == 2
    # The patrol's report came first: the resident's appeal repeats it.
    assert (rows["GC_ROAD"]["dispatch_mode"], rows["GC_ROAD"]["duplicate_of"]) == ("duplicate", "CM_ROAD")
    # The resident's call came first: the camera's event repeats it.
    assert (rows["CM_MAN"]["dispatch_mode"], rows["CM_MAN"]["duplicate_of"]) == ("duplicate", "GC_MAN")
    road = rows["CM_ROAD"]
    assert (road["predicted_category"], road["confidence"], road["decision"], road["model_version"]) == (
        "road_facility",
        1.0,
        "auto",
        "source",
    )
    assert road["dispatch_mode"] == "auto" and road["suggestions"] is None
    assert rows["CM_PARK"]["routed_department"] == "交通警察大队"
    # A channel the model never saw in training (open311) is scored like any other.
    lh1 = rows["311:longhua:LH311-1"]
    assert lh1["predicted_category"] == "noise" and lh1["model_version"] == card.version
    assert json.loads(lh1["suggestions"])[0]["category"] == "noise"


def test_a_rerun_changes_nothing_and_a_later_day_carries_changes(spark, lake, built):
    from delta.tables import DeltaTable

    _, before = built
    again = case_funnel.run(spark, lake, D)
    assert (again["inserted"], again["updated"]) == (0, 0)
    assert _cases(spark, lake) == before
    DeltaTable.forPath(spark, lake.table_path("silver", "city_cases")).update(
        "case_id = 'CM_PARK'",
        {
            "status": "'closed'",
            "closed_at": "timestamp'2026-06-11 09:00:00'",
            "updated_at": "timestamp'2026-06-11 09:00:00'",
        },
    )
    later = case_funnel.run(spark, lake, D1)
    after = _cases(spark, lake)
    assert (later["inserted"], later["updated"]) == (1, 1)  # NYC's request of D+1, CM_PARK's closing
    assert (after["CM_PARK"]["status"], after["CM_PARK"]["closed_at"]) == ("closed", datetime(2026, 6, 11, 9))
    assert {c: r for c, r in after.items() if c not in ("CM_PARK", "311:nyc:2")} == {
        c: r for c, r in before.items() if c != "CM_PARK"
    }

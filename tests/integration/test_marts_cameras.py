"""The camera marts on the duckdb target, from small Delta lakes written with delta-rs (no
Spark): one with camera events and their cases (bench/bench_marts_cameras.py), one where no
frame inference has run yet.

Expected numbers are worked out here in Python from the rows the lake holds, independently
of the SQL under test. Only the camera marts and what they read are built.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta

import duckdb
import numpy as np
import pytest
from deltalake import DeltaTable

from bench.bench_marts_lake import plans, write_lake
from civiclake import marts
from civiclake.geography import load_geography
from civiclake.settings import Settings

pytestmark = pytest.mark.integration

FIRST = date(2026, 10, 6)
LAST = date(2026, 10, 12)
CASES_PER_DAY = 10
CAMERA_MARTS = ("mart_camera_events_hourly", "mart_camera_cases_daily")


def _build(root, lake) -> duckdb.DuckDBPyConnection:
    """The camera marts and their parents built and tested (models, unit and data tests)."""
    settings = Settings(data_dir=root, lake_path=str(lake), sim_cases_per_day=CASES_PER_DAY)
    marts.prepare(settings)
    select = [f"+{m}" for m in CAMERA_MARTS]
    variables = json.dumps({"as_of": LAST.isoformat()})
    marts.run_dbt(
        settings, "build", "--select", *select, "--indirect-selection", "cautious", "--vars", variables
    )
    return duckdb.connect(str(marts.build_file(settings)), read_only=True)


def _table(lake, name: str) -> list[dict]:
    """A silver table's rows, times as the wall clock they stand for (the lake labels them UTC)."""
    rows = DeltaTable(str(lake / "silver" / name)).to_pyarrow_table().to_pylist()
    return [{k: v.replace(tzinfo=None) if isinstance(v, datetime) else v for k, v in r.items()} for r in rows]


def _dicts(con, sql: str, params=()) -> list[dict]:
    cursor = con.execute(sql, list(params))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _minutes(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 60


def _median_p90(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    return float(np.percentile(values, 50)), float(np.percentile(values, 90))


@pytest.fixture(scope="module")
def camera_lake(tmp_path_factory):
    lake = tmp_path_factory.mktemp("camera-lake")
    case_plans = plans(Settings(sim_cases_per_day=CASES_PER_DAY), FIRST, LAST)
    counts = write_lake(str(lake), case_plans, LAST, families=True)
    assert counts["camera_events"] > 20
    return lake


@pytest.fixture(scope="module")
def camera_marts(tmp_path_factory, camera_lake):
    con = _build(tmp_path_factory.mktemp("camera-marts"), camera_lake)
    yield con
    con.close()


def test_hourly_events_are_the_lakes_events_by_wall_clock_hour(camera_lake, camera_marts):
    """Each event counts once, in the hour its first frame was taken by the camera's own
    clock (no shift by the UTC label), and a condition seen again in the next hour is a row
    of that hour."""
    expected: dict[tuple, dict] = {}
    for e in _table(camera_lake, "camera_events"):
        key = (e["started_at"].replace(minute=0, second=0, microsecond=0), e["camera_id"], e["class"])
        row = expected.setdefault(
            key,
            {"events": 0, "auto": 0, "review": 0, "peak": 0.0, "frames": 0, "community": e["community_code"]},
        )
        row["events"] += 1
        row["auto" if e["auto_dispatch"] else "review"] += 1
        row["peak"] = max(row["peak"], e["peak_score"])
        row["frames"] += e["frames_seen"]
    got = {
        (r["hour_start"], r["camera_id"], r["class_code"]): {
            "events": r["events"],
            "auto": r["auto_dispatch_events"],
            "review": r["review_events"],
            "peak": r["peak_score_max"],
            "frames": r["frames_seen"],
            "community": r["community_code"],
        }
        for r in _dicts(camera_marts, "select * from main.mart_camera_events_hourly")
    }
    assert got == expected
    repeated = Counter((camera, cls) for _, camera, cls in expected)
    assert any(n > 1 for n in repeated.values()), "the lake must hold a condition seen in two hours"
    names = _dicts(
        camera_marts,
        "select distinct community_code, community_name, street_name, category_name "
        "from main.mart_camera_events_hourly where community_name is null or street_name is null "
        "or category_name is null",
    )
    assert names == []


def test_daily_camera_cases_pairs_and_minutes_match_the_lake(camera_lake, camera_marts):
    events = {e["event_id"]: e for e in _table(camera_lake, "camera_events")}
    cases = {c["case_id"]: c for c in _table(camera_lake, "cases")}
    decisions = {d["case_id"]: d for d in _table(camera_lake, "case_dispatch")}
    camera = {i: c for i, c in cases.items() if c["channel"] == "camera"}
    by_day: dict[date, Counter] = defaultdict(Counter)
    detection: dict[date, list[float]] = defaultdict(list)
    closing: dict[date, list[float]] = defaultdict(list)
    for e in events.values():
        by_day[e["started_at"].date()]["camera_events"] += 1
    for case_id, c in camera.items():
        day = c["reported_at"].date()
        by_day[day]["camera_cases"] += 1
        by_day[day][f"camera_cases_{decisions[case_id]['dispatch_mode']}"] += 1
        event = events[case_id]
        entered = max(c["reported_at"], event["hour"] + timedelta(hours=1))
        detection[day].append(_minutes(event["started_at"], entered))
        if c["closed_at"] is not None:
            by_day[c["closed_at"].date()]["camera_cases_closed"] += 1
            closing[c["closed_at"].date()].append(_minutes(c["reported_at"], c["closed_at"]))
    for case_id, d in decisions.items():
        earlier = cases.get(d["duplicate_of"])
        later = cases[case_id]
        if earlier is not None and (earlier["channel"] == "camera") != (later["channel"] == "camera"):
            by_day[later["reported_at"].date()]["linked_pairs"] += 1
            by_day[later["reported_at"].date()]["linked_pairs_camera_first"] += earlier["channel"] == "camera"
    assert sum(c["linked_pairs_camera_first"] for c in by_day.values()) > 0
    assert sum(c["linked_pairs"] - c["linked_pairs_camera_first"] for c in by_day.values()) > 0

    rows = _dicts(
        camera_marts,
        "select * from main.mart_camera_cases_daily where level = 'district' order by report_date",
    )
    assert [r["report_date"] for r in rows][-1] == LAST
    for row in rows:
        day = row["report_date"]
        want = by_day[day]
        for column in (
            "camera_events",
            "camera_cases",
            "camera_cases_auto",
            "camera_cases_review",
            "camera_cases_duplicate",
            "camera_cases_closed",
            "linked_pairs",
            "linked_pairs_camera_first",
        ):
            assert row[column] == want[column], (day, column)
        share = want["linked_pairs_camera_first"] / want["linked_pairs"] if want["linked_pairs"] else None
        assert row["camera_first_share"] == pytest.approx(share), day
        median, p90 = _median_p90(detection[day])
        assert (row["median_minutes_detection_to_case"], row["p90_minutes_detection_to_case"]) == (
            pytest.approx(median),
            pytest.approx(p90),
        ), day
        median, p90 = _median_p90(closing[day])
        assert (row["median_minutes_case_to_close"], row["p90_minutes_case_to_close"]) == (
            pytest.approx(median),
            pytest.approx(p90),
        ), day


def test_daily_counts_add_up_from_communities(camera_marts):
    sums = _dicts(
        camera_marts,
        "select report_date, level, sum(camera_events) as events, sum(camera_cases) as cases, "
        "sum(linked_pairs) as pairs, count(*) as areas from main.mart_camera_cases_daily group by 1, 2",
    )
    by = {(r["report_date"], r["level"]): r for r in sums}
    geography = load_geography()
    for (day, level), row in by.items():
        assert row["areas"] == {"district": 1, "street": len(geography.streets)}.get(
            level, len(geography.communities)
        )
        for measure in ("events", "cases", "pairs"):
            assert row[measure] == by[(day, "community")][measure], (day, level, measure)


def test_without_camera_tables_the_marts_build_empty(tmp_path):
    """A lake where no frame inference ran: the build creates silver.camera_events empty,
    the hourly mart has no rows and the daily mart has every area and day with zeros."""
    lake = tmp_path / "lake"
    write_lake(
        str(lake), plans(Settings(sim_cases_per_day=CASES_PER_DAY), LAST - timedelta(days=1), LAST), LAST
    )
    assert not (lake / "silver" / "camera_events").exists()
    with _build(tmp_path / "build", lake) as con:
        assert con.execute("select count(*) from main.mart_camera_events_hourly").fetchall() == [(0,)]
        rows = con.execute(
            "select count(*), sum(camera_events + camera_cases + linked_pairs + camera_cases_closed), "
            "count(median_minutes_detection_to_case) + count(camera_first_share) "
            "from main.mart_camera_cases_daily"
        ).fetchall()
    assert rows == [(2 * 57, 0, 0)]
    assert DeltaTable(str(lake / "silver" / "camera_events")).to_pyarrow_table().num_rows == 0

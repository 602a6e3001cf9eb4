"""The conditions that start a plan (civiclake/operations/triggers.py): clusters counted by
hand at their edges (exactly k, k-1, the window's edges, the day's edges, counting starting
over after a cluster and after an operation), warnings in force by kind, level and time,
the areas a warning covers, and the hits found on a small lake written with delta-rs."""

from __future__ import annotations

import json
from datetime import date, datetime

import pandas as pd
import pyarrow as pa
import pytest
from deltalake import write_deltalake
from typer.testing import CliRunner

from civiclake.cli import app
from civiclake.geography import load_geography
from civiclake.operations import state
from civiclake.operations.plans import Plan
from civiclake.operations.triggers import (
    areas_covered,
    clusters,
    find_hits,
    warnings_in_force,
)
from civiclake.settings import Settings

DAY = date(2026, 11, 25)
UTC_TIME = pa.timestamp("us", tz="UTC")
GEO = load_geography()
STREET = {area.name: code for code, area in GEO.streets.items()}
MINZHI = STREET["民治街道"]
GUANLAN = STREET["观澜街道"]
MINZHI_COMMUNITIES = sorted(c for c, a in GEO.communities.items() if a.parent_code == MINZHI)


def _rows(*rows: tuple[str, str, str]) -> pd.DataFrame:
    """(area, id, wall-clock time) rows, times as the lake keeps them (UTC instants)."""
    return pd.DataFrame(
        {
            "area": [r[0] for r in rows],
            "id": [r[1] for r in rows],
            "at": pd.to_datetime([r[2] for r in rows]).tz_localize("UTC"),
        }
    )


def _clusters(rows: pd.DataFrame, k: int = 3, hours: float = 24, since=None):
    found = clusters(
        rows,
        area_column="area",
        time_column="at",
        id_column="id",
        min_count=k,
        within_hours=hours,
        day=DAY,
        since=since,
    )
    return [(c.area_code, c.at.isoformat(sep=" "), c.ids) for c in found]


def test_exactly_k_cases_in_the_window_make_a_cluster_and_k_minus_one_do_not():
    rows = _rows(
        ("A", "a1", "2026-11-25 08:00"),
        ("A", "a2", "2026-11-25 12:00"),
        ("A", "a3", "2026-11-25 20:00"),
        ("B", "b1", "2026-11-25 08:00"),
        ("B", "b2", "2026-11-25 09:00"),
    )
    assert _clusters(rows) == [("A", "2026-11-25 20:00:00", ("a1", "a2", "a3"))]


def test_the_window_reaches_back_exactly_within_hours_and_not_a_second_more():
    rows = _rows(
        # Edge: 24 h before the third case counts.
        ("A", "a1", "2026-11-24 11:00"),
        ("A", "a2", "2026-11-25 10:00"),
        ("A", "a3", "2026-11-25 11:00"),
        # One minute more than 24 h: only two within the window.
        ("B", "b1", "2026-11-24 10:59"),
        ("B", "b2", "2026-11-25 10:00"),
        ("B", "b3", "2026-11-25 11:00"),
    )
    assert _clusters(rows) == [("A", "2026-11-25 11:00:00", ("a1", "a2", "a3"))]
    # A shorter window: the same cases of A are 24 h apart, more than 6.
    assert _clusters(rows, hours=6) == []


def test_only_clusters_completed_on_the_day_count():
    rows = _rows(
        # Completed on the day before (its run started it); counting starts over.
        ("A", "a1", "2026-11-24 08:00"),
        ("A", "a2", "2026-11-24 09:00"),
        ("A", "a3", "2026-11-24 10:00"),
        ("A", "a4", "2026-11-25 09:00"),
        # Completed at the next midnight: the next day's.
        ("B", "b1", "2026-11-25 22:00"),
        ("B", "b2", "2026-11-25 23:00"),
        ("B", "b3", "2026-11-26 00:00"),
        # Completed at the day's first instant: the day's.
        ("C", "c1", "2026-11-24 22:00"),
        ("C", "c2", "2026-11-24 23:00"),
        ("C", "c3", "2026-11-25 00:00"),
    )
    assert _clusters(rows) == [("C", "2026-11-25 00:00:00", ("c1", "c2", "c3"))]


def test_counting_starts_over_after_a_cluster():
    six = [("A", f"a{n}", f"2026-11-25 {8 + n:02d}:00") for n in range(1, 7)]
    five = [("B", f"b{n}", f"2026-11-25 {8 + n:02d}:00") for n in range(1, 6)]
    assert _clusters(_rows(*six, *five)) == [
        ("A", "2026-11-25 11:00:00", ("a1", "a2", "a3")),
        ("A", "2026-11-25 14:00:00", ("a4", "a5", "a6")),
        ("B", "2026-11-25 11:00:00", ("b1", "b2", "b3")),
    ]


def test_cases_up_to_the_last_operation_started_before_the_day_do_not_count():
    rows = _rows(
        ("A", "a1", "2026-11-24 12:00"),  # the start's own instant: already dealt with
        ("A", "a2", "2026-11-25 01:00"),
        ("A", "a3", "2026-11-25 02:00"),
        ("A", "a4", "2026-11-25 03:00"),
        ("B", "b1", "2026-11-24 12:00"),
        ("B", "b2", "2026-11-25 01:00"),
        ("B", "b3", "2026-11-25 02:00"),
    )
    since = {"A": datetime(2026, 11, 24, 12), "B": datetime(2026, 11, 24, 12)}
    assert _clusters(rows, since=since) == [("A", "2026-11-25 03:00:00", ("a2", "a3", "a4"))]
    # Without an earlier operation in B, its three cases make a cluster.
    assert ("B", "2026-11-25 02:00:00", ("b1", "b2", "b3")) in _clusters(rows, since={"A": since["A"]})


def test_rows_without_an_area_at_the_level_are_left_out():
    rows = _rows(("A", "a1", "2026-11-25 08:00"), ("A", "a2", "2026-11-25 09:00"))
    rows = pd.concat([rows, _rows(("A", "x", "2026-11-25 10:00")).assign(area=None)])
    assert _clusters(rows) == []


def _warnings(*rows: tuple) -> pd.DataFrame:
    """(warning_id, kind, level, street_code, issued_at, lifted_at) rows."""
    frame = pd.DataFrame(
        rows, columns=["warning_id", "kind", "level", "street_code", "issued_at", "lifted_at"]
    )
    for column in ("issued_at", "lifted_at"):
        frame[column] = pd.to_datetime(frame[column]).dt.tz_localize("UTC")
    return frame


def test_warnings_in_force_by_kind_level_and_time():
    warnings = _warnings(
        ("W1", "rainstorm", "orange", None, "2026-11-25 06:30", "2026-11-25 15:00"),
        ("W2", "rainstorm", "yellow", None, "2026-11-25 06:30", None),  # below orange
        ("W3", "typhoon", "red", MINZHI, "2026-11-24 20:00", None),  # still in force
        ("W4", "rainstorm", "red", None, "2026-11-23 20:00", "2026-11-25 00:00"),  # lifted at the start
        ("W5", "rainstorm", "red", None, "2026-11-23 20:00", "2026-11-25 00:01"),  # a minute into the day
        ("W6", "rainstorm", "red", None, "2026-11-26 00:00", None),  # the next day's
        ("W7", "high_temperature", "red", None, "2026-11-25 12:00", None),  # another kind
    )
    found = warnings_in_force(warnings, kinds=["rainstorm", "typhoon"], min_level="orange", day=DAY)
    assert list(found["warning_id"]) == ["W5", "W3", "W1"]
    yellow = warnings_in_force(warnings, kinds=["rainstorm"], min_level="yellow", day=DAY)
    assert list(yellow["warning_id"]) == ["W5", "W1", "W2"]


def test_the_areas_a_warning_covers():
    assert areas_covered(None, "district", GEO) == [GEO.district.code]
    assert areas_covered(MINZHI, "district", GEO) == [GEO.district.code]
    assert areas_covered(MINZHI, "street", GEO) == [MINZHI]
    assert areas_covered(None, "street", GEO) == sorted(GEO.streets)
    assert areas_covered(MINZHI, "community", GEO) == MINZHI_COMMUNITIES
    assert len(areas_covered(None, "community", GEO)) == len(GEO.communities)


# --- the hits on a small lake -------------------------------------------------------


def _times(*values: str | None) -> pa.Array:
    return pa.array([datetime.fromisoformat(v) if v else None for v in values], type=pa.timestamp("us")).cast(
        UTC_TIME
    )


def _plan(plan_id: str, area_level: str, trigger: dict) -> Plan:
    department = (
        "{district_name}指挥中心" if area_level == "district" else "{street_name}城市管理和综合执法队"
    )
    return Plan.model_validate(
        {
            "plan_id": plan_id,
            "name": plan_id,
            "area_level": area_level,
            "trigger": trigger,
            "tasks": [{"department": department, "task": "处置", "due_hours": 4}],
            "escalation": {"department": "{district_name}指挥中心值班室", "level": "district"},
        }
    )


PLANS = {
    "garbage_cleanup": _plan(
        "garbage_cleanup",
        "community",
        {"kind": "case_cluster", "category": "garbage", "min_cases": 3, "within_hours": 24},
    ),
    "pothole_repair": _plan(
        "pothole_repair",
        "street",
        {"kind": "camera_cluster", "class": "pothole", "min_events": 2, "within_hours": 2},
    ),
    "flood_response": _plan(
        "flood_response",
        "street",
        {"kind": "weather_warning", "kinds": ["rainstorm", "typhoon"], "min_level": "orange"},
    ),
    "manual_plan": _plan("manual_plan", "district", {"kind": "manual"}),
}


@pytest.fixture
def lake(tmp_path, monkeypatch) -> Settings:
    monkeypatch.setenv("CIVICLAKE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CIVICLAKE_LAKE_PATH", str(tmp_path / "lake"))
    settings = Settings()
    c1, c2 = MINZHI_COMMUNITIES[:2]
    cases = pa.table(
        {
            "case_id": ["GC1", "GC2", "CM3", "GC4", "GC5", "GC6", "GC7"],
            "category": ["garbage", "garbage", "garbage", "noise", "garbage", "garbage", "garbage"],
            "district_code": [GEO.district.code] * 7,
            "street_code": [MINZHI] * 7,
            "community_code": [c1, c1, c1, c1, c2, c2, None],
            "reported_at": _times(
                "2026-11-25 08:00",
                "2026-11-25 09:30",
                "2026-11-25 10:15",
                "2026-11-25 10:00",  # another category
                "2026-11-25 08:00",
                "2026-11-25 09:00",  # two in c2: one short
                "2026-11-25 09:10",  # no community: not counted for c2
            ),
        }
    )
    events = pa.table(
        {
            "event_id": ["CE-1", "CE-2", "CE-3", "CE-4"],
            "class": ["pothole", "pothole", "garbage", "pothole"],
            "district_code": [GEO.district.code] * 4,
            "street_code": [GUANLAN, GUANLAN, GUANLAN, MINZHI],
            "community_code": [None] * 4,
            "started_at": _times(
                "2026-11-25 14:00", "2026-11-25 16:00", "2026-11-25 14:30", "2026-11-25 15:00"
            ),
        }
    )
    warnings = pa.table(
        {
            "warning_id": ["WW1", "WW2"],
            "kind": ["rainstorm", "rainstorm"],
            "level": ["orange", "yellow"],
            "district_code": [GEO.district.code] * 2,
            "street_code": [MINZHI, None],
            "issued_at": _times("2026-11-25 06:30", "2026-11-25 05:00"),
            "lifted_at": _times("2026-11-25 15:00", None),
            "updated_at": _times("2026-11-25 15:00", "2026-11-25 05:00"),
        }
    )
    write_deltalake(settings.table_path("silver", "cases"), cases)
    write_deltalake(settings.table_path("silver", "camera_events"), events)
    write_deltalake(settings.table_path("silver", "governance_weather_warnings"), warnings)
    return settings


def test_the_hits_of_a_day(lake):
    c1 = MINZHI_COMMUNITIES[0]
    hits = find_hits(lake, DAY, PLANS, GEO)
    assert [(h.plan_id, h.area_code, h.started_at, h.started_by, h.window_key) for h in hits] == [
        ("flood_response", MINZHI, datetime(2026, 11, 25, 6, 30), "weather_warning", "weather_warning:WW1"),
        (
            "garbage_cleanup",
            c1,
            datetime(2026, 11, 25, 10, 15),
            "case_cluster",
            "case_cluster:garbage:20261125T101500:CM3",
        ),
        # 14:00 and 16:00 are exactly 2 h apart: within the window.
        (
            "pothole_repair",
            GUANLAN,
            datetime(2026, 11, 25, 16),
            "camera_cluster",
            "camera_cluster:pothole:20261125T160000:CE-2",
        ),
    ]
    garbage = hits[1]
    assert "GC1、GC2、CM3" in garbage.detail and "垃圾清运" in garbage.detail
    assert "暴雨橙色预警" in hits[0].detail and "民治街道" in hits[0].detail
    # The same lake, the same hits: a rerun starts the same operations (same keys).
    assert find_hits(lake, DAY, PLANS, GEO) == hits


def _record_operation(settings: Settings, operation_id: str, area_code: str, started_at: str) -> None:
    """An earlier operation of garbage_cleanup in ``area_code``, as the start records it."""
    operation = {
        "operation_id": operation_id,
        "plan_id": "garbage_cleanup",
        "plan_name": "垃圾堆积联合整治",
        "area_level": "community",
        "area_code": area_code,
        "district_code": GEO.district.code,
        "street_code": MINZHI,
        "community_code": area_code,
        "started_at": datetime.fromisoformat(started_at),
        "started_by": "manual",
        "trigger_detail": None,
        "note": None,
        "start_key": operation_id,
    }
    state.record(settings, operation, pd.DataFrame(columns=state.TASKS_SCHEMA.names))


def test_an_operation_started_before_the_day_holds_back_what_it_deals_with(lake):
    c1 = MINZHI_COMMUNITIES[0]
    plans = {"garbage_cleanup": PLANS["garbage_cleanup"]}
    cases = pa.table(
        {
            "case_id": ["GC1", "GC2", "GC3"],
            "category": ["garbage"] * 3,
            "community_code": [c1] * 3,
            "reported_at": _times("2026-11-24 20:00", "2026-11-24 22:00", "2026-11-25 07:00"),
        }
    )
    write_deltalake(lake.table_path("silver", "cases"), cases, mode="overwrite", schema_mode="overwrite")
    assert [h.window_key for h in find_hits(lake, DAY, plans, GEO)] == [
        "case_cluster:garbage:20261125T070000:GC3"
    ]
    # An operation started on the day does not hold back what came before it.
    _record_operation(lake, "OP-on-the-day", c1, "2026-11-25 06:00")
    assert len(find_hits(lake, DAY, plans, GEO)) == 1
    # One in another community holds back nothing here.
    _record_operation(lake, "OP-elsewhere", MINZHI_COMMUNITIES[1], "2026-11-24 23:00")
    assert len(find_hits(lake, DAY, plans, GEO)) == 1
    # One started at 21:00 the day before dealt with GC1: two cases left, one short.
    _record_operation(lake, "OP-before", c1, "2026-11-24 21:00")
    assert find_hits(lake, DAY, plans, GEO) == []


def test_a_lake_without_the_tables_meets_no_condition(tmp_path, monkeypatch):
    monkeypatch.setenv("CIVICLAKE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CIVICLAKE_LAKE_PATH", str(tmp_path / "lake"))
    assert find_hits(Settings(), DAY, PLANS, GEO) == []


def test_the_trigger_command_starts_each_condition_once(lake, monkeypatch):
    """`civiclake operations trigger` with the shipped plans: the demo-like orange rainstorm over
    民治 starts flood_response there; a rerun starts nothing new. Delivery to PostgreSQL is the
    outbox's (tested with it); here it is a recorder."""
    from civiclake.dispatch import outbox

    delivered = []
    monkeypatch.setattr(outbox, "deliver", lambda settings, **_: delivered.append(1) or {"inserted": 0})
    runner = CliRunner()
    first = runner.invoke(app, ["operations", "trigger", "--date", "2026-11-25"])
    assert first.exit_code == 0, first.output
    (started,) = json.loads(first.stdout)
    assert (started["plan_id"], started["area_code"], started["started_at"], started["new"]) == (
        "flood_response",
        MINZHI,
        "2026-11-25 06:30",
        True,
    )
    assert started["start_key"] == "weather_warning:WW1" and "暴雨橙色预警" in started["trigger_detail"]
    orders = outbox.read(lake)
    assert delivered and len(orders) == len(started["orders"]) == 5
    assert set(orders["case_id"]) == {started["operation_id"]} and set(orders["kind"]) == {"operation"}

    again = runner.invoke(app, ["operations", "trigger", "--date", "2026-11-25"])
    assert again.exit_code == 0, again.output
    (rerun,) = json.loads(again.stdout)
    assert (rerun["operation_id"], rerun["new"], rerun["enqueued"]) == (started["operation_id"], False, 0)
    assert len(outbox.read(lake)) == 5
    assert len(state.read_operations(lake)) == 1

"""Camera events and their cases for the marts tests, written with delta-rs into a lake of
``bench_marts_lake.py`` that already holds the governance cases and the registries
(``write_lake(..., families=True)``).

What the frame inference and the case funnel would leave, drawn per camera and day from a
seeded generator (never the clock), so the lake of an earlier day is the same draw cut
shorter:

- ``silver.camera_events`` (columns of civiclake/frames/tables.py): a few of the online
  registered cameras see a condition now and then; some conditions are still there in the
  next hour, which makes a second event in that hour;
- their cases in ``silver.cases`` as spark_jobs/case_funnel.py maps them (channel camera,
  case_id = event_id, reported when the event started), some of the gated ones closed by
  the department a while later, and their decisions in ``silver.case_dispatch``: auto where the class is gated for automatic dispatch, else
  review; a repeat in the next hour linked to the first event's case; a camera case linked
  to an open resident's case of the same category and community reported before it (the
  person saw it first), and a resident's case reported after an open camera case of the
  same category and community linked to that camera case (the camera saw it first).

Times are wall-clock times kept as UTC instants of the same digits, as the lake holds them.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

from bench.bench_marts_families import FamilyLake
from civiclake.cases import funnel
from civiclake.frames import tables

# (class, category, goes to automatic dispatch): the shipped model's event classes.
CLASSES = (
    ("garbage_overflow", "garbage", True),
    ("garbage", "garbage", False),
    ("pothole", "road_facility", False),
)
MODEL_VERSION = "bench-1"
CAMERA_STRIDE = 9  # every 9th online camera sees something now and then
EVENT_CHANCE = 0.6  # a day on which such a camera sees a condition
REPEAT_CHANCE = 0.4  # the condition is still there in the next hour
DUPLICATE_WINDOW = timedelta(hours=72)


def _day_end(day: date) -> datetime:
    return datetime.combine(day, time()) + timedelta(days=1) - timedelta(microseconds=1)


def _event(camera: dict, cls: tuple[str, str, bool], started_at: datetime, rng: random.Random) -> dict:
    name, category, auto = cls
    frames = rng.randint(5, 40)
    return {
        "event_id": f"CE-{camera['camera_id']}-{name}-{started_at:%Y%m%d%H%M%S}",
        "camera_id": camera["camera_id"],
        "class": name,
        "category": category,
        "started_at": started_at,
        "ended_at": started_at + timedelta(seconds=frames - 1),
        "peak_score": round(rng.uniform(0.55, 0.99), 3),
        "frames_seen": rng.randint(3, frames),
        "frames_sampled": frames,
        "model_version": MODEL_VERSION,
        "auto_dispatch": auto,
        "district_code": camera["district_code"],
        "street_code": camera["street_code"],
        "community_code": camera["community_code"],
        "grid_code": None,
        "lon": camera["lon"],
        "lat": camera["lat"],
        "hour": started_at.replace(minute=0, second=0, microsecond=0),
    }


def event_rows(first: date, as_of: date) -> list[dict]:
    """The events of the days ``first`` … ``as_of`` at the cameras registered and online."""
    lake = FamilyLake(first, as_of)
    cameras = [
        row | lake.codes(row["community_code"])
        for row in lake.cameras()
        if row["is_current"] and row["status"] == "online"
    ][::CAMERA_STRIDE]
    events = []
    day = first
    while day <= as_of:
        for camera in cameras:
            rng = random.Random(f"camera-events-{camera['camera_id']}-{day}")
            if rng.random() >= EVENT_CHANCE:
                continue
            cls = rng.choice(CLASSES)
            started = datetime.combine(day, time(rng.randint(6, 21), rng.randint(0, 59), rng.randint(0, 59)))
            events.append(_event(camera, cls, started, rng))
            if rng.random() < REPEAT_CHANCE:
                again = started.replace(minute=rng.randint(0, 20)) + timedelta(hours=1)
                if again.date() == day:
                    events.append(_event(camera, cls, again, rng))
        day += timedelta(days=1)
    return events


def _case(event: dict, as_of: date, rng: random.Random) -> dict:
    reported = event["started_at"]
    closed = reported + timedelta(minutes=rng.randint(30, 48 * 60)) if event["auto_dispatch"] else None
    if closed is not None and closed > _day_end(as_of):
        closed = None
    return {
        "case_id": event["event_id"],
        "source_system": "camera",
        "source_case_id": event["event_id"],
        "channel": "camera",
        "jurisdiction": funnel.DISTRICT_JURISDICTION,
        "source_category": event["class"],
        "category": event["category"],
        "category_trusted": event["auto_dispatch"],
        "description": None,
        "district_code": event["district_code"],
        "street_code": event["street_code"],
        "community_code": event["community_code"],
        "grid_code": None,
        "lon": event["lon"],
        "lat": event["lat"],
        "asset_id": None,
        "reported_at": reported,
        "closed_at": closed,
        "status": "closed" if closed else "in_progress" if event["auto_dispatch"] else "received",
        "feedback_text": None,
        "updated_at": closed or reported,
    }


def _decision(case_id: str, category: str, mode: str, duplicate_of: str | None) -> dict:
    return {
        "case_id": case_id,
        "predicted_category": category,
        "confidence": 1.0,
        "decision": "review" if mode == "review" else "auto",
        "routed_department": None,
        "model_version": "source",
        "batch_date": None,
        "department": None,
        "team": None,
        "rule_id": None,
        "duplicate_of": duplicate_of,
        "dispatch_mode": mode,
    }


def _open_at(case: dict, moment: datetime) -> bool:
    return case["reported_at"] < moment and (case["closed_at"] is None or case["closed_at"] > moment)


def _earliest_open(cases: list[dict], later: dict) -> dict | None:
    """The earliest case of the same category and community still open when ``later`` came
    in, reported at most DUPLICATE_WINDOW before it (the scoring job's rule, minus the
    distance: every case of a community is taken as near)."""
    found = [
        c
        for c in cases
        if c["category"] == later["category"]
        and c["community_code"] == later["community_code"]
        and later["reported_at"] - DUPLICATE_WINDOW <= c["reported_at"]
        and _open_at(c, later["reported_at"])
    ]
    return min(found, key=lambda c: (c["reported_at"], c["case_id"]), default=None)


def write_cameras(lake: str, first: date, as_of: date) -> dict[str, int]:
    """Writes the events (replaced) and adds their cases and decisions to the funnel and
    case_dispatch written before; links residents' cases to camera cases seen first."""
    events = event_rows(first, as_of)
    write_deltalake(
        f"{lake}/silver/{tables.EVENTS}",
        pa.Table.from_pylist(events, schema=tables.arrow_schema(tables.EVENTS)),
        mode="overwrite",
        schema_mode="overwrite",
    )
    funnel_table = DeltaTable(f"{lake}/silver/{funnel.TABLE}").to_pyarrow_table()
    residents = [
        r
        | {"reported_at": r["reported_at"].replace(tzinfo=None)}
        | {"closed_at": r["closed_at"] and r["closed_at"].replace(tzinfo=None)}
        for r in funnel_table.to_pylist()
    ]
    cameras = [_case(e, as_of, random.Random(f"camera-case-{e['event_id']}")) for e in events]
    camera_ids = {c["case_id"] for c in cameras}
    everyone = cameras + residents
    decisions = {}
    for case, event in zip(cameras, events, strict=True):
        earlier = _earliest_open(everyone, case)
        mode = "duplicate" if earlier else "auto" if event["auto_dispatch"] else "review"
        decisions[case["case_id"]] = _decision(
            case["case_id"], case["category"], mode, earlier and earlier["case_id"]
        )
    dispatch = DeltaTable(f"{lake}/silver/case_dispatch").to_pyarrow_table()
    rows = dispatch.to_pylist()
    by_id = {r["case_id"]: r for r in residents}
    for row in rows:
        resident = by_id.get(row["case_id"])
        earlier = resident and _earliest_open(everyone, resident)
        if earlier and earlier["case_id"] in camera_ids:
            row |= {"dispatch_mode": "duplicate", "duplicate_of": earlier["case_id"]}
    rows += list(decisions.values())
    write_deltalake(
        f"{lake}/silver/case_dispatch",
        pa.Table.from_pylist(rows, schema=dispatch.schema),
        mode="overwrite",
    )
    write_deltalake(
        f"{lake}/silver/{funnel.TABLE}",
        pa.Table.from_pylist(cameras, schema=funnel_table.schema),
        mode="append",
    )
    return {tables.EVENTS: len(events), "camera_cases": len(cameras)}

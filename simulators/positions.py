"""Simulator of the fleet-positioning platform: the day's position reports, hour by hour.

The platform receives the reports of the public-service fleet's terminals and exports each
hour's as one CSV file, ``<landing>/positions/<YYYY-MM-DD>/<HH>.csv``
(``civiclake.contracts.positions``). Who reports is the basic-resource registries of the
day (``simulators.resources.snapshot``): vehicles in service and every team. No person and
no private vehicle is ever in the feed.

* A vehicle in service reports every :data:`VEHICLE_EVERY` all day. From
  :data:`ROUNDS_START` to :data:`ROUNDS_END` it drives rounds inside its street: legs along
  a lattice of roads (first east-west, then north-south, as city blocks make a route) to
  one point after another, with a stop at each, at its type's speed; outside those hours it
  stands at its depot. Vehicles on standby or in maintenance do not report.
* A team's handheld terminal reports every :data:`TEAM_EVERY`: the team walks a loop
  around its community's centre (a street team: its street's), staying inside the community.
* A share of terminals goes quiet at some hour of the day (battery, coverage) and reports
  nothing more that day, so stale positions appear on the map.
* A few defective rows, drawn apart from the good ones: an unregistered terminal, a 0/0
  point without a satellite fix, a point outside the district, clocks a day ahead or reset
  to 2000, a report resent as it was and one resent with another point.

Everything is a function of the seed and the day, never of the clock: the same day again
gives byte-identical files.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from civiclake.contracts.positions import KINDS, POSITIONS
from civiclake.geography import Area, Box, Geography, load_geography
from civiclake.ingest import raw_exports
from civiclake.settings import Settings

log = logging.getLogger(__name__)

LANDING = "positions"
VEHICLE_EVERY = timedelta(minutes=5)
TEAM_EVERY = timedelta(minutes=10)
ROUNDS_START, ROUNDS_END = 6, 22  # hours a vehicle in service drives its rounds
QUIET_SHARE = 0.06  # terminals that go quiet during the day
ROAD_SPACING = 0.004  # degrees between the lattice's roads (about 400 m)
KM_PER_DEG_LAT = 111.2
SPEED_KMH = {  # driving speed by vehicle type
    "sanitation_truck": 12.0,
    "law_enforcement_patrol": 25.0,
    "electric_patrol_bike": 15.0,
    "emergency_repair": 30.0,
}
# Defect → rows of it per this many good rows (at least one of each a day).
DEFECT_EVERY = 5000
DEFECTS = (
    "unknown_terminal",
    "no_fix",
    "outside",
    "clock_ahead",
    "clock_reset",
    "resent",
    "resent_moved",
)
UNKNOWN_TERMINAL = "VEH9999999"
_LABELS = {code: label for label, code in KINDS.items()}
HEADERS = [POSITIONS.field(name).header for name in POSITIONS.source_columns]


@dataclass(frozen=True)
class Terminal:
    """A reporting resource of the day: its id, kind and what its movement depends on."""

    resource_id: str
    kind: str  # vehicle | team
    resource_type: str
    area: Area  # where it works: the street (vehicles, street teams) or the community
    street: Area


@dataclass
class Report:
    resource_id: str
    kind: str
    reported_at: datetime
    lon: float
    lat: float
    speed_kmh: float | None
    heading_deg: float | None

    def cells(self) -> list[str]:
        return [
            self.resource_id,
            _LABELS.get(self.kind, self.kind),
            self.reported_at.strftime("%Y-%m-%d %H:%M:%S"),
            f"{self.lon:.6f}",
            f"{self.lat:.6f}",
            "" if self.speed_kmh is None else f"{self.speed_kmh:.1f}",
            "" if self.heading_deg is None else f"{self.heading_deg:.0f}",
        ]


def terminals(day: date, settings: Settings, geography: Geography | None = None) -> list[Terminal]:
    """The day's reporting resources: vehicles in service and every team, in id order."""
    from simulators.resources import snapshot

    geography = geography or load_geography()
    vehicles = snapshot("vehicles", day, settings, geography)
    teams = snapshot("teams", day, settings, geography)
    result = [
        Terminal(
            v.vehicle_id,
            "vehicle",
            v.vehicle_type,
            geography.streets[v.street_code],
            geography.streets[v.street_code],
        )
        for v in vehicles.itertuples()
        if v.status == "in_service"
    ]
    for t in teams.itertuples():
        area = (
            geography.communities[t.community_code] if t.community_code else geography.streets[t.street_code]
        )
        result.append(Terminal(t.team_id, "team", t.team_type, area, geography.streets[t.street_code]))
    return sorted(result, key=lambda t: t.resource_id)


# --------------------------------------------------------------------------- movement


def _lon_km(lat: float) -> float:
    return KM_PER_DEG_LAT * math.cos(math.radians(lat))


def _lattice(box: Box, rng: random.Random) -> tuple[float, float]:
    """A crossing of the road lattice inside ``box``."""
    cols = max(1, int((box.max_lon - box.min_lon) / ROAD_SPACING))
    rows = max(1, int((box.max_lat - box.min_lat) / ROAD_SPACING))
    return (
        box.min_lon + (rng.randrange(cols) + 0.5) * (box.max_lon - box.min_lon) / cols,
        box.min_lat + (rng.randrange(rows) + 0.5) * (box.max_lat - box.min_lat) / rows,
    )


@dataclass(frozen=True)
class _Leg:
    start: float  # seconds from midnight
    end: float
    origin: tuple[float, float]
    target: tuple[float, float]
    speed_kmh: float  # 0: standing
    heading_deg: float | None


def _heading(origin: tuple[float, float], target: tuple[float, float]) -> float:
    dx = (target[0] - origin[0]) * _lon_km(origin[1])
    dy = (target[1] - origin[1]) * KM_PER_DEG_LAT
    return math.degrees(math.atan2(dx, dy)) % 360


def vehicle_legs(terminal: Terminal, rng: random.Random) -> list[_Leg]:
    """The vehicle's day as legs: standing at its depot, rounds from lattice point to
    lattice point (east-west, then north-south) with stops, back to the depot, standing."""
    box = terminal.area.box
    depot = _lattice(box, rng)
    speed = SPEED_KMH.get(terminal.resource_type, 20.0)
    legs = [_Leg(0, ROUNDS_START * 3600, depot, depot, 0.0, None)]
    t, here = ROUNDS_START * 3600.0, depot
    while True:
        target = _lattice(box, rng)
        corner = (target[0], here[1])
        drive = []
        for a, b in ((here, corner), (corner, target)):
            km = abs(b[0] - a[0]) * _lon_km(a[1]) + abs(b[1] - a[1]) * KM_PER_DEG_LAT
            drive.append((a, b, km / speed * 3600))
        stop = rng.uniform(2, 20) * 60
        if t + sum(d for _, _, d in drive) + stop > ROUNDS_END * 3600:
            break
        for a, b, seconds in drive:
            if seconds > 0:
                legs.append(_Leg(t, t + seconds, a, b, speed, _heading(a, b)))
                t += seconds
        legs.append(_Leg(t, t + stop, target, target, 0.0, None))
        t, here = t + stop, target
    for a, b in ((here, (depot[0], here[1])), ((depot[0], here[1]), depot)):
        seconds = (abs(b[0] - a[0]) * _lon_km(a[1]) + abs(b[1] - a[1]) * KM_PER_DEG_LAT) / speed * 3600
        if seconds > 0:
            legs.append(_Leg(t, t + seconds, a, b, speed, _heading(a, b)))
            t += seconds
    legs.append(_Leg(t, 86400 + 1, depot, depot, 0.0, None))
    return legs


def _on_legs(legs: list[_Leg], second: float) -> tuple[float, float, float, float | None]:
    """(lon, lat, speed, heading) at ``second`` of the day."""
    for leg in legs:
        if leg.start <= second < leg.end:
            share = 0.0 if leg.end == leg.start else (second - leg.start) / (leg.end - leg.start)
            lon = leg.origin[0] + share * (leg.target[0] - leg.origin[0])
            lat = leg.origin[1] + share * (leg.target[1] - leg.origin[1])
            return lon, lat, leg.speed_kmh, leg.heading_deg
    last = legs[-1]
    return last.target[0], last.target[1], 0.0, None


def _team_point(terminal: Terminal, second: float, loop: tuple[float, float, float]) -> tuple[float, float]:
    """A point of the team's loop around its area's centre, kept inside the area."""
    radius_m, phase, period_s = loop
    box = terminal.area.box
    centre_lon, centre_lat = box.centroid
    angle = phase + 2 * math.pi * second / period_s
    lon = centre_lon + radius_m / 1000 * math.cos(angle) / _lon_km(centre_lat)
    lat = centre_lat + radius_m / 1000 * math.sin(angle) / KM_PER_DEG_LAT
    return (
        min(max(lon, box.min_lon + 1e-5), box.max_lon - 1e-5),
        min(max(lat, box.min_lat + 1e-5), box.max_lat - 1e-5),
    )


def terminal_reports(terminal: Terminal, day: date, seed: int) -> list[Report]:
    """The reports one terminal sends on ``day``, in time order."""
    rng = random.Random(f"positions-{seed}-{day.isoformat()}-{terminal.resource_id}")
    every = VEHICLE_EVERY if terminal.kind == "vehicle" else TEAM_EVERY
    offset = rng.uniform(0, every.total_seconds())  # terminals do not report in step
    quiet_from = 86400.0
    if rng.random() < QUIET_SHARE:
        quiet_from = rng.uniform(8, 22) * 3600
    midnight = datetime.combine(day, datetime.min.time())
    if terminal.kind == "vehicle":
        legs = vehicle_legs(terminal, rng)
    else:
        loop = (rng.uniform(60, 350), rng.uniform(0, 2 * math.pi), rng.uniform(2, 5) * 3600)
    reports = []
    second = offset
    while second < min(quiet_from, 86400):
        if terminal.kind == "vehicle":
            lon, lat, speed, heading = _on_legs(legs, second)
        else:
            lon, lat = _team_point(terminal, second, loop)
            speed, heading = round(rng.uniform(0, 4), 1), None
        reports.append(
            Report(
                terminal.resource_id,
                terminal.kind,
                midnight + timedelta(seconds=int(second)),
                round(lon, 6),
                round(lat, 6),
                speed,
                heading,
            )
        )
        second += every.total_seconds()
    return reports


# --------------------------------------------------------------------------- defects


def _defective(reports: list[Report], day: date, seed: int, geography: Geography) -> list[tuple[int, Report]]:
    """The day's defective rows, each a copy of a drawn good report with one defect, in the
    landing hour of that report: a wrong clock does not change when a report arrived."""
    if not reports:
        return []
    rng = random.Random(f"positions-defects-{seed}-{day.isoformat()}")
    per_kind = max(1, len(reports) // DEFECT_EVERY)
    district = geography.district.box
    rows = []
    for defect in DEFECTS:
        for _ in range(per_kind):
            original = reports[rng.randrange(len(reports))]
            r = Report(**vars(original))
            if defect == "unknown_terminal":
                r.resource_id, r.kind = UNKNOWN_TERMINAL, "vehicle"
            elif defect == "no_fix":
                r.lon = r.lat = 0.0
            elif defect == "outside":
                r.lon = round(district.max_lon + 0.2, 6)
            elif defect == "clock_ahead":
                r.reported_at += timedelta(days=1)
            elif defect == "clock_reset":
                r.reported_at = r.reported_at.replace(year=2000)
            elif defect == "resent_moved":
                r.lat = round(r.lat + 0.001, 6)
            rows.append((original.reported_at.hour, r))
    return rows


def day_reports(
    day: date, settings: Settings, geography: Geography | None = None
) -> list[tuple[int, Report]]:
    """(landing hour, report) of every row the platform exports for ``day``: good rows in
    time order, each in the hour it was sent, then the defective ones."""
    geography = geography or load_geography()
    good = [r for t in terminals(day, settings, geography) for r in terminal_reports(t, day, settings.seed)]
    good.sort(key=lambda r: (r.reported_at, r.resource_id))
    return [(r.reported_at.hour, r) for r in good] + _defective(good, day, settings.seed, geography)


# --------------------------------------------------------------------------- delivery


def render_hour(reports: list[Report]) -> bytes:
    """One hour's CSV file (UTF-8, the platform's Chinese headers)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADERS)
    writer.writerows(r.cells() for r in reports)
    return out.getvalue().encode("utf-8")


def simulate_day(day: date, settings: Settings) -> dict[str, int]:
    """Writes the day's hourly files; returns rows per file (none when the day was ingested
    before: ``raw_exports.ingested_before``). Files are written whole and renamed."""
    folder = raw_exports.private_dir(Path(settings.landing), LANDING, day.isoformat())
    if raw_exports.ingested_before(folder):
        return {}
    by_hour: dict[int, list[Report]] = {}
    for hour, report in day_reports(day, settings):
        by_hour.setdefault(hour, []).append(report)
    written = {}
    for hour in sorted(by_hour):
        name = f"{hour:02d}.csv"
        raw_exports.write_private(folder / name, render_hour(by_hour[hour]))
        written[name] = len(by_hour[hour])
    log.info("positions %s: %d reports in %d files", day, sum(written.values()), len(written))
    return written

"""The fleet-positioning simulator: a function of the seed and the day, vehicles inside
their street at their cadence, teams inside their community, quiet terminals, and the
defective rows the checks must catch."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest

from civiclake.contracts.positions import POSITIONS
from civiclake.geography import load_geography
from civiclake.ingest import positions as checks
from civiclake.ingest.files import read_batch
from civiclake.jurisdiction import load_jurisdiction
from civiclake.settings import Settings
from simulators import positions as sim
from simulators.resources import snapshot

DAY = date(2026, 11, 25)


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("data"), sim_scale=0.01)


@pytest.fixture(scope="module")
def rows(settings):
    return sim.day_reports(DAY, settings)


def test_the_same_day_gives_the_same_bytes_and_another_day_other_ones(settings, tmp_path):
    first = sim.simulate_day(DAY, settings)
    folder = settings.landing / "positions" / DAY.isoformat()
    files = {p.name: p.read_bytes() for p in sorted(folder.glob("*.csv"))}
    again = Settings(**{**settings.model_dump(), "data_dir": tmp_path})
    assert sim.simulate_day(DAY, again) == first
    assert {
        p.name: p.read_bytes()
        for p in sorted((tmp_path / "landing/positions" / DAY.isoformat()).glob("*.csv"))
    } == files
    assert list(first) == [f"{h:02d}.csv" for h in range(24)]
    other = sim.day_reports(DAY + timedelta(days=1), settings)
    assert [r.cells() for _, r in other][:50] != [r.cells() for _, r in sim.day_reports(DAY, settings)][:50]


def test_only_vehicles_in_service_and_teams_report(settings, rows):
    geo = load_geography()
    vehicles = snapshot("vehicles", DAY, settings, geo)
    teams = snapshot("teams", DAY, settings, geo)
    in_service = set(vehicles.vehicle_id[vehicles.status == "in_service"])
    reporting = {r.resource_id for _, r in rows} - {sim.UNKNOWN_TERMINAL}
    assert reporting <= in_service | set(teams.team_id)
    assert in_service <= reporting  # every one, from midnight on (terminals go quiet after 08:00)
    assert set(teams.team_id) == reporting - in_service


def test_vehicles_drive_inside_their_street_every_five_minutes(settings, rows):
    geo = load_geography()
    vehicles = snapshot("vehicles", DAY, settings, geo).set_index("vehicle_id")
    by_vehicle: dict[str, list] = {}
    for _, r in rows[: len(rows) - 7 * max(1, len(rows) // sim.DEFECT_EVERY)]:
        if r.kind == "vehicle":
            by_vehicle.setdefault(r.resource_id, []).append(r)
    assert by_vehicle
    moving = 0
    for vehicle_id, reports in by_vehicle.items():
        box = geo.streets[vehicles.loc[vehicle_id, "street_code"]].box
        assert all(
            box.min_lon <= r.lon <= box.max_lon and box.min_lat <= r.lat <= box.max_lat for r in reports
        )
        gaps = {
            (b.reported_at - a.reported_at).total_seconds()
            for a, b in zip(reports, reports[1:], strict=False)
        }
        assert gaps <= {299.0, 300.0, 301.0}, vehicle_id  # whole seconds of a 300 s cadence
        moving += sum(1 for r in reports if r.speed_kmh > 0)
        night = [r for r in reports if r.reported_at.hour < sim.ROUNDS_START]
        assert all(r.speed_kmh == 0 for r in night)  # standing at the depot
    assert moving > 0


def test_teams_stay_inside_their_community(settings, rows):
    geo = load_geography()
    teams = snapshot("teams", DAY, settings, geo).set_index("team_id")
    checked = 0
    for _, r in rows:
        if r.kind != "team" or r.resource_id not in teams.index:
            continue
        community = teams.loc[r.resource_id, "community_code"]
        if community is None:
            continue
        box = geo.communities[community].box
        if r.lon == 0 or r.lat == 0:
            continue  # the no-fix defect
        checked += box.min_lon <= r.lon <= box.max_lon and box.min_lat <= r.lat <= box.max_lat
    teams_rows = sum(1 for _, r in rows if r.kind == "team" and teams.loc[r.resource_id, "community_code"])
    # Every team report lies in its community but for the defects copied from them; the day
    # has community teams' reports to check.
    assert teams_rows > 100 and checked > 100
    assert teams_rows - checked <= 7 * max(1, len(rows) // sim.DEFECT_EVERY)


def test_some_terminals_go_quiet_before_the_day_ends(rows):
    last = {}
    for _, r in rows:
        if r.reported_at.date() == DAY:
            last[r.resource_id] = max(last.get(r.resource_id, r.reported_at), r.reported_at)
    quiet = [rid for rid, at in last.items() if at.hour < 23]
    assert 0 < len(quiet) < len(last) * 0.2


def test_the_defective_rows_are_what_the_checks_quarantine(settings, rows):
    sim.simulate_day(DAY, settings)
    geo = load_geography()
    registry = {v: "vehicle" for v in snapshot("vehicles", DAY, settings, geo).vehicle_id}
    registry |= {t: "team" for t in snapshot("teams", DAY, settings, geo).team_id}
    reads = read_batch(settings.landing / "positions" / DAY.isoformat(), POSITIONS)
    checked = checks.check_positions(reads, DAY, registry, geo, load_jurisdiction("longhua"))
    per = max(1, (len(rows) - 7 * max(1, len(rows) // sim.DEFECT_EVERY)) // sim.DEFECT_EVERY)
    assert len(checked) == len(rows)
    assert checks.reason_counts(checked) == {
        checks.UNKNOWN_RESOURCE: per,
        checks.BAD_COORDINATES: per,
        checks.OUTSIDE_DISTRICT: per,
        checks.CLOCK_OFF: 2 * per,
        checks.DUPLICATE: per,
    }
    assert Counter(c.row.duplicate for c in checked)[True] == per
    assert sum(c.good for c in checked) == len(rows) - 7 * per

"""City-management simulator: determinism, unknown-owner covers and 先修后定 settlement."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from civiclake.geography import load_geography
from civiclake.settings import Settings
from simulators.city import (
    ECHO_CATEGORIES,
    ECHO_MAX_LAG,
    ECHO_MAX_METRES,
    ECHO_SHARE,
    cases_reported_on,
    cover_register,
    distance_m,
    resident_echoes,
    rows_changed_on,
)

DAY = date(2026, 11, 25)


def settings(**overrides) -> Settings:
    return Settings(sim_scale=0.01, **overrides)


def test_same_seed_and_day_give_the_same_rows():
    s = settings()
    assert rows_changed_on(DAY, s) == rows_changed_on(DAY, s)
    covers = cover_register(s)
    assert cases_reported_on(DAY, s, covers) != cases_reported_on(DAY, settings(seed=1), covers)


def test_cover_register_has_unknown_owners_inside_the_district():
    covers = cover_register(settings())
    geo = load_geography()
    assert len(covers) == 1200  # 120,000 at full scale
    unknown = sum(c.owner_department is None for c in covers)
    assert 0.04 * len(covers) < unknown < 0.12 * len(covers)
    assert all(geo.locate(c.lon, c.lat).grid_code == c.grid_code for c in covers)


def test_repairs_settle_by_the_state_machine():
    s = settings()
    rows = rows_changed_on(DAY, s, backlog=True)
    assert {r[8] for r in rows["repairs"]} == {
        "pending",
        "claimed",
        "cost_recovered",
        "settled",
        "borne_by_street",
    }
    owners = {c.asset_id: c.owner_department for c in cover_register(s)}
    steps: dict[str, list[tuple]] = {}
    for event in sorted(rows["settlement_events"], key=lambda e: e[10]):
        steps.setdefault(event[1], []).append(event)
    for repair in rows["repairs"]:
        owner, taken = owners[repair[2]], [e[4] for e in steps.get(repair[0], [])]
        expected = {
            "pending": [],
            "claimed": ["claim"],
            "cost_recovered": ["claim", "recover"],
            "settled": ["claim", "recover", "settle"],
            "borne_by_street": ["street_bears"],
        }[repair[8]]
        assert taken == expected
        if repair[8] == "borne_by_street":  # nobody claimed the cover; 20 days after the repair
            assert owner is None and repair[7].endswith("街道办事处")
            assert repair[9] - repair[5] >= timedelta(days=20)
        elif repair[8] == "pending":
            assert repair[7] is None and repair[9] is None
        else:  # a registered owner claims its own cover; an unregistered one is claimed by someone
            assert repair[7] == (owner or steps[repair[0]][0][7])
        assert repair[10] == max(
            [repair[4], repair[5] or repair[4], *(e[10] for e in steps.get(repair[0], []))]
        )


def test_rows_changed_on_a_day_carry_that_days_updated_at():
    rows = rows_changed_on(DAY, settings())
    start = datetime(2026, 11, 25)
    for table, table_rows in rows.items():
        assert table_rows, table
        assert all(start <= r[-1] < start + timedelta(days=1) for r in table_rows)


def test_residents_echo_a_share_of_the_street_problems_nearby():
    """About ECHO_SHARE of the cases of the echoed categories get a resident's report within
    ECHO_MAX_METRES and ECHO_MAX_LAG, either one first; outdoor ads never; the same for a seed
    and day, and the city's own cases stay what they were (drawn from another generator)."""
    s = settings()
    days = [DAY - timedelta(days=k) for k in range(30)]
    covers = cover_register(s)
    plans = {p.case_id: p for d in days for p in cases_reported_on(d, s, covers)}
    echoes = [e for d in days for e in resident_echoes(d, s)]
    eligible = sum(p.category in ECHO_CATEGORIES for p in plans.values())
    assert abs(len(echoes) / eligible - ECHO_SHARE) < 0.06
    geo = load_geography()
    for echo in echoes:
        patrol = plans[echo.city_case_id]
        assert echo.city_category == patrol.category != "outdoor_ads"
        assert (echo.city_lon, echo.city_lat, echo.city_reported_at) == (
            patrol.lon,
            patrol.lat,
            patrol.reported_at,
        )
        assert 0 < echo.distance_m <= ECHO_MAX_METRES
        assert abs(echo.reported_at - patrol.reported_at) <= ECHO_MAX_LAG
        assert echo.reported_at.date() == patrol.reported_at.date()
        assert geo.locate(echo.lon, echo.lat).grid_code == echo.grid_code
    assert 0.3 < sum(e.resident_first for e in echoes) / len(echoes) < 0.7
    assert resident_echoes(DAY, s) == resident_echoes(DAY, s)


def test_distance_in_metres():
    # 0.001° of latitude is 111.32 m; of longitude at 22.65°N, cos(22.65°) as much.
    assert distance_m(114.0, 22.65, 114.0, 22.651) == pytest.approx(111.32, abs=0.01)
    assert distance_m(114.0, 22.65, 114.001, 22.65) == pytest.approx(111.32 * 0.92287, abs=0.02)

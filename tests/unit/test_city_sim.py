"""City-management simulator: determinism, unknown-owner covers and 先修后定 settlement."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from civiclake.geography import load_geography
from civiclake.settings import Settings
from simulators.city import cases_reported_on, cover_register, rows_changed_on

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


def test_repairs_settle_with_the_owner_or_fall_to_the_street():
    s = settings()
    rows = rows_changed_on(DAY, s, backlog=True)
    settled = [r for r in rows["repairs"] if r[8] != "pending"]
    assert settled
    owners = {c.asset_id: c.owner_department for c in cover_register(s)}
    for repair in settled:
        owner = owners[repair[2]]
        if owner is None:
            assert repair[8] == "borne_by_street" and repair[7].endswith("街道办事处")
        else:
            assert repair[8] == "settled_with_owner" and repair[7] == owner
        assert repair[4] <= repair[5] <= repair[9] == repair[10]  # made safe ≤ repaired ≤ settled


def test_rows_changed_on_a_day_carry_that_days_updated_at():
    rows = rows_changed_on(DAY, settings())
    start = datetime(2026, 11, 25)
    for table, table_rows in rows.items():
        assert table_rows, table
        assert all(start <= r[-1] < start + timedelta(days=1) for r in table_rows)

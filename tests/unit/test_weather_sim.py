"""The simulated weather warnings (simulators/weather.py): rows as the contract declares them,
as they stand at the end of the day (nothing the ingest of the day would refuse as future),
the same for the same seed, and the demo day's orange rainstorm over 民治街道."""

from __future__ import annotations

from datetime import date, datetime

from civiclake.contracts.governance import WARNING_KINDS, WARNING_LEVELS, WEATHER_WARNINGS
from civiclake.geography import load_geography
from simulators import weather

SEED = 20261126


def _by_id(rows):
    return {row[0]: dict(zip(WEATHER_WARNINGS.source_columns, row, strict=True)) for row in rows}


def test_rows_follow_the_contract_and_lie_before_the_end_of_the_day():
    geo = load_geography()
    day = date(2026, 7, 20)
    end = datetime(2026, 7, 21)
    rows = _by_id(weather.rows_as_of(day, SEED))
    assert rows, "June and July give some warnings"
    for row in rows.values():
        assert row["kind"] in WARNING_KINDS and row["level"] in WARNING_LEVELS
        assert row["district_code"] == geo.district.code
        assert row["street_code"] is None or row["street_code"] in geo.streets
        assert row["issued_at"] < end and row["updated_at"] < end
        # Lifted only once the lift has happened; updated at the last change.
        assert row["updated_at"] == (row["lifted_at"] or row["issued_at"])
        assert row["lifted_at"] is None or row["issued_at"] < row["lifted_at"] < end
    assert _by_id(weather.rows_as_of(day, SEED)) == rows  # a function of seed and day
    assert _by_id(weather.rows_as_of(day, SEED + 1)) != rows


def test_a_few_warnings_a_month():
    counts = [len(weather.warnings_of_month(2026, month, SEED)) for month in range(1, 11)]
    assert all(min(weather.WARNINGS_PER_MONTH) <= n <= max(weather.WARNINGS_PER_MONTH) for n in counts)


def test_a_warning_is_lifted_on_a_later_day_as_the_same_row():
    (first, *_) = weather.warnings_of_month(2026, 6, SEED)
    issued_day = first.issued_at.date()
    lifted_day = first.lifted_at.date()
    before = _by_id(weather.rows_as_of(issued_day, SEED))[first.warning_id]
    after = _by_id(weather.rows_as_of(lifted_day, SEED))[first.warning_id]
    assert after["lifted_at"] == first.lifted_at and after["updated_at"] == first.lifted_at
    if lifted_day > issued_day:
        assert before["lifted_at"] is None and before["updated_at"] == first.issued_at


def test_the_demo_day_has_an_orange_rainstorm_over_minzhi():
    geo = load_geography()
    (minzhi,) = [code for code, area in geo.streets.items() if area.name == "民治街道"]
    rows = _by_id(weather.rows_as_of(weather.DEMO_DAY, SEED))
    demo = rows["WW20261125D1"]
    assert (demo["kind"], demo["level"], demo["street_code"]) == ("rainstorm", "orange", minzhi)
    assert (demo["issued_at"], demo["lifted_at"]) == (
        datetime(2026, 11, 25, 6, 30),
        datetime(2026, 11, 25, 15),
    )
    # Not yet there the day before.
    assert "WW20261125D1" not in _by_id(weather.rows_as_of(date(2026, 11, 24), SEED))

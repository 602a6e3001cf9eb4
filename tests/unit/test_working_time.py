"""Working hours on the shipped holiday reference, every expected value counted by hand:
working periods 09:00–12:00 and 14:00–18:00 (7 hours a day), weekends off, the 2026
National Day break (1–7 October off) and its adjusted working Saturday, 10 October."""

from __future__ import annotations

import os
import random
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest

from civiclake.working_time import (
    HOLIDAYS_FILE,
    WorkingTimeError,
    check_periods,
    default_calendar,
    parse_period,
    read_calendar,
)


@pytest.fixture(scope="module")
def cal():
    return default_calendar()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


# (start, end, working hours between them), worked out by hand.
SPANS = [
    # Monday 23 November: 11–12 and 14–15 count, the lunch break does not.
    ("2026-11-23 11:00", "2026-11-23 15:00", 2.0),
    # Started and ended inside the lunch break: nothing.
    ("2026-11-23 12:10", "2026-11-23 13:50", 0.0),
    # After hours to before hours on the next day: nothing.
    ("2026-11-23 18:30", "2026-11-24 08:59", 0.0),
    # Friday 17:00 to Monday 10:00: Friday 17–18 and Monday 9–10; the weekend is off.
    ("2026-11-27 17:00", "2026-11-30 10:00", 2.0),
    # A whole week, Monday 00:00 to the next Monday 00:00: five days of 7 hours.
    ("2026-11-23 00:00", "2026-11-30 00:00", 35.0),
    # Wednesday 30 September 16:00 to Friday 9 October 10:00: 30 September 2 h, 1–7
    # October off (National Day and the weekend in it), Thursday 8 October 7 h, 9–10 1 h.
    ("2026-09-30 16:00", "2026-10-09 10:00", 10.0),
    # Friday 9 October 17:00 to Monday 12 October 10:00: Friday 1 h, the adjusted working
    # Saturday 10 October 7 h, Sunday off, Monday 1 h.
    ("2026-10-09 17:00", "2026-10-12 10:00", 9.0),
    # Mid-Autumn Festival, Friday 25 September, is off; Sunday 20 September is worked.
    ("2026-09-24 17:00", "2026-09-28 09:30", 1.5),
    ("2026-09-19 00:00", "2026-09-21 00:00", 7.0),
    # The end before the start.
    ("2026-11-23 15:00", "2026-11-23 11:00", 0.0),
]


@pytest.mark.parametrize(("start", "end", "hours"), SPANS)
def test_working_hours_between(cal, start, end, hours):
    assert cal.working_hours_between(at(start), at(end)) == pytest.approx(hours)


# (start, working hours, the instant they have passed), worked out by hand.
DEADLINES = [
    ("2026-11-23 11:00", 1, "2026-11-23 12:00"),  # ends as the morning closes, not at 14:00
    ("2026-11-23 11:00", 2, "2026-11-23 15:00"),  # across the lunch break
    ("2026-11-23 12:30", 1, "2026-11-23 15:00"),  # started in the lunch break
    ("2026-11-27 17:00", 2, "2026-11-30 10:00"),  # across the weekend
    ("2026-11-28 10:00", 1, "2026-11-30 10:00"),  # started on a Saturday
    ("2026-09-30 16:00", 10, "2026-10-09 10:00"),  # across National Day
    ("2026-09-30 16:00", 2, "2026-09-30 18:00"),  # the last hours before the break
    ("2026-09-30 16:00", 2.5, "2026-10-08 09:30"),  # the first half hour after it
    ("2026-10-09 17:00", 8, "2026-10-10 18:00"),  # onto the adjusted working Saturday
    ("2026-10-09 17:00", 8.5, "2026-10-12 09:30"),  # past it, over Sunday
    ("2026-11-23 10:00", 0, "2026-11-23 10:00"),
]


@pytest.mark.parametrize(("start", "hours", "expected"), DEADLINES)
def test_add_working_hours(cal, start, hours, expected):
    assert cal.add_working_hours(at(start), hours) == at(expected)


def test_the_two_functions_agree_on_random_spans(cal):
    """Adding h working hours and counting them back gives h, from any start."""
    draw = random.Random(15)
    for _ in range(300):
        start = datetime(2026, 9, 1) + timedelta(minutes=draw.randrange(0, 60 * 24 * 100))
        hours = draw.randrange(0, 80) / 4
        end = cal.add_working_hours(start, hours)
        assert cal.working_hours_between(start, end) == pytest.approx(hours)


def test_other_working_periods(cal):
    """An office open 08:30–17:30 without a lunch break: 9 hours a day."""
    full_day = cal.with_periods([(time(8, 30), time(17, 30))])
    assert full_day.hours_per_day == 9
    assert full_day.working_hours_between(at("2026-11-27 12:00"), at("2026-11-30 12:00")) == 9.0
    assert cal.hours_per_day == 7


def test_the_calendar_ends_where_dbts_does(cal):
    """From the reference's first year to the end of the year after its last, as
    int_calendar_days; beyond, the error names the file to extend."""
    assert cal.first_day == date(2025, 1, 1)
    assert cal.last_day == date(2028, 12, 31)
    assert cal.is_working_day(date(2028, 12, 29))  # a Friday, nothing announced
    with pytest.raises(WorkingTimeError, match=r"2029.*cn_public_holidays\.csv"):
        cal.working_hours_between(at("2028-12-29 09:00"), at("2029-01-02 10:00"))
    with pytest.raises(WorkingTimeError, match="outside the working-day calendar"):
        cal.is_working_day(date(2024, 12, 31))


def test_core_and_dbt_read_one_holiday_file():
    """dbt's seed is the reference; nothing else holds a copy of it."""
    assert HOLIDAYS_FILE.parts[-3:] == ("dbt", "seeds", "cn_public_holidays.csv")
    assert HOLIDAYS_FILE.is_file()
    root = HOLIDAYS_FILE.parents[2]
    copies = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = [s for s in subfolders if not s.startswith(".") and s not in {"var", "node_modules"}]
        copies += [Path(folder) / f for f in files if f == "cn_public_holidays.csv"]
    assert copies == [HOLIDAYS_FILE]


def test_a_bad_reference_names_file_line_and_field(tmp_path):
    path = tmp_path / "holidays.csv"
    path.write_text("calendar_date,day_type\n2026-10-01,holiday\n2026-10-32,holiday\n", encoding="utf-8")
    with pytest.raises(WorkingTimeError, match=r"holidays\.csv, line 3, calendar_date: '2026-10-32'"):
        read_calendar(path)
    path.write_text("calendar_date,day_type\n2026-10-01,day_off\n", encoding="utf-8")
    with pytest.raises(WorkingTimeError, match=r"line 2, day_type: 'day_off'"):
        read_calendar(path)
    path.write_text("calendar_date,day_type\n2026-10-01,holiday\n2026-10-01,workday\n", encoding="utf-8")
    with pytest.raises(WorkingTimeError, match="listed twice"):
        read_calendar(path)
    path.write_text("day,kind\n2026-10-01,holiday\n", encoding="utf-8")
    with pytest.raises(WorkingTimeError, match=r"missing columns \['calendar_date', 'day_type'\]"):
        read_calendar(path)
    with pytest.raises(WorkingTimeError, match="cannot read"):
        read_calendar(tmp_path / "absent.csv")


def test_bad_periods_are_refused():
    assert parse_period("09:00–12:00", "x") == (time(9), time(12))
    with pytest.raises(WorkingTimeError, match="not a period"):
        parse_period("9 to 12", "policy.yaml, working_hours[0]")
    with pytest.raises(WorkingTimeError, match="does not end after it starts"):
        check_periods(((time(12), time(9)),), "p")
    with pytest.raises(WorkingTimeError, match="starts before the previous one ends"):
        check_periods(((time(9), time(12)), (time(11), time(18))), "p")
    with pytest.raises(WorkingTimeError, match="no working periods"):
        check_periods((), "p")

"""Working time of the district's offices: working hours on working days.

A working day is a weekday that is not a public holiday, or a weekend day worked instead
of one (调休上班). The days come from the one holiday reference the marts also use, dbt's
seed ``dbt/seeds/cn_public_holidays.csv`` (the State Council's notices), so that an
escalation timer in Python and a working-day deadline in dbt never disagree about a day.
Within a working day only the working periods count (by default 09:00–12:00 and
14:00–18:00: the lunch break is not working time).

Times are the source system's wall clock (naive datetimes), as everywhere in the lake.
Like dbt's calendar (``int_calendar_days``), this one runs from the first year of the
reference to the end of the year after its last; a question about a day outside it is
an error naming the file to extend, never a guess.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from pathlib import Path

from civiclake.settings import PROJECT_ROOT

HOLIDAYS_FILE = PROJECT_ROOT / "dbt" / "seeds" / "cn_public_holidays.csv"
DEFAULT_PERIODS = ((time(9), time(12)), (time(14), time(18)))
DAY_TYPES = ("holiday", "workday")


class WorkingTimeError(ValueError):
    """The holiday reference or the working periods cannot be used, or a day lies outside
    the calendar; the message names the file, row and field."""


@dataclass(frozen=True)
class WorkingCalendar:
    """Working days (weekdays, less ``holidays``, plus ``workdays``) between ``first_day``
    and ``last_day``, and the working ``periods`` of each: ordered, non-overlapping
    (start, end) pairs of times of day."""

    holidays: frozenset[date]
    workdays: frozenset[date]
    first_day: date
    last_day: date
    periods: tuple[tuple[time, time], ...] = DEFAULT_PERIODS
    source: str = str(HOLIDAYS_FILE)

    def __post_init__(self) -> None:
        check_periods(self.periods, where="working periods")

    def with_periods(self, periods: Iterable[tuple[time, time]]) -> WorkingCalendar:
        """The same days with other working periods (e.g. those of an escalation policy)."""
        return WorkingCalendar(
            self.holidays, self.workdays, self.first_day, self.last_day, tuple(periods), self.source
        )

    @property
    def hours_per_day(self) -> float:
        return sum(_seconds(start, end) for start, end in self.periods) / 3600

    def is_working_day(self, day: date) -> bool:
        if not self.first_day <= day <= self.last_day:
            raise WorkingTimeError(
                f"{day} is outside the working-day calendar ({self.first_day} to {self.last_day}): "
                f"add the State Council's holiday notice of {day.year} to {self.source}"
            )
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def working_hours_between(self, start: datetime, end: datetime) -> float:
        """Working hours from ``start`` to ``end`` (0 when ``end`` is not after ``start``)."""
        if end <= start:
            return 0.0
        seconds = 0.0
        day = start.date()
        while day <= end.date():
            if self.is_working_day(day):
                for period_start, period_end in self.periods:
                    opens = max(start, datetime.combine(day, period_start))
                    closes = min(end, datetime.combine(day, period_end))
                    if closes > opens:
                        seconds += (closes - opens).total_seconds()
            day += timedelta(days=1)
        return seconds / 3600

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """The instant at which ``hours`` working hours have passed since ``start``: a start
        outside working time waits for the next working period, and a span that ends just
        as a period closes ends there (12:00, not 14:00)."""
        if hours < 0:
            raise ValueError(f"working hours must not be negative, got {hours}")
        remaining = timedelta(hours=hours)
        if not remaining:
            return start
        day = start.date()
        while True:
            if self.is_working_day(day):
                for period_start, period_end in self.periods:
                    opens = max(start, datetime.combine(day, period_start))
                    closes = datetime.combine(day, period_end)
                    if closes <= opens:
                        continue
                    if opens + remaining <= closes:
                        return opens + remaining
                    remaining -= closes - opens
            day += timedelta(days=1)


def _seconds(start: time, end: time) -> float:
    return (datetime.combine(date.min, end) - datetime.combine(date.min, start)).total_seconds()


def check_periods(periods: tuple[tuple[time, time], ...], where: str) -> None:
    """Working periods must be non-empty, each start before its end, in order, not overlapping."""
    if not periods:
        raise WorkingTimeError(f"{where}: no working periods")
    previous_end = None
    for start, end in periods:
        if not start < end:
            raise WorkingTimeError(f"{where}: period {start:%H:%M}–{end:%H:%M} does not end after it starts")
        if previous_end is not None and start < previous_end:
            raise WorkingTimeError(
                f"{where}: period {start:%H:%M}–{end:%H:%M} starts before the previous one ends "
                f"({previous_end:%H:%M}); list periods in order without overlap"
            )
        previous_end = end


def parse_period(text: str, where: str) -> tuple[time, time]:
    """``"09:00-12:00"`` (a hyphen or an en dash) as a (start, end) pair."""
    parts = text.replace("–", "-").split("-")
    try:
        start, end = (time.fromisoformat(p.strip()) for p in parts)
    except ValueError:
        raise WorkingTimeError(f"{where}: {text!r} is not a period like 09:00-12:00") from None
    return start, end


def read_calendar(path: Path | str = HOLIDAYS_FILE) -> WorkingCalendar:
    """The working-day calendar of the holiday reference at ``path`` (default working periods)."""
    path = Path(path)
    holidays, workdays, years = set(), set(), set()
    try:
        handle = path.open(encoding="utf-8", newline="")
    except OSError as error:
        raise WorkingTimeError(f"{path}: cannot read the holiday reference ({error.strerror})") from None
    with handle:
        reader = csv.DictReader(handle)
        missing = {"calendar_date", "day_type"} - set(reader.fieldnames or ())
        if missing:
            raise WorkingTimeError(f"{path}: missing columns {sorted(missing)}")
        for line, row in enumerate(reader, start=2):
            try:
                day = date.fromisoformat(row["calendar_date"])
            except (TypeError, ValueError):
                raise WorkingTimeError(
                    f"{path}, line {line}, calendar_date: {row['calendar_date']!r} is not a date YYYY-MM-DD"
                ) from None
            if row["day_type"] not in DAY_TYPES:
                raise WorkingTimeError(
                    f"{path}, line {line}, day_type: {row['day_type']!r} is not one of {DAY_TYPES}"
                )
            if day in holidays or day in workdays:
                raise WorkingTimeError(f"{path}, line {line}, calendar_date: {day} is listed twice")
            (holidays if row["day_type"] == "holiday" else workdays).add(day)
            years.add(day.year)
    if not years:
        raise WorkingTimeError(f"{path}: no days listed")
    return WorkingCalendar(
        frozenset(holidays),
        frozenset(workdays),
        first_day=date(min(years), 1, 1),
        last_day=date(max(years) + 1, 12, 31),
        source=str(path),
    )


@cache
def default_calendar() -> WorkingCalendar:
    """The calendar of the shipped holiday reference, read once."""
    return read_calendar(HOLIDAYS_FILE)

"""The intake service's clock: the wall clock of the district, or a simulated day for the demo.

The governance system stores local wall-clock times (``timestamp without time zone``), so a
request's ``reported_at`` is the jurisdiction's local time without an offset. For the demo,
a simulated day D makes the clock walk through D: the n-th request accepted on D is
stamped D 08:00 + n minutes (the last minute of D once the day is full), so the demo's
daily run for D finds the posts in its window whenever they were really sent.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

SIMULATED_START = time(8, 0)
SIMULATED_STEP = timedelta(minutes=1)


class WallClock:
    """The local time of ``timezone`` (e.g. ``Asia/Shanghai``), without its offset."""

    def __init__(self, timezone: str):
        self.timezone = ZoneInfo(timezone)

    def now(self) -> datetime:
        return datetime.now(self.timezone).replace(tzinfo=None, microsecond=0)

    def accepted(self) -> None:
        """Nothing to do: the wall clock walks by itself."""


class SimulatedDayClock:
    """Walks through ``day``: ``start`` + ``step`` per accepted request, ``accepted_before`` already.

    ``accepted_before`` may be a function, asked at the first request: the service then starts
    before the governance system has its tables (the demo starts it before the first run).
    """

    def __init__(
        self,
        day: date,
        accepted_before: int | Callable[[], int] = 0,
        start: time = SIMULATED_START,
        step: timedelta = SIMULATED_STEP,
    ):
        self.day, self.step = day, step
        self._accepted_before = accepted_before
        self._count: int | None = accepted_before if isinstance(accepted_before, int) else None
        self.first = datetime.combine(day, start)
        self.last = datetime.combine(day, time(23, 59))

    @property
    def count(self) -> int:
        if self._count is None:
            self._count = self._accepted_before()
        return self._count

    def now(self) -> datetime:
        return min(self.first + self.count * self.step, self.last)

    def accepted(self) -> None:
        self._count = self.count + 1

"""Simulated weather warnings (预警信号) as the district's command system receives them from the
meteorological service, written to ``governance.weather_warnings``
(:data:`civiclake.contracts.governance.WEATHER_WARNINGS`).

A few warnings a month, drawn from a generator seeded by ``(seed, month)``: the kind by
season (rainstorms and typhoons in the wet season, heat in summer, cold in winter), the
level mostly blue or yellow, now and then orange or red, for the whole district or for one
street, lifted a few hours to a day and a half after issue. Besides the drawn ones, the demo
day (:data:`DEMO_DAY`) has an orange rainstorm warning over one street, so that a plan
started by a rainstorm warning (civiclake/reference/operations/plans) starts in the demo.

Simulating day D writes every warning issued before D+1 00:00 in D's month and the month
before, as it stands at the end of D: lifted where its lift lies before D+1 00:00, else
still in force. Writes are upserts guarded by ``updated_at``, so simulating a day twice,
or an earlier day after a later one, never rolls a row back; no row carries a time the
ingest of D would refuse as future.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import psycopg

from civiclake.contracts.governance import WARNING_KINDS, WARNING_LEVELS, WEATHER_WARNINGS
from civiclake.geography import Geography, load_geography
from civiclake.settings import Settings
from simulators.governance import ensure_schema
from simulators.source_db import upsert_sql

log = logging.getLogger(__name__)

WARNINGS_PER_MONTH = (2, 3, 4)
LEVEL_WEIGHTS = (45, 35, 15, 5)  # blue, yellow, orange, red
DISTRICT_WIDE_SHARE = 0.6  # the rest name one street
LIFT_AFTER_HOURS = (3.0, 36.0)
# Kind weights by month (Shenzhen's climate, roughly): the wet season April–September brings
# rainstorms and thunderstorm gales, typhoons July–October, heat June–September, cold
# December–February, fog and haze in the dry months, forest-fire danger in the dry autumn
# and winter.
_BASE = {kind: 0 for kind in WARNING_KINDS} | {"rainstorm": 1, "fog": 1, "haze": 1}
_SEASON = {
    1: {"cold": 5, "fog": 3, "haze": 3, "forest_fire": 2},
    2: {"cold": 4, "fog": 4, "haze": 2, "forest_fire": 2},
    3: {"fog": 4, "thunderstorm_gale": 2, "hail": 1},
    4: {"rainstorm": 5, "thunderstorm_gale": 4, "hail": 1},
    5: {"rainstorm": 8, "thunderstorm_gale": 5},
    6: {"rainstorm": 9, "thunderstorm_gale": 5, "high_temperature": 4},
    7: {"rainstorm": 7, "typhoon": 5, "high_temperature": 6, "thunderstorm_gale": 4},
    8: {"rainstorm": 7, "typhoon": 6, "high_temperature": 6, "thunderstorm_gale": 4},
    9: {"rainstorm": 5, "typhoon": 5, "high_temperature": 4},
    10: {"typhoon": 3, "forest_fire": 2, "haze": 2},
    11: {"haze": 3, "forest_fire": 3},
    12: {"cold": 5, "haze": 3, "forest_fire": 3},
}
# The demo's warning (infra/demo.sh runs this day): orange rainstorm over the street named
# DEMO_STREET_NAME (looked up by name, so it follows the geography's codes).
DEMO_DAY = date(2026, 11, 25)
DEMO_STREET_NAME = "民治街道"
DEMO_ISSUED = time(6, 30)
DEMO_LIFTED = time(15, 0)


@dataclass(frozen=True)
class Warning:
    warning_id: str
    kind: str
    level: str
    district_code: str
    street_code: str | None
    issued_at: datetime
    lifted_after: timedelta  # from issue to lift

    @property
    def lifted_at(self) -> datetime:
        return self.issued_at + self.lifted_after

    def row_at(self, end: datetime) -> tuple:
        """The row as the command system holds it just before ``end`` (a tuple in the
        contract's field order)."""
        lifted = self.lifted_at if self.lifted_at < end else None
        updated = lifted or self.issued_at
        return (
            self.warning_id,
            self.kind,
            self.level,
            self.district_code,
            self.street_code,
            self.issued_at,
            lifted,
            updated,
        )


def _kind_weights(month: int) -> list[float]:
    weights = _BASE | _SEASON[month]
    return [weights[kind] for kind in WARNING_KINDS]


def warnings_of_month(year: int, month: int, seed: int, geography: Geography | None = None) -> list[Warning]:
    """The warnings issued in ``year``-``month``, in issue order (the demo's among them)."""
    geography = geography or load_geography()
    rng = random.Random(f"weather-{seed}-{year:04d}-{month:02d}")
    first = date(year, month, 1)
    days = ((first.replace(day=28) + timedelta(days=4)).replace(day=1) - first).days
    streets = sorted(geography.streets)
    drawn = []
    for n in range(rng.choice(WARNINGS_PER_MONTH)):
        issued = datetime.combine(first + timedelta(days=rng.randrange(days)), time()) + timedelta(
            minutes=rng.randrange(24 * 60)
        )
        street = None if rng.random() < DISTRICT_WIDE_SHARE else rng.choice(streets)
        drawn.append(
            Warning(
                warning_id=f"WW{year:04d}{month:02d}{n + 1:02d}",
                kind=rng.choices(WARNING_KINDS, weights=_kind_weights(month))[0],
                level=rng.choices(WARNING_LEVELS, weights=LEVEL_WEIGHTS)[0],
                district_code=geography.district.code,
                street_code=street,
                issued_at=issued,
                lifted_after=timedelta(hours=rng.uniform(*LIFT_AFTER_HOURS)),
            )
        )
    if (year, month) == (DEMO_DAY.year, DEMO_DAY.month):
        drawn.append(demo_warning(geography))
    return sorted(drawn, key=lambda w: (w.issued_at, w.warning_id))


def demo_warning(geography: Geography | None = None) -> Warning:
    geography = geography or load_geography()
    (street,) = [code for code, area in geography.streets.items() if area.name == DEMO_STREET_NAME]
    issued = datetime.combine(DEMO_DAY, DEMO_ISSUED)
    return Warning(
        warning_id=f"WW{DEMO_DAY:%Y%m%d}D1",
        kind="rainstorm",
        level="orange",
        district_code=geography.district.code,
        street_code=street,
        issued_at=issued,
        lifted_after=datetime.combine(DEMO_DAY, DEMO_LIFTED) - issued,
    )


def rows_as_of(day: date, seed: int, geography: Geography | None = None) -> list[tuple]:
    """The rows of the warnings issued before the end of ``day`` in its month and the month
    before, each as it stands at the end of ``day``."""
    end = datetime.combine(day + timedelta(days=1), time())
    previous = day.replace(day=1) - timedelta(days=1)
    months = [(previous.year, previous.month), (day.year, day.month)]
    return [
        w.row_at(end)
        for year, month in months
        for w in warnings_of_month(year, month, seed, geography)
        if w.issued_at < end
    ]


def simulate_day(day: date, settings: Settings) -> int:
    """Writes the warnings as they stand at the end of ``day``; returns the rows written."""
    rows = rows_as_of(day, settings.seed)
    with psycopg.connect(settings.pg_conninfo(), autocommit=False) as conn:
        ensure_schema(conn)
        with conn.cursor() as cur:
            cur.executemany(upsert_sql(WEATHER_WARNINGS), rows)
        conn.commit()
    log.info("simulated weather warnings as of the end of %s: %d rows", day, len(rows))
    return len(rows)

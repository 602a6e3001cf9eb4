"""Simulator of the governance case system (基层治理), writing to its PostgreSQL database.

Deterministic by seed and date: every case reported on a day X has a plan drawn from a
generator seeded by ``(seed, X)``: its lifecycle as a list of events — created →
dispatched → accepted → handled → fed back → closed, with some cases transferred to
another department, returned for rework, closed without feedback to the resident, or
reopened after closing. A case fed back carries the department's answer
(``feedback_text``); a closure without feedback leaves it empty.
Besides its own cases, a day holds residents' reports of problems the city-management
system also records (``simulators.city.resident_echoes``): the cross-channel duplicates
of a real district, listed by ``echo_pairs``; and of problems a street camera recorded
(``simulators.cameras.resident_echoes``).
Simulating day D writes, for each case reported in the last ``LIFECYCLE_DAYS`` days,
its state as of the end of D — new cases, and older ones whose status changed on D —
into ``governance.cases``, and the events of D into the append-only
``governance.case_events``. Writes are upserts guarded by ``updated_at`` (events by their
id), so simulating a day twice, or an earlier day after a later one, never changes or
rolls back a row.
"""

from __future__ import annotations

import functools
import logging
import math
import random
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import NamedTuple

import psycopg

from civiclake.catalogue import CATEGORIES, CATEGORY_BY_CODE, CHANNELS
from civiclake.contracts.governance import CASE_EVENTS, CASES, CONTRACTS, GRID_WORKERS
from civiclake.geography import Geography, load_geography
from civiclake.settings import Settings
from simulators import cameras, city
from simulators.case_text import compose, feedback
from simulators.people import Resident, make_resident, resident_pool
from simulators.source_db import ensure_tables, insert_sql, upsert_sql

log = logging.getLogger(__name__)
_residents = functools.cache(resident_pool)  # the same pool for every day of a seed

LIFECYCLE_DAYS = 30  # a case's plan ends at most this many days after it is reported
# Share of appeals arriving in each hour of the day (sums to 1).
_HOURLY = [1, 0.5, 0.3, 0.3, 0.3, 0.6, 1.5, 3, 6, 8, 8, 7, 5, 5, 7, 7.5, 7, 6.5, 5, 4.5, 4, 3.5, 2.5, 1.8]
HOURLY_PROFILE = [h / sum(_HOURLY) for h in _HOURLY]
WEEKDAY_FACTOR = (1.1, 1.05, 1.0, 1.0, 1.05, 0.8, 0.7)
CHANNEL_WEIGHTS = (0.25, 0.35, 0.25, 0.15)
# The channels a resident (not a grid worker) reports through, for the echoes of city cases.
RESIDENT_CHANNELS = CHANNELS[:3]
# Shares of cases that take a detour through their lifecycle.
TRANSFER_SHARE = 0.08  # sent to the wrong department first, transferred on
REWORK_SHARE = 0.06  # handling rejected by the community, returned for rework
REOPEN_SHARE = 0.04  # closed, then reopened by the resident
# Closures with no feedback to the resident before them (有解决必反馈 missed): the resident
# could not be reached, or the handler closed the case straight after handling. The
# district assesses the feedback rate because this happens; a few in a hundred (an
# assumption, not a measured figure) leaves the rate visibly below 1 at every level
# without making the miss the rule. Drawn for each closure, a reopened case's first one too.
CLOSED_WITHOUT_FEEDBACK_SHARE = 0.05
SATISFACTION = (1, 2, 3, 4, 5)
SATISFACTION_WEIGHTS = (3, 4, 10, 33, 50)
WORKER_CHANGE_SHARE = 0.01  # grids whose worker is replaced on a given day
ROSTER_START = date(2025, 1, 1)  # the roster as it stood when the grids were drawn

# Indexes the extraction reads by, and the simulator's ledger (created after the tables).
_INDEXES_AND_LEDGER = """
create index if not exists cases_updated_at on governance.cases (updated_at);
create index if not exists case_events_recorded_at on governance.case_events (recorded_at);
create index if not exists case_events_case_id on governance.case_events (case_id);
create index if not exists grid_workers_updated_at on governance.grid_workers (updated_at);
create index if not exists dispatch_orders_updated_at on governance.dispatch_orders (updated_at);
create index if not exists dispatch_orders_case_id on governance.dispatch_orders (case_id);
-- The simulator's own ledger of the days it has written (not part of the real system).
create table if not exists governance.simulated_days (
    day          date primary key,
    rows_written integer not null
);
"""
_UPSERT = upsert_sql(CASES)
_INSERT_EVENT = insert_sql(CASE_EVENTS)
_UPSERT_WORKER = upsert_sql(GRID_WORKERS)


class CaseRow(NamedTuple):
    """A row of ``governance.cases`` as the source system holds it (the contract's field order)."""

    case_id: str
    channel: str
    category: str
    department: str
    description: str
    community_code: str
    grid_code: str
    lon: float
    lat: float
    reporter_name: str | None
    reporter_phone: str | None
    reporter_id_number: str | None
    reported_at: datetime
    dispatched_at: datetime | None
    closed_at: datetime | None
    status: str
    satisfaction: int | None
    updated_at: datetime
    accepted_at: datetime | None
    handled_at: datetime | None
    fed_back_at: datetime | None
    feedback_text: str | None
    asset_id: str | None


class CaseEvent(NamedTuple):
    """A row of ``governance.case_events``: the case entered ``event_type`` at ``occurred_at``."""

    event_id: str
    case_id: str
    seq: int
    event_type: str
    department: str
    occurred_at: datetime
    recorded_at: datetime


@dataclass(frozen=True)
class CasePlan:
    case_id: str
    channel: str
    category: str
    description: str
    community_code: str
    grid_code: str
    lon: float
    lat: float
    reporter: Resident | None
    reported_at: datetime
    dispatched_at: datetime
    handled_at: datetime
    closed_at: datetime | None  # None: still open at the end of the plan
    satisfaction: int | None
    seed: int = 0
    community_name: str = ""  # named in the department's answer
    echo_of: str | None = None  # the city case (or camera clip) whose problem this resident reports too
    asset_id: str | None = None  # a manhole case: the cover of the city register it is at

    @property
    def text_as_written(self) -> str:
        """The description as the reporter left it: about one in eight reporters add their
        mobile number, as residents do, so that extraction has numbers to replace by tokens
        (decided by the case id, not the shared generator, so the plan itself is unchanged)."""
        if self.reporter is None or zlib.crc32(self.case_id.encode()) % 8:
            return self.description
        return f"{self.description}（联系电话{self.reporter.mobile}）"

    @property
    def events(self) -> tuple[tuple[str, datetime, str], ...]:
        """The lifecycle as (event_type, time, responsible department), in time order.

        Detours are drawn from a generator of the case's own, so the main plan (and the
        numbers that depend on it) is the same with or without them.
        """
        return _lifecycle(self)

    def state_at(self, moment: datetime) -> CaseRow | None:
        """The source row as it stood at ``moment`` (None before the case existed)."""
        if moment < self.reported_at:
            return None
        happened = [e for e in self.events if e[1] <= moment]
        status, updated_at, department = happened[-1]

        def last(kind: str) -> datetime | None:
            times = [t for k, t, _ in happened if k == kind]
            return times[-1] if times else None

        # A reopened case is open again: its earlier close no longer stands.
        closed = last("closed") if status == "closed" else None
        answers = sum(1 for k, _, _ in happened if k == "fed_back")
        r = self.reporter
        return CaseRow(
            self.case_id,
            self.channel,
            self.category,
            department,
            self.text_as_written,
            self.community_code,
            self.grid_code,
            self.lon,
            self.lat,
            r.name if r else None,
            r.mobile if r else None,
            r.id_number if r else None,
            self.reported_at,
            last("dispatched"),
            closed,
            status,
            self.satisfaction if closed else None,
            updated_at,
            last("accepted"),
            last("handled"),
            last("fed_back"),
            self.feedback_text(answers, department) if answers else None,
            self.asset_id,
        )

    def feedback_text(self, n: int, department: str) -> str:
        """The department's ``n``-th answer to the resident (a reopened case gets a second);
        drawn from a generator of the case's own, so the plan is the same with or without it."""
        rng = random.Random(f"feedback-{self.seed}-{self.case_id}-{n}")
        category = CATEGORY_BY_CODE[self.category]
        on = f"{self.reported_at.month}月{self.reported_at.day}日"
        return feedback(rng, category.code, category.name, department, self.community_name, on)

    def events_between(self, start: datetime, end: datetime) -> list[CaseEvent]:
        """Status-history rows of the events in [start, end]."""
        return [
            CaseEvent(f"{self.case_id}-{seq:02d}", self.case_id, seq, kind, department, at, at)
            for seq, (kind, at, department) in enumerate(self.events, start=1)
            if start <= at <= end
        ]


def _lifecycle(plan: CasePlan) -> tuple[tuple[str, datetime, str], ...]:
    rng = random.Random(f"lifecycle-{plan.seed}-{plan.case_id}")
    home = CATEGORY_BY_CODE[plan.category].department
    departments = sorted({c.department for c in CATEGORIES} - {home})
    first_department = rng.choice(departments) if rng.random() < TRANSFER_SHARE else home
    rework = rng.random() < REWORK_SHARE
    # Only a case closed some time after its handling can be closed, reopened and closed again.
    reopen = plan.closed_at is not None and rng.random() < REOPEN_SHARE and plan.closed_at > plan.handled_at

    def between(a: datetime, b: datetime, share: float) -> datetime:
        return a + (b - a) * share

    events = [("created", plan.reported_at, home), ("dispatched", plan.dispatched_at, first_department)]
    accepted_at = between(plan.dispatched_at, plan.handled_at, 0.2)
    if first_department != home:
        transferred_at = between(plan.dispatched_at, accepted_at, 0.5)
        events += [("transferred", transferred_at, home), ("dispatched", transferred_at, home)]
    events.append(("accepted", accepted_at, home))
    handled_at = plan.handled_at
    if rework:
        # Handled once, returned by the community, handled again before feedback.
        first_handled = between(accepted_at, plan.handled_at, 0.5)
        events += [
            ("handled", first_handled, home),
            ("returned", between(first_handled, plan.handled_at, 0.3), home),
        ]
    events.append(("handled", handled_at, home))
    if plan.closed_at is None:
        return tuple(events)

    def close(fed_back_at: datetime, closed_at: datetime) -> list[tuple[str, datetime, str]]:
        # Drawn after the detours above, so that they are the same with or without misses.
        if rng.random() < CLOSED_WITHOUT_FEEDBACK_SHARE:
            return [("closed", closed_at, home)]
        return [("fed_back", fed_back_at, home), ("closed", closed_at, home)]

    if reopen:
        # Closed once (fed back or not), reopened by the resident, finally closed at the plan's end.
        span = plan.closed_at - handled_at
        events += close(handled_at + span * 0.2, handled_at + span * 0.3)
        events += [("reopened", handled_at + span * 0.5, home), ("handled", handled_at + span * 0.7, home)]
        handled_at = handled_at + span * 0.7
    events += close(between(handled_at, plan.closed_at, 0.5), plan.closed_at)
    return tuple(events)


def _community_weights(seed: int, geography: Geography) -> dict[str, float]:
    rng = random.Random(f"community-weights-{seed}")
    return {code: rng.uniform(0.4, 2.2) for code in sorted(geography.communities)}


def _category_weights(seed: int, community_code: str) -> list[float]:
    rng = random.Random(f"category-weights-{seed}-{community_code}")
    return [rng.uniform(0.5, 1.5) * base for base in (14, 8, 10, 13, 8, 4, 9, 5, 6, 12)]


@functools.cache
def _covers_by_community(seed: int, scale: float) -> dict[str, list[city.Cover]]:
    by_community: dict[str, list[city.Cover]] = {}
    for cover in city.cover_register(Settings(seed=seed, sim_scale=scale)):
        by_community.setdefault(cover.community_code, []).append(cover)
    return by_community


def cover_of_case(settings: Settings, case_id: str, community_code: str) -> city.Cover | None:
    """The cover of the city register a resident's manhole case is about: one of its community's,
    drawn from a generator of the case's own (None: the register has no cover there)."""
    covers = _covers_by_community(settings.seed, settings.sim_scale).get(community_code)
    if not covers:
        return None
    return random.Random(f"case-cover-{settings.seed}-{case_id}").choice(covers)


def cases_reported_on(day: date, settings: Settings, geography: Geography | None = None) -> list[CasePlan]:
    """Plans of every case reported on ``day`` (same list for the same seed and day)."""
    geography = geography or load_geography()
    rng = random.Random(f"cases-{settings.seed}-{day.isoformat()}")
    mean = settings.sim_cases_per_day * WEEKDAY_FACTOR[day.weekday()]
    count = max(0, round(rng.gauss(mean, math.sqrt(mean))))
    residents = _residents(settings.seed, 4000)
    weights = _community_weights(settings.seed, geography)
    communities = list(weights)
    plans = []
    start = datetime.combine(day, time())
    for n in range(count):
        community_code = rng.choices(communities, weights=[weights[c] for c in communities])[0]
        category = rng.choices(CATEGORIES, weights=_category_weights(settings.seed, community_code))[0]
        grid = rng.choice(geography.grids_of(community_code))
        lon = round(rng.uniform(grid.box.min_lon, grid.box.max_lon - 1e-6), 6)
        lat = round(rng.uniform(grid.box.min_lat, grid.box.max_lat - 1e-6), 6)
        hour = rng.choices(range(24), weights=HOURLY_PROFILE)[0]
        reported_at = start + timedelta(hours=hour, seconds=rng.randint(0, 3599))
        dispatched_at, handled_at, closed_at = _timeline(rng, category.code, reported_at)
        case_id = f"GC{day:%Y%m%d}{n:06d}"
        grid_code, asset_id = grid.code, None
        cover = cover_of_case(settings, case_id, community_code) if category.code == "manhole" else None
        if cover is not None:  # the case is at the cover
            grid_code, lon, lat, asset_id = cover.grid_code, cover.lon, cover.lat, cover.asset_id
        plans.append(
            CasePlan(
                case_id=case_id,
                channel=rng.choices(CHANNELS, weights=CHANNEL_WEIGHTS)[0],
                category=category.code,
                description=compose(rng, category.code, geography.communities[community_code].name),
                community_code=community_code,
                grid_code=grid_code,
                lon=lon,
                lat=lat,
                reporter=None if rng.random() < 0.15 else rng.choice(residents),
                reported_at=reported_at,
                dispatched_at=dispatched_at,
                handled_at=handled_at,
                closed_at=closed_at,
                satisfaction=rng.choices(SATISFACTION, weights=SATISFACTION_WEIGHTS)[0],
                seed=settings.seed,
                community_name=geography.communities[community_code].name,
                asset_id=asset_id,
            )
        )
    echoes = [(echo.city_case_id, echo) for echo in city.resident_echoes(day, settings, geography)]
    echoes += [(echo.echo_of, echo) for echo in cameras.resident_echoes(day, settings, geography)]
    for n, (echo_of, echo) in enumerate(echoes, start=count):
        plans.append(_echo_plan(f"GC{day:%Y%m%d}{n:06d}", echo_of, echo, settings.seed, geography, residents))
    return plans


def _timeline(rng: random.Random, category: str, reported_at: datetime):
    """When a case reported at ``reported_at`` is dispatched, handled and closed (None: still
    open at the end of its plan)."""
    dispatched_at = reported_at + timedelta(minutes=rng.lognormvariate(3.2, 0.9))
    handled_at = dispatched_at + timedelta(hours=rng.lognormvariate(2.5, 1.1))
    sla_hours = CATEGORY_BY_CODE[category].sla_days * 24
    closed_at = None
    if rng.random() > 0.06:  # a few cases stay open past the simulated lifecycle
        close_hours = min(rng.lognormvariate(math.log(sla_hours * 0.5), 0.8), LIFECYCLE_DAYS * 24 - 1)
        closed_at = max(handled_at, reported_at + timedelta(hours=close_hours))
        if closed_at > reported_at + timedelta(days=LIFECYCLE_DAYS):
            closed_at = None
    return dispatched_at, handled_at, closed_at


def _echo_plan(
    case_id: str,
    echo_of: str,
    echo: city.Echo | cameras.CameraEcho,
    seed: int,
    geography: Geography,
    residents: list[Resident],
) -> CasePlan:
    """A resident's own report of the problem of ``echo``'s city case or camera clip
    (``echo_of``), a case like any other."""
    rng = random.Random(f"echo-case-{seed}-{echo_of}")
    community_name = geography.communities[echo.community_code].name
    dispatched_at, handled_at, closed_at = _timeline(rng, echo.governance_category, echo.reported_at)
    return CasePlan(
        case_id=case_id,
        channel=rng.choices(RESIDENT_CHANNELS, weights=CHANNEL_WEIGHTS[:3])[0],
        category=echo.governance_category,
        description=compose(rng, echo.governance_category, community_name),
        community_code=echo.community_code,
        grid_code=echo.grid_code,
        lon=echo.lon,
        lat=echo.lat,
        reporter=rng.choice(residents),
        reported_at=echo.reported_at,
        dispatched_at=dispatched_at,
        handled_at=handled_at,
        closed_at=closed_at,
        satisfaction=rng.choices(SATISFACTION, weights=SATISFACTION_WEIGHTS)[0],
        seed=seed,
        community_name=community_name,
        echo_of=echo_of,
        # The resident reports the cover a city case is about (a camera clip names no cover).
        asset_id=echo.asset_id if isinstance(echo, city.Echo) else None,
    )


class EchoPair(NamedTuple):
    """A city case and the governance case a resident made of the same problem."""

    city_case_id: str
    governance_case_id: str
    category: str  # the governance category (the catalogue's)
    city_reported_at: datetime
    governance_reported_at: datetime
    distance_m: float


def echo_pairs(day: date, settings: Settings, geography: Geography | None = None) -> list[EchoPair]:
    """The cross-channel duplicates among the cases reported on ``day``: what the funnel's
    duplicate linking should find (and a reconciliation can count)."""
    geography = geography or load_geography()
    echoes = {e.city_case_id: e for e in city.resident_echoes(day, settings, geography)}
    return [
        EchoPair(
            plan.echo_of,
            plan.case_id,
            plan.category,
            echoes[plan.echo_of].city_reported_at,
            plan.reported_at,
            echoes[plan.echo_of].distance_m,
        )
        for plan in cases_reported_on(day, settings, geography)
        if plan.echo_of in echoes
    ]


def _recent_plans(day: date, settings: Settings, geography: Geography | None, plans_cache: dict | None):
    plans_cache = {} if plans_cache is None else plans_cache
    for offset in range(LIFECYCLE_DAYS, -1, -1):
        reported_day = day - timedelta(days=offset)
        if reported_day not in plans_cache:
            plans_cache[reported_day] = cases_reported_on(reported_day, settings, geography)
        yield from plans_cache[reported_day]


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    day_start = datetime.combine(day, time())
    return day_start, day_start + timedelta(days=1) - timedelta(microseconds=1)


def rows_changed_on(
    day: date,
    settings: Settings,
    geography: Geography | None = None,
    plans_cache: dict | None = None,
    *,
    backlog: bool = False,
) -> Iterable[CaseRow]:
    """Source rows as of the end of ``day`` for every case that was created or changed on it.

    With ``backlog``, every case of the last ``LIFECYCLE_DAYS`` days as it stands at the
    end of ``day`` (what a source system already holds when the simulation starts).
    """
    day_start, day_end = _day_bounds(day)
    for plan in _recent_plans(day, settings, geography, plans_cache):
        row = plan.state_at(day_end)
        if row is not None and (backlog or row.updated_at >= day_start):
            yield row


def events_on(
    day: date,
    settings: Settings,
    geography: Geography | None = None,
    plans_cache: dict | None = None,
    *,
    backlog: bool = False,
) -> Iterable[CaseEvent]:
    """Status-history rows of the events that happened on ``day`` (with ``backlog``: up to it)."""
    day_start, day_end = _day_bounds(day)
    since = datetime.min if backlog else day_start
    for plan in _recent_plans(day, settings, geography, plans_cache):
        yield from plan.events_between(since, day_end)


class WorkerRow(NamedTuple):
    """A row of ``governance.grid_workers``: who is on duty in a grid."""

    grid_code: str
    worker_id: str
    worker_name: str
    worker_phone: str
    on_duty_since: date
    updated_at: datetime


def _worker_changes(seed: int, grid_code: str, day: date) -> bool:
    return random.Random(f"worker-change-{seed}-{grid_code}-{day}").random() < WORKER_CHANGE_SHARE


def grid_worker(seed: int, grid_code: str, day: date) -> WorkerRow:
    """The worker on duty in ``grid_code`` at the end of ``day``: the roster changes on
    about 1% of days per grid, each change bringing a new person."""
    since = day
    while since > ROSTER_START and not _worker_changes(seed, grid_code, since):
        since -= timedelta(days=1)
    person = make_resident(random.Random(f"worker-{seed}-{grid_code}-{since}"))
    changed_at = datetime.combine(since, time(8, 30))
    return WorkerRow(grid_code, f"W{grid_code}-{since:%Y%m%d}", person.name, person.mobile, since, changed_at)


def workers_changed_on(
    day: date, settings: Settings, geography: Geography | None = None, *, backlog: bool = False
) -> list[WorkerRow]:
    """Roster rows changed on ``day`` (with ``backlog``: the whole roster at the end of it)."""
    geography = geography or load_geography()
    grids = sorted(geography.grids)
    if not backlog:
        grids = [g for g in grids if _worker_changes(settings.seed, g, day)]
    return [grid_worker(settings.seed, g, day) for g in grids]


def ensure_schema(conn: psycopg.Connection) -> None:
    """Creates the schema and its tables, or brings tables of an older simulator up to the contracts."""
    conn.execute("create schema if not exists governance")
    ensure_tables(conn, CONTRACTS)
    conn.execute(_INDEXES_AND_LEDGER)


def _simulated_days(conn: psycopg.Connection) -> set[date]:
    return {row[0] for row in conn.execute("select day from governance.simulated_days").fetchall()}


def simulate_day(day: date, settings: Settings, history_days: int = 0) -> int:
    """Writes ``day`` into the source database, after the ``history_days`` before it.

    A history day the simulator has written before (its ledger says so) is left alone;
    ``day`` itself is always written. An empty source first gets the backlog of
    cases reported in the ``LIFECYCLE_DAYS`` before its first day, as a live system would
    have. Returns the rows written for ``day``.
    """
    geography = load_geography()
    written = 0
    plans_cache: dict[date, list[CasePlan]] = {}
    with psycopg.connect(settings.pg_conninfo(), autocommit=False) as conn:
        ensure_schema(conn)
        done = _simulated_days(conn)
        empty = not done
        for offset in range(history_days, -1, -1):
            current = day - timedelta(days=offset)
            if offset > 0 and current in done:
                continue
            rows = list(rows_changed_on(current, settings, geography, plans_cache, backlog=empty))
            events = list(events_on(current, settings, geography, plans_cache, backlog=empty))
            workers = workers_changed_on(current, settings, geography, backlog=empty)
            empty = False
            with conn.cursor() as cur:
                cur.executemany(_UPSERT, rows)
                cur.executemany(_INSERT_EVENT, events)
                cur.executemany(_UPSERT_WORKER, workers)
                cur.execute(
                    "insert into governance.simulated_days values (%s, %s) "
                    "on conflict (day) do update set rows_written = excluded.rows_written",
                    (current, len(rows)),
                )
            conn.commit()
            log.info(
                "simulated governance cases for %s: %d rows created or changed, %d events, "
                "%d grid-worker changes",
                current,
                len(rows),
                len(events),
                len(workers),
            )
            if current == day:
                written = len(rows)
    return written

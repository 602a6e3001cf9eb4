"""Simulator of the city-management system (智慧城管), writing to its PostgreSQL database.

Four tables in schema ``city``: city-management cases, the manhole-cover asset register
(owner department, or NULL where nobody has claimed the cover), repair records with the
state of their cost settlement, and the settlement's events. Under 先修后定 ("repair first,
settle later") the settlement walks the steps of civiclake/manholes/settlement.py: the
registered owner claims the repair, the cost is recovered from it and settled (some stop
on the way); a cover without a known owner is claimed by a department now and then (the
register learns its owner), otherwise its street bears the cost when the daily run would
(``street_bears_after_days`` after the repair, at the close of that day).

Like the governance simulator it is deterministic by seed and date: the cases reported on
a day X, and the repairs they cause, are planned from a generator seeded by ``(seed, X)``;
simulating day D writes every row whose state changed on D (as of the end of D). Writes
are upserts guarded by ``updated_at`` and a ledger records the days written, so
simulating a day twice changes nothing.

Some of the problems a patrol, a camera or a 12345 caller reports are also reported by a
resident through the governance system (找书记, 12345, the mini program): the same parking,
pothole, cover, garbage or stall, a few metres away and a few hours earlier or later.
``resident_echoes`` plans those second reports from this simulator's own plans, so the
governance simulator draws them without reading this one's database and the funnel's
duplicate linking has real cross-channel pairs to find.
"""

from __future__ import annotations

import functools
import logging
import math
import random
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import psycopg

from civiclake.contracts import city
from civiclake.geography import Geography, load_geography
from civiclake.manholes import settlement
from civiclake.manholes.records import DAILY_ACTOR
from civiclake.manholes.settlement import Repair, Step
from civiclake.settings import Settings
from simulators.people import Resident, resident_pool
from simulators.source_db import ensure_tables, insert_sql, upsert_sql

log = logging.getLogger(__name__)
_residents = functools.cache(resident_pool)  # the same pool for every day of a seed

LIFECYCLE_DAYS = 30  # a case's plan, repair and settlement included, ends within this many days
CASES_PER_DAY_FULL_SCALE = 3000
COVERS_FULL_SCALE = 120_000
UNKNOWN_OWNER_SHARE = 0.08
COVER_OWNERS = ("水务局", "供电局", "燃气集团", "通信管道公司", "城市管理和综合执法局", "交通运输局")
# The settlement's course (assumptions giving the ledger every state): a department claims a
# cover nobody owned in this share of its repairs; of the claimed repairs this share gets its
# cost recovered, of those this share is settled; a recovery is partial this often.
CLAIM_UNKNOWN_SHARE = 0.4
RECOVERED_SHARE = 0.75
SETTLED_SHARE = 0.8
PARTIAL_RECOVERY_SHARE = 0.15
SETTLEMENT_CLERK = "城管结算专员"  # the actor the simulated system records for the owners' steps
CATEGORY_NAMES = {code: name for name, code in city.CATEGORIES.items()}
CATEGORY_WEIGHTS = {
    "manhole": 14,
    "street_vending": 20,
    "garbage": 22,
    "illegal_parking": 18,
    "road_damage": 12,
    "outdoor_ads": 14,
}
SOURCES = city.CASES.field("source").accepted
# A city category → the governance category a resident reporting the same problem picks
# (outdoor advertising is a city matter residents rarely report).
ECHO_CATEGORIES = {
    "illegal_parking": "parking",
    "road_damage": "road_facility",
    "manhole": "manhole",
    "garbage": "garbage",
    "street_vending": "street_vending",
}
# Share of the cases of those categories that a resident reports too (an assumption: a
# visible street problem draws a second report often enough for the funnel to matter,
# few enough that governance's daily volume barely moves: about 6 cases on 600 by default).
ECHO_SHARE = 0.25
ECHO_MAX_METRES = 30.0  # where the resident stands when reporting it, from the patrol's point
ECHO_MAX_LAG = timedelta(hours=4)  # between the two reports, either one first
_METRES_PER_DEGREE = 111_320.0
# Table of schema ``city`` → its contract.
TABLES = {
    c.source.name.removeprefix("city."): c
    for c in (city.MANHOLE_COVERS, city.CASES, city.REPAIRS, city.SETTLEMENT_EVENTS)
}

# Indexes the extraction reads by, and the simulator's ledger (created after the tables).
_INDEXES_AND_LEDGER = """
create index if not exists city_cases_updated_at on city.cases (updated_at);
create index if not exists city_covers_updated_at on city.manhole_covers (updated_at);
create index if not exists city_repairs_updated_at on city.repairs (updated_at);
create index if not exists city_settlement_events_updated_at on city.settlement_events (updated_at);
create index if not exists city_settlement_events_repair on city.settlement_events (repair_id);
-- The simulator's own ledger of the days it has written (not part of the real system).
create table if not exists city.simulated_days (
    day          date primary key,
    rows_written integer not null
);
"""


@dataclass(frozen=True)
class Cover:
    asset_id: str
    cover_type: str
    community_code: str
    grid_code: str
    lon: float
    lat: float
    owner_department: str | None
    installed_on: date

    def row(self, status: str, updated_at: datetime, owner: str | None = None) -> tuple:
        return (
            self.asset_id,
            self.cover_type,
            self.community_code,
            self.grid_code,
            self.lon,
            self.lat,
            self.owner_department or owner,  # a claim names the owner of a cover the register lacked
            status,
            self.installed_on,
            updated_at,
        )


def cover_register(settings: Settings, geography: Geography | None = None) -> list[Cover]:
    """The district's manhole covers (the same list for a seed and scale)."""
    geography = geography or load_geography()
    rng = random.Random(f"manhole-covers-{settings.seed}")
    count = max(50, round(COVERS_FULL_SCALE * settings.sim_scale))
    communities = sorted(geography.communities)
    covers = []
    for n in range(count):
        community = rng.choice(communities)
        grid = rng.choice(geography.grids_of(community))
        b = grid.box
        covers.append(
            Cover(
                asset_id=f"MH{n:07d}",
                cover_type=rng.choices(
                    ("rainwater", "sewage", "power", "gas", "telecom"), (30, 30, 15, 10, 15)
                )[0],
                community_code=community,
                grid_code=grid.code,
                lon=round(rng.uniform(b.min_lon, b.max_lon - 1e-6), 6),
                lat=round(rng.uniform(b.min_lat, b.max_lat - 1e-6), 6),
                owner_department=None if rng.random() < UNKNOWN_OWNER_SHARE else rng.choice(COVER_OWNERS),
                installed_on=date(1995, 1, 1) + timedelta(days=rng.randint(0, 365 * 30)),
            )
        )
    return covers


@dataclass(frozen=True)
class RepairPlan:
    repair_id: str
    case_id: str
    cover: Cover
    made_safe_at: datetime
    repaired_at: datetime
    cost_yuan: float
    street_office: str
    steps: tuple[Step, ...] = ()  # the settlement's steps, in time order

    def settlement_at(self, moment: datetime) -> list[settlement.Outcome]:
        """The settlement steps taken by ``moment``, each checked by the state machine."""
        repair = Repair(
            self.repair_id,
            settlement.PENDING,
            repaired_at=self.repaired_at,
            cost_yuan=Decimal(str(self.cost_yuan)),
            registered_owner=self.cover.owner_department,
        )
        outcomes = []
        for step in self.steps:
            if step.at > moment:
                break
            outcome = settlement.apply(repair, step, settlement.load_policy())
            outcomes.append(outcome)
            repair = replace(
                repair, status=outcome.to_status, cost_bearer=outcome.cost_bearer, updated_at=step.at
            )
        return outcomes

    def state_at(self, moment: datetime) -> tuple | None:
        if moment < self.made_safe_at:
            return None
        repaired = self.repaired_at if self.repaired_at <= moment else None
        outcomes = self.settlement_at(moment)
        last = outcomes[-1] if outcomes else None
        settled = next((o.settled_at for o in outcomes if o.settled_at is not None), None)
        updated_at = max(t for t in (self.made_safe_at, repaired, last and last.at) if t is not None)
        return (
            self.repair_id,
            self.case_id,
            self.cover.asset_id,
            self.cover.community_code,
            self.made_safe_at,
            repaired,
            self.cost_yuan,
            last.cost_bearer if last else None,  # nobody bears it until claimed or borne by the street
            last.to_status if last else settlement.PENDING,
            settled,
            updated_at,
        )

    def event_rows(self, moment: datetime) -> list[tuple]:
        """Rows of ``city.settlement_events`` for the steps taken by ``moment``."""
        return [
            (
                o.event_id,
                self.repair_id,
                self.cover.asset_id,
                self.cover.community_code,
                o.step,
                o.from_status,
                o.to_status,
                o.owner,
                o.amount_yuan,
                records_actor(o.step),
                o.at,
                o.at,
            )
            for o in self.settlement_at(moment)
        ]

    def claimed_owner(self, moment: datetime) -> tuple[datetime, str] | None:
        """When and by whom a cover without a registered owner was claimed, by ``moment``."""
        for o in self.settlement_at(moment):
            if o.cover_owner is not None:
                return o.at, o.cover_owner
        return None

    def cover_events(self, reported_at: datetime) -> list[tuple[datetime, str]]:
        return [(reported_at, "damaged"), (self.made_safe_at, "made_safe"), (self.repaired_at, "normal")]


@dataclass(frozen=True)
class CityCasePlan:
    case_id: str
    category: str
    source: str
    description: str
    community_code: str
    grid_code: str
    lon: float
    lat: float
    reporter: Resident | None
    reported_at: datetime
    dispatched_at: datetime
    handled_at: datetime
    closed_at: datetime
    repair: RepairPlan | None

    def state_at(self, moment: datetime) -> tuple | None:
        if moment < self.reported_at:
            return None
        events = [
            ("reported", self.reported_at),
            ("dispatched", self.dispatched_at),
            ("handled", self.handled_at),
            ("closed", self.closed_at),
        ]
        status, updated_at = max(((s, t) for s, t in events if t <= moment), key=lambda e: e[1])
        r = self.reporter
        return (
            self.case_id,
            self.category,
            self.source,
            self.description,
            self.community_code,
            self.grid_code,
            self.lon,
            self.lat,
            self.repair.cover.asset_id if self.repair else None,
            r.name if r else None,
            r.mobile if r else None,
            self.reported_at,
            self.dispatched_at if self.dispatched_at <= moment else None,
            self.closed_at if self.closed_at <= moment else None,
            status,
            updated_at,
        )


def records_actor(step: str) -> str:
    """Who the simulated system records a step by: the daily run for the street's, a clerk otherwise."""
    return DAILY_ACTOR if step == settlement.STREET_BEARS else SETTLEMENT_CLERK


def _office_hours(rng: random.Random, after: datetime, days: float) -> datetime:
    """A moment in office hours about ``days`` after ``after`` (and after it)."""
    day = (after + timedelta(days=days)).date()
    at = datetime.combine(day, time(9)) + timedelta(minutes=rng.randint(0, 8 * 60))
    return at if at > after else after + timedelta(hours=1)


def settlement_steps(
    rng: random.Random,
    cover: Cover,
    repaired_at: datetime,
    cost_yuan: float,
    street_office: str,
    last: datetime,
) -> tuple[Step, ...]:
    """The settlement a repair goes through, up to ``last`` (the end of its simulated lifecycle)."""
    owner = cover.owner_department
    if owner is None and rng.random() < CLAIM_UNKNOWN_SHARE:
        owner = rng.choice(COVER_OWNERS)
    if owner is None:
        at = settlement.load_policy().street_bears_in_daily_run(repaired_at)
        return (Step(settlement.STREET_BEARS, at, street_office=street_office),) if at <= last else ()
    steps = [Step(settlement.CLAIM, _office_hours(rng, repaired_at, rng.uniform(1, 6)), owner=owner)]
    if rng.random() < RECOVERED_SHARE:
        cost = Decimal(str(cost_yuan))
        share = rng.uniform(0.6, 0.95) if rng.random() < PARTIAL_RECOVERY_SHARE else 1.0
        amount = (cost * Decimal(str(share))).quantize(Decimal("0.01"))
        steps.append(
            Step(settlement.RECOVER, _office_hours(rng, steps[-1].at, rng.uniform(2, 8)), amount_yuan=amount)
        )
        if rng.random() < SETTLED_SHARE:
            steps.append(Step(settlement.SETTLE, _office_hours(rng, steps[-1].at, rng.uniform(1, 6))))
    return tuple(s for s in steps if s.at <= last)


def cases_reported_on(
    day: date, settings: Settings, covers: list[Cover], geography: Geography | None = None
) -> list[CityCasePlan]:
    """Plans of the city-management cases reported on ``day`` (same list for a seed and day)."""
    geography = geography or load_geography()
    rng = random.Random(f"city-cases-{settings.seed}-{day.isoformat()}")
    mean = max(10.0, CASES_PER_DAY_FULL_SCALE * settings.sim_scale)
    count = max(0, round(rng.gauss(mean, math.sqrt(mean))))
    residents = _residents(settings.seed, 4000)
    communities = sorted(geography.communities)
    categories = list(CATEGORY_WEIGHTS)
    weights = list(CATEGORY_WEIGHTS.values())
    start = datetime.combine(day, time())
    plans = []
    for n in range(count):
        category = rng.choices(categories, weights)[0]
        source = rng.choices(SOURCES, (40, 25, 35))[0]
        reported_at = start + timedelta(seconds=rng.randint(6 * 3600, 23 * 3600 - 1))
        dispatched_at = reported_at + timedelta(minutes=rng.uniform(3, 90))
        case_id = f"CM{day:%Y%m%d}{n:05d}"
        repair = None
        if category == "manhole":
            cover = rng.choice(covers)
            community, grid_code, lon, lat = cover.community_code, cover.grid_code, cover.lon, cover.lat
            made_safe_at = reported_at + timedelta(minutes=rng.uniform(20, 180))
            repaired_at = made_safe_at + timedelta(hours=rng.uniform(4, 120))
            street = geography.streets[geography.street_of(community)]
            # The main generator draws what it always drew (the settlement's own course comes
            # from a generator of the repair's, so the plans do not shift with it).
            rng.uniform(3, 20)
            repair_id = f"RP{day:%Y%m%d}{n:05d}"
            cost_yuan = round(rng.uniform(180, 4800), 2)
            office = settlement.street_office(street.name)
            repair = RepairPlan(
                repair_id=repair_id,
                case_id=case_id,
                cover=cover,
                made_safe_at=made_safe_at,
                repaired_at=repaired_at,
                cost_yuan=cost_yuan,
                street_office=office,
                steps=settlement_steps(
                    random.Random(f"settlement-{settings.seed}-{repair_id}"),
                    cover,
                    repaired_at,
                    cost_yuan,
                    office,
                    reported_at + timedelta(days=LIFECYCLE_DAYS - 1),
                ),
            )
            handled_at = repaired_at
        else:
            community = rng.choice(communities)
            grid = rng.choice(geography.grids_of(community))
            grid_code = grid.code
            lon = round(rng.uniform(grid.box.min_lon, grid.box.max_lon - 1e-6), 6)
            lat = round(rng.uniform(grid.box.min_lat, grid.box.max_lat - 1e-6), 6)
            handled_at = dispatched_at + timedelta(hours=rng.lognormvariate(1.5, 0.9))
        closed_at = handled_at + timedelta(hours=rng.uniform(1, 48))
        name = CATEGORY_NAMES[category]
        plans.append(
            CityCasePlan(
                case_id=case_id,
                category=category,
                source=source,
                description=f"{geography.communities[community].name}{name}",
                community_code=community,
                grid_code=grid_code,
                lon=lon,
                lat=lat,
                reporter=rng.choice(residents) if source == "citizen_12345" else None,
                reported_at=reported_at,
                dispatched_at=dispatched_at,
                handled_at=handled_at,
                closed_at=min(closed_at, reported_at + timedelta(days=LIFECYCLE_DAYS - 1)),
                repair=repair,
            )
        )
    return plans


@dataclass(frozen=True)
class Echo:
    """A resident's report, through the governance system, of a city case's problem."""

    city_case_id: str
    city_category: str
    governance_category: str
    city_reported_at: datetime
    city_lon: float
    city_lat: float
    reported_at: datetime  # the resident's report
    lon: float
    lat: float
    community_code: str
    grid_code: str
    asset_id: str | None = None  # the cover of a manhole case

    @property
    def resident_first(self) -> bool:
        return self.reported_at < self.city_reported_at

    @property
    def distance_m(self) -> float:
        return distance_m(self.city_lon, self.city_lat, self.lon, self.lat)


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Metres between two nearby points (equirectangular: exact enough within a district)."""
    dx = (lon2 - lon1) * math.cos(math.radians((lat1 + lat2) / 2))
    return math.hypot(dx, lat2 - lat1) * _METRES_PER_DEGREE


@functools.cache
def _covers(seed: int, scale: float) -> list[Cover]:
    return cover_register(Settings(seed=seed, sim_scale=scale))


def point_near(geography: Geography, lon: float, lat: float, metres: float, bearing: float):
    """``(lon, lat, location)`` of a point ``metres`` from (lon, lat) towards ``bearing``
    (radians from north), in shorter steps towards it until the point lies in the district."""
    while True:
        near_lat = round(lat + metres * math.cos(bearing) / _METRES_PER_DEGREE, 6)
        near_lon = round(
            lon + metres * math.sin(bearing) / (_METRES_PER_DEGREE * math.cos(math.radians(lat))), 6
        )
        location = geography.locate(near_lon, near_lat)
        if location is not None:
            return near_lon, near_lat, location
        metres /= 2


def resident_echoes(day: date, settings: Settings, geography: Geography | None = None) -> list[Echo]:
    """The second reports residents make of the city cases reported on ``day``: for about
    ``ECHO_SHARE`` of the cases of an ``ECHO_CATEGORIES`` category, a point within
    ``ECHO_MAX_METRES`` and a time within ``ECHO_MAX_LAG`` of the city report, before or
    after it, on the same day. A pure function of the seed and day, drawn from a generator of
    its own so that the city's cases are the same with or without echoes."""
    geography = geography or load_geography()
    plans = cases_reported_on(day, settings, _covers(settings.seed, settings.sim_scale), geography)
    rng = random.Random(f"city-echoes-{settings.seed}-{day.isoformat()}")
    day_start = datetime.combine(day, time())
    echoes = []
    for plan in plans:
        if plan.category not in ECHO_CATEGORIES or rng.random() >= ECHO_SHARE:
            continue
        lag = timedelta(seconds=rng.randint(600, int(ECHO_MAX_LAG.total_seconds())))
        reported_at = plan.reported_at - lag if rng.random() < 0.5 else plan.reported_at + lag
        if reported_at.date() != day:  # the other way round keeps it on the day
            reported_at = plan.reported_at + (lag if reported_at < day_start else -lag)
        metres, bearing = rng.uniform(2.0, ECHO_MAX_METRES - 2.0), rng.uniform(0, 2 * math.pi)
        lon, lat, location = point_near(geography, plan.lon, plan.lat, metres, bearing)
        echoes.append(
            Echo(
                city_case_id=plan.case_id,
                city_category=plan.category,
                governance_category=ECHO_CATEGORIES[plan.category],
                city_reported_at=plan.reported_at,
                city_lon=plan.lon,
                city_lat=plan.lat,
                reported_at=reported_at,
                lon=lon,
                lat=lat,
                community_code=location.community_code,
                grid_code=location.grid_code,
                asset_id=plan.repair.cover.asset_id if plan.repair else None,
            )
        )
    return echoes


def rows_changed_on(
    day: date,
    settings: Settings,
    covers: list[Cover] | None = None,
    plans_cache: dict | None = None,
    *,
    backlog: bool = False,
) -> dict[str, list[tuple]]:
    """Rows of each table as of the end of ``day`` that were created or changed on it.

    With ``backlog``: every cover of the register and every case and repair of the last
    ``LIFECYCLE_DAYS`` days, as a live system holds them when the simulation starts.
    """
    geography = load_geography()
    covers = covers if covers is not None else cover_register(settings, geography)
    plans_cache = {} if plans_cache is None else plans_cache
    day_start = datetime.combine(day, time())
    day_end = day_start + timedelta(days=1) - timedelta(microseconds=1)
    out: dict[str, list[tuple]] = {"manhole_covers": [], "cases": [], "repairs": [], "settlement_events": []}
    cover_events: dict[str, list[tuple[datetime, str]]] = {}
    claims: dict[str, tuple[datetime, str]] = {}  # cover → its claim, for a cover without an owner
    for offset in range(LIFECYCLE_DAYS, -1, -1):
        reported_day = day - timedelta(days=offset)
        if reported_day not in plans_cache:
            plans_cache[reported_day] = cases_reported_on(reported_day, settings, covers, geography)
        for plan in plans_cache[reported_day]:
            row = plan.state_at(day_end)
            if row is not None and (backlog or row[-1] >= day_start):
                out["cases"].append(row)
            if plan.repair is None:
                continue
            repair_row = plan.repair.state_at(day_end)
            if repair_row is not None and (backlog or repair_row[-1] >= day_start):
                out["repairs"].append(repair_row)
            out["settlement_events"] += [
                e for e in plan.repair.event_rows(day_end) if backlog or e[-1] >= day_start
            ]
            asset_id = plan.repair.cover.asset_id
            events = [e for e in plan.repair.cover_events(plan.reported_at) if e[0] <= day_end]
            cover_events.setdefault(asset_id, []).extend(events)
            claim = plan.repair.claimed_owner(day_end)
            if claim is not None and (asset_id not in claims or claim < claims[asset_id]):
                claims[asset_id] = claim
    for cover in covers:
        events = cover_events.get(cover.asset_id)
        claim = claims.get(cover.asset_id)
        if events:
            updated_at, status = max(events)
            changed = max(updated_at, claim[0]) if claim else updated_at
            if backlog or changed >= day_start:
                out["manhole_covers"].append(cover.row(status, changed, claim[1] if claim else None))
        elif backlog:
            out["manhole_covers"].append(cover.row("normal", datetime.combine(cover.installed_on, time(9))))
    return out


# How each table is written: upserts (a newer version wins); a cover keeps an owner once one
# is known (a claim recorded by `civiclake manhole claim` included); events are appended once.
_WRITES = {
    "manhole_covers": upsert_sql(city.MANHOLE_COVERS).replace(
        "owner_department = excluded.owner_department",
        "owner_department = coalesce(excluded.owner_department, city.manhole_covers.owner_department)",
    ),
    "cases": upsert_sql(city.CASES),
    "repairs": upsert_sql(city.REPAIRS),
    "settlement_events": insert_sql(city.SETTLEMENT_EVENTS),
}


def ensure_schema(conn: psycopg.Connection) -> None:
    """Creates the schema and its tables, or brings tables of an older simulator up to the contracts."""
    conn.execute("create schema if not exists city")
    ensure_tables(conn, TABLES.values())
    conn.execute(_INDEXES_AND_LEDGER)


def simulate_day(day: date, settings: Settings, history_days: int = 0) -> dict[str, int]:
    """Writes ``day`` (after the ``history_days`` before it that the ledger lacks) into ``city``.

    An empty source first gets its backlog: the whole cover register and the cases of the
    ``LIFECYCLE_DAYS`` before its first day. Returns the rows written per table for ``day``.
    """
    geography = load_geography()
    covers = cover_register(settings, geography)
    plans_cache: dict = {}
    written: dict[str, int] = {}
    with psycopg.connect(settings.pg_conninfo(), autocommit=False) as conn:
        ensure_schema(conn)
        done = {r[0] for r in conn.execute("select day from city.simulated_days").fetchall()}
        empty = not done
        for offset in range(history_days, -1, -1):
            current = day - timedelta(days=offset)
            if offset > 0 and current in done:
                continue
            rows = rows_changed_on(current, settings, covers, plans_cache, backlog=empty)
            empty = False
            with conn.cursor() as cur:
                for table, table_rows in rows.items():
                    cur.executemany(_WRITES[table], table_rows)
                cur.execute(
                    "insert into city.simulated_days values (%s, %s) "
                    "on conflict (day) do update set rows_written = excluded.rows_written",
                    (current, sum(len(r) for r in rows.values())),
                )
            conn.commit()
            counts = {t: len(r) for t, r in rows.items()}
            log.info("simulated city management for %s: %s rows created or changed", current, counts)
            if current == day:
                written = counts
    return written

"""Simulator of the city-management system (智慧城管), writing to its PostgreSQL database.

Three tables in schema ``city``: city-management cases, the manhole-cover asset register
(owner department, or NULL where nobody has claimed the cover) and repair records with
their cost settlement. A repair of a cover with an unknown owner is paid by the street
under 先修后定 ("repair first, settle later"); a known owner settles with the street.

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
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import psycopg

from civiclake.contracts import city
from civiclake.geography import Geography, load_geography
from civiclake.settings import Settings
from simulators.people import Resident, resident_pool
from simulators.source_db import ensure_tables, upsert_sql

log = logging.getLogger(__name__)
_residents = functools.cache(resident_pool)  # the same pool for every day of a seed

LIFECYCLE_DAYS = 30  # a case's plan, repair and settlement included, ends within this many days
CASES_PER_DAY_FULL_SCALE = 3000
COVERS_FULL_SCALE = 120_000
UNKNOWN_OWNER_SHARE = 0.08
COVER_OWNERS = ("水务局", "供电局", "燃气集团", "通信管道公司", "城市管理和综合执法局", "交通运输局")
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
TABLES = {c.source.name.removeprefix("city."): c for c in (city.MANHOLE_COVERS, city.CASES, city.REPAIRS)}

# Indexes the extraction reads by, and the simulator's ledger (created after the tables).
_INDEXES_AND_LEDGER = """
create index if not exists city_cases_updated_at on city.cases (updated_at);
create index if not exists city_covers_updated_at on city.manhole_covers (updated_at);
create index if not exists city_repairs_updated_at on city.repairs (updated_at);
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

    def row(self, status: str, updated_at: datetime) -> tuple:
        return (
            self.asset_id,
            self.cover_type,
            self.community_code,
            self.grid_code,
            self.lon,
            self.lat,
            self.owner_department,
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
    settled_at: datetime
    cost_yuan: float
    street_office: str

    def state_at(self, moment: datetime) -> tuple | None:
        if moment < self.made_safe_at:
            return None
        repaired = self.repaired_at if self.repaired_at <= moment else None
        settled = self.settled_at if self.settled_at <= moment else None
        owner = self.cover.owner_department
        status = "pending" if settled is None else "settled_with_owner" if owner else "borne_by_street"
        updated_at = max(t for t in (self.made_safe_at, repaired, settled) if t is not None)
        return (
            self.repair_id,
            self.case_id,
            self.cover.asset_id,
            self.cover.community_code,
            self.made_safe_at,
            repaired,
            self.cost_yuan,
            owner or self.street_office,  # 先修后定: the street pays for an unclaimed cover
            status,
            settled,
            updated_at,
        )

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
            repair = RepairPlan(
                repair_id=f"RP{day:%Y%m%d}{n:05d}",
                case_id=case_id,
                cover=cover,
                made_safe_at=made_safe_at,
                repaired_at=repaired_at,
                settled_at=repaired_at + timedelta(days=rng.uniform(3, 20)),
                cost_yuan=round(rng.uniform(180, 4800), 2),
                street_office=f"{street.name}办事处",
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
    out: dict[str, list[tuple]] = {"manhole_covers": [], "cases": [], "repairs": []}
    cover_events: dict[str, list[tuple[datetime, str]]] = {}
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
            events = [e for e in plan.repair.cover_events(plan.reported_at) if e[0] <= day_end]
            cover_events.setdefault(plan.repair.cover.asset_id, []).extend(events)
    for cover in covers:
        events = cover_events.get(cover.asset_id)
        if events:
            updated_at, status = max(events)
            if backlog or updated_at >= day_start:
                out["manhole_covers"].append(cover.row(status, updated_at))
        elif backlog:
            out["manhole_covers"].append(cover.row("normal", datetime.combine(cover.installed_on, time(9))))
    return out


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
                    cur.executemany(upsert_sql(TABLES[table]), table_rows)
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

"""Simulator of the basic-resource registries (基础资源): full daily snapshot extracts.

A registry is delivered the way registry offices hand it over: a full extract per day,
one Parquet file per registry plus a ``manifest.json`` with the row counts, under
``<data_dir>/sources/resources/<date>/``. A full extract is a file, not a table that is
updated in place: the receiving side compares snapshots (SCD2), and at district scale
(about a million households) a file is far cheaper to write and to read in parallel than
a million rows pushed through a database every day.

Every snapshot is computed from the seed and the date alone, so any day can be produced
in any order, and two days share most of their rows:
* each entity of a registry has a serial number ``k``; it enters the registry on day
  ``k / rate`` and leaves after a lifetime drawn from ``k`` (uniform up to twice the
  registry's mean lifetime), so a constant share of rows is added and removed per day;
* its stable attributes (community, head of household's ID number…) are drawn from
  ``k``; its mutable ones from ``(k, version)``, where the version steps every
  ``period`` days (period and phase drawn from ``k``), so a few % of rows change a day.
Organisational registries (teams, departments) have a fixed membership that changes only
in its mutable columns.

Sizes follow ``settings.sim_scale`` (1.0 ≈ Longhua: ~2.5 million residents in ~960,000
households); teams and departments are the district's organisation and do not scale.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from civiclake.contracts.resources import REGISTRY_NAMES
from civiclake.geography import Geography, load_geography
from civiclake.ingest import raw_exports
from civiclake.ingest.registry_extracts import MANIFEST, snapshot_file
from civiclake.pii import id_check_char
from civiclake.settings import Settings
from simulators.people import AREA_PREFIXES, GIVEN, MOBILE_PREFIXES, SURNAMES

log = logging.getLogger(__name__)

# Entities enter the registries from this day on; far enough back that every registry is
# in its steady state (arrivals = departures) by the simulated years.
ORIGIN = date(1950, 1, 1)


@dataclass(frozen=True)
class RegistrySpec:
    """How a registry's rows come and go (its columns, key and personal data: its contract,
    ``civiclake.contracts.resources``)."""

    full_scale: int  # rows at sim_scale 1.0 (or the fixed size of an organisational registry)
    scales: bool  # False: organisational registries, fixed membership
    lifetime_days: int  # mean stay in the registry (turnover ≈ 1 / lifetime_days a day)
    period_days: tuple[int, int]  # a row's mutable columns change every period (uniform range)


# ---------------------------------------------------------------- deterministic draws


def _salt(*parts: object) -> np.uint64:
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return np.uint64(int.from_bytes(digest, "little"))


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a well-spread 64-bit hash of each element."""
    x = x.astype(np.uint64, copy=True)
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


class Draws:
    """Uniform draws per entity: ``u(name)`` stable, ``uv(name)`` per version of the row."""

    def __init__(self, seed: int, registry: str, serials: np.ndarray, versions: np.ndarray):
        self.seed, self.registry = seed, registry
        self.serials = serials.astype(np.uint64)
        self.versions = versions.astype(np.uint64)

    def _hash(self, name: str, version: np.ndarray | None) -> np.ndarray:
        h = _mix(self.serials ^ _salt(self.seed, self.registry, name))
        if version is not None:
            h = _mix(h ^ (version * np.uint64(0x9E3779B97F4A7C15)))
        return h

    def u(self, name: str, version: np.ndarray | None = None) -> np.ndarray:
        return (self._hash(name, version) >> np.uint64(11)).astype(np.float64) / float(2**53)

    def uv(self, name: str) -> np.ndarray:
        return self.u(name, self.versions)

    def ints(self, name: str, low: int, high: int, per_version: bool = False) -> np.ndarray:
        """Integers in [low, high]."""
        u = self.uv(name) if per_version else self.u(name)
        return low + np.floor(u * (high - low + 1)).astype(np.int64)

    def choice(self, name: str, options, weights=None, per_version: bool = False) -> np.ndarray:
        u = self.uv(name) if per_version else self.u(name)
        w = np.ones(len(options)) if weights is None else np.asarray(weights, dtype=float)
        index = np.searchsorted(np.cumsum(w) / w.sum(), u, side="right")
        return np.asarray(options, dtype=object)[np.minimum(index, len(options) - 1)]


def _versions(draws: Draws, day_number: int, period: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Version of each row on ``day_number`` and the day that version started."""
    low, high = period
    periods = draws.ints("period", low, high)
    phase = np.floor(draws.u("phase") * periods).astype(np.int64)
    version = (day_number + phase) // periods
    started = version * periods - phase
    return version, started


# ---------------------------------------------------------------- shared value makers


def _days_to_dates(numbers: np.ndarray) -> list[date]:
    origin = ORIGIN.toordinal()
    return [date.fromordinal(origin + int(n)) for n in numbers]


def _community_weights(seed: int, geography: Geography) -> tuple[list[str], np.ndarray]:
    codes = sorted(geography.communities)
    return codes, _mix(np.arange(len(codes), dtype=np.uint64) ^ _salt(seed, "community-weights")).astype(
        np.float64
    ) / 2**64 + 0.4


def _places(draws: Draws, geography: Geography, seed: int) -> dict[str, np.ndarray]:
    """Community, grid and a point inside the grid, stable per entity."""
    codes, weights = _community_weights(seed, geography)
    communities = draws.choice("community", codes, weights)
    # Grids of every community side by side: a community's n-th grid is at offset[c] + n.
    grids = [g for code in codes for g in geography.grids_of(code)]
    counts = np.array([len(geography.grids_of(code)) for code in codes])
    offsets = np.concatenate(([0], np.cumsum(counts)[:-1]))
    community_index = np.searchsorted(np.asarray(codes, dtype=object), communities)
    n = counts[community_index]
    pick = offsets[community_index] + np.minimum(np.floor(draws.u("grid") * n).astype(np.int64), n - 1)
    box = np.array([(g.box.min_lon, g.box.min_lat, g.box.max_lon, g.box.max_lat) for g in grids])[pick]
    lon = np.round(box[:, 0] + draws.u("lon") * (box[:, 2] - box[:, 0] - 1e-6), 6)
    lat = np.round(box[:, 1] + draws.u("lat") * (box[:, 3] - box[:, 1] - 1e-6), 6)
    return {
        "community_code": communities,
        "grid_code": np.array([g.code for g in grids], dtype=object)[pick],
        "lon": lon,
        "lat": lat,
    }


def _names(draws: Draws, prefix: str) -> list[str]:
    surname = draws.ints(f"{prefix}-surname", 0, len(SURNAMES) - 1)
    first = draws.ints(f"{prefix}-given1", 0, len(GIVEN) - 1)
    second = draws.ints(f"{prefix}-given2", 0, len(GIVEN) - 1)
    two = draws.u(f"{prefix}-two") < 0.67
    return [
        SURNAMES[s] + GIVEN[a] + (GIVEN[b] if t else "")
        for s, a, b, t in zip(surname, first, second, two, strict=True)
    ]


def _mobiles(draws: Draws, prefix: str, per_version_every: int | None = None) -> list[str]:
    """Mobile numbers; with ``per_version_every`` the number changes every that many versions."""
    version = None if per_version_every is None else draws.versions // np.uint64(per_version_every)
    head = np.floor(draws.u(f"{prefix}-head", version) * len(MOBILE_PREFIXES)).astype(int)
    tail = np.floor(draws.u(f"{prefix}-tail", version) * 100_000_000).astype(np.int64)
    return [f"{MOBILE_PREFIXES[h]}{t:08d}" for h, t in zip(head, tail, strict=True)]


def _id_numbers(draws: Draws, prefix: str, bad_share: float) -> list[str]:
    """Resident ID numbers with a right check character, except a ``bad_share`` of typos."""
    area = draws.ints(f"{prefix}-area", 0, len(AREA_PREFIXES) - 1)
    born = draws.ints(f"{prefix}-born", 0, 365 * 60) + (date(1945, 1, 1) - ORIGIN).days
    seq = draws.ints(f"{prefix}-seq", 0, 999)
    typo = draws.u(f"{prefix}-typo") < bad_share
    out = []
    for a, b, s, t in zip(area, born, seq, typo, strict=True):
        first17 = f"{AREA_PREFIXES[a]}{date.fromordinal(ORIGIN.toordinal() + int(b)):%Y%m%d}{s:03d}"
        check = id_check_char(first17)
        if t:  # a data-entry error: any other check character
            check = "0123456789X"[("0123456789X".index(check) + 1 + s % 10) % 11]
        out.append(first17 + check)
    return out


# ---------------------------------------------------------------- registries

_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def uscc_check_char(first17: str) -> str:
    """Check character of a unified social credit code (GB 32100-2015)."""
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return _USCC_CHARS[(31 - total % 31) % 31]


def _households(draws: Draws, ctx: dict) -> dict:
    base_size = draws.choice("size", [1, 2, 3, 4, 5, 6], [14, 27, 28, 20, 8, 3])
    drift = draws.choice("size-drift", [-1, 0, 0, 0, 1], per_version=True)
    size = np.maximum(1, base_size + drift)
    elderly = np.minimum(size, draws.choice("elderly", [0, 0, 0, 1, 2], per_version=False))
    children = np.minimum(size - elderly, np.floor(draws.uv("children") * (size - elderly + 1)).astype(int))
    children = np.where(size - elderly - children < 1, np.maximum(0, size - elderly - 1), children)
    working = size - elderly - children
    return {
        "household_id": [f"HH{k:010d}" for k in draws.serials],
        **{k: ctx["places"][k] for k in ("community_code", "grid_code")},
        "household_size": size,
        "members_0_17": children,
        "members_18_59": working,
        "members_60_plus": elderly,
        "elderly_living_alone": (size == 1) & (elderly == 1),
        "has_disabled_member": draws.u("disabled") < 0.03,
        "child_in_difficulty": (children > 0) & (draws.uv("child-difficulty") < 0.01),
        "low_income": draws.uv("low-income") < 0.02,
        "head_name": _names(draws, "head"),
        "head_id_number": _id_numbers(draws, "head", bad_share=0.002),
        "head_phone": _mobiles(draws, "head-phone", per_version_every=6),
    }


def _buildings(draws: Draws, ctx: dict) -> dict:
    roads = ("人民路", "民治大道", "梅龙路", "观澜大道", "布龙路", "东环路", "和平路", "龙华大道")
    floors = draws.choice("floors", [2, 4, 6, 8, 12, 18, 26, 33], [10, 18, 22, 15, 12, 10, 8, 5])
    return {
        "building_id": [f"BLD{k:09d}" for k in draws.serials],
        **ctx["places"],
        "address": [
            f"{roads[r]}{n}号"
            for r, n in zip(draws.ints("road", 0, 7), draws.ints("number", 1, 999), strict=True)
        ],
        "building_use": draws.choice(
            "use", ["residential", "commercial", "mixed", "industrial", "public"], [55, 12, 15, 13, 5], True
        ),
        "floors": floors,
        "house_units": floors * draws.ints("units-per-floor", 1, 8) + draws.ints("units-drift", 0, 2, True),
        "built_year": draws.ints("built", 1980, 2025),
        "safety_rating": draws.choice("safety", ["A", "B", "C", "D"], [60, 30, 8, 2], True),
    }


def _legal_entities(draws: Draws, ctx: dict) -> dict:
    words = ("华信", "龙腾", "宏达", "创新", "鹏程", "新安", "智联", "恒丰", "星辰", "富康", "嘉禾", "瑞丰")
    trades = ("科技", "贸易", "电子", "餐饮", "物流", "建筑", "物业管理", "教育咨询")
    kinds = draws.choice("type", ["company", "individual_business", "social_org"], [62, 35, 3])
    uscc = []
    for k, kind in zip(draws.serials, kinds, strict=True):
        first17 = f"{'9' if kind != 'social_org' else '5'}{'1' if kind == 'company' else '2'}440309{int(k) % 10**9:09d}"
        uscc.append(first17 + uscc_check_char(first17))
    word = draws.ints("word", 0, len(words) - 1)
    trade = draws.ints("trade", 0, len(trades) - 1)
    return {
        "entity_id": uscc,
        "entity_name": [
            f"深圳市{words[w]}{trades[t]}{'有限公司' if kind == 'company' else '店' if kind != 'social_org' else '协会'}"
            for w, t, kind in zip(word, trade, kinds, strict=True)
        ],
        "entity_type": kinds,
        "industry": np.asarray(trades, dtype=object)[trade],
        **ctx["places"],
        "status": draws.choice("status", ["active", "suspended", "abnormal"], [94, 2, 4], True),
        "employees": draws.choice("employees", [1, 3, 8, 20, 60, 200], [30, 25, 20, 15, 7, 3])
        + draws.ints("employees-drift", 0, 3, True),
        "legal_rep_name": _names(draws, "rep"),
        "legal_rep_phone": _mobiles(draws, "rep-phone", per_version_every=8),
    }


def _cameras(draws: Draws, ctx: dict) -> dict:
    return {
        "camera_id": [f"CAM{k:08d}" for k in draws.serials],
        **ctx["places"],
        "camera_type": draws.choice(
            "type", ["street", "crossroad", "park", "market", "school_gate"], [40, 25, 10, 15, 10]
        ),
        "owner_department": draws.choice(
            "owner", ["公安分局", "城市管理和综合执法局", "街道办事处"], [50, 30, 20]
        ),
        "status": draws.choice("status", ["online", "offline", "maintenance"], [92, 5, 3], True),
    }


VEHICLE_TYPES = ("sanitation_truck", "law_enforcement_patrol", "electric_patrol_bike", "emergency_repair")


def _vehicles(draws: Draws, ctx: dict) -> dict:
    # Public-service fleet only (sanitation, enforcement, repair): no private vehicles, so
    # the registry can never be used to follow a resident.
    streets = sorted(ctx["geography"].streets)
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    return {
        "vehicle_id": [f"VEH{k:07d}" for k in draws.serials],
        "plate_number": [
            f"粤B{letters[a]}{n:04d}"
            for a, n in zip(draws.ints("plate-a", 0, 23), draws.ints("plate-n", 0, 9999), strict=True)
        ],
        "vehicle_type": draws.choice("type", VEHICLE_TYPES, [45, 20, 25, 10]),
        "street_code": draws.choice("street", streets),
        "status": draws.choice("status", ["in_service", "maintenance", "standby"], [85, 7, 8], True),
        "energy": draws.choice("energy", ["electric", "diesel", "petrol"], [70, 20, 10]),
    }


TEAM_TYPES = {
    # team type: (Chinese name, per street, per community, member range)
    "enforcement_squad": ("城管执法中队", 2, 0, (12, 30)),
    "manhole_repair_crew": ("井盖抢修队", 1, 0, (4, 10)),
    "sanitation_crew": ("环卫作业班", 2, 0, (15, 40)),
    "grid_team": ("网格工作队", 0, 1, (6, 18)),
    "volunteer_team": ("志愿服务队", 0, 1, (10, 60)),
}


def team_roster(geography: Geography) -> list[tuple[str, str, str, str | None]]:
    """(team_id, team_type, street_code, community_code) of the district's fixed teams."""
    roster = []
    for street in sorted(geography.streets):
        for team_type, (_, per_street, _, _) in TEAM_TYPES.items():
            roster += [
                (f"T{street}{team_type[:3].upper()}{n}", team_type, street, None) for n in range(per_street)
            ]
    for community in sorted(geography.communities):
        street = geography.street_of(community)
        for team_type, (_, _, per_community, _) in TEAM_TYPES.items():
            roster += [
                (f"T{community}{team_type[:3].upper()}{n}", team_type, street, community)
                for n in range(per_community)
            ]
    return roster


def _teams(draws: Draws, ctx: dict) -> dict:
    geo = ctx["geography"]
    roster = [ctx["roster"][int(k)] for k in draws.serials]
    low_high = [TEAM_TYPES[t][3] for _, t, _, _ in roster]
    u = draws.uv("members")
    return {
        "team_id": [r[0] for r in roster],
        "team_type": [r[1] for r in roster],
        "team_name": [
            (geo.communities[c].name if c else geo.streets[s].name) + TEAM_TYPES[t][0]
            for _, t, s, c in roster
        ],
        "street_code": [r[2] for r in roster],
        "community_code": [r[3] for r in roster],
        "member_count": [lo + int(x * (hi - lo + 1)) for (lo, hi), x in zip(low_high, u, strict=True)],
        "leader_name": _names(draws, "leader"),
        "leader_phone": _mobiles(draws, "leader-phone"),
    }


DISTRICT_DEPARTMENTS = (
    "城市管理和综合执法局",
    "生态环境局",
    "交通警察大队",
    "建筑工务署",
    "住房和建设局",
    "消防救援大队",
    "人力资源局",
    "民政局",
    "教育局",
    "卫生健康局",
    "水务局",
    "公安分局",
    "政务服务数据管理局",
    "应急管理局",
)


def department_roster(geography: Geography) -> list[tuple[str, str, str, str | None]]:
    """(department_code, name, level, parent_code) of the district's department directory."""
    district = geography.district
    rows = [
        (f"D{district.code}{n:02d}", name, "district", district.code)
        for n, name in enumerate(DISTRICT_DEPARTMENTS)
    ]
    rows += [
        (f"S{code}", area.name + "办事处", "street", district.code)
        for code, area in sorted(geography.streets.items())
    ]
    return rows


def _departments(draws: Draws, ctx: dict) -> dict:
    roster = [ctx["departments"][int(k)] for k in draws.serials]
    return {
        "department_code": [r[0] for r in roster],
        "department_name": [r[1] for r in roster],
        "level": [r[2] for r in roster],
        "parent_code": [r[3] for r in roster],
        # Office duty lines (0755 landlines) are public contact points, not personal data.
        "duty_phone": [f"0755-2{n:07d}" for n in draws.ints("duty", 0, 9_999_999, True)],
        "staff_count": draws.ints("staff", 20, 400) + draws.ints("staff-drift", -3, 3, True),
    }


# Registry → how its rows come and go, and the builder of its columns; in the contracts' order.
REGISTRIES: dict[str, tuple[RegistrySpec, Callable[[Draws, dict], dict]]] = dict(
    zip(
        REGISTRY_NAMES,
        (
            (RegistrySpec(960_000, True, 1500, (20, 60)), _households),
            (RegistrySpec(62_000, True, 9000, (60, 200)), _buildings),
            (RegistrySpec(380_000, True, 1200, (30, 90)), _legal_entities),
            (RegistrySpec(24_000, True, 2500, (10, 40)), _cameras),
            (RegistrySpec(3_200, True, 2000, (15, 45)), _vehicles),
            (RegistrySpec(0, False, 0, (30, 90)), _teams),
            (RegistrySpec(0, False, 0, (60, 180)), _departments),
        ),
        strict=True,
    )
)


def registry_size(spec: RegistrySpec, settings: Settings) -> int:
    """Mean number of rows of a scaled registry (at least a handful, even at tiny scales)."""
    return max(20, round(spec.full_scale * settings.sim_scale))


def snapshot(name: str, day: date, settings: Settings, geography: Geography | None = None) -> pd.DataFrame:
    """The full extract of registry ``name`` as it stands at the end of ``day`` (raw, with PII)."""
    if name not in REGISTRIES:
        raise KeyError(f"unknown registry {name!r}; known: {', '.join(REGISTRY_NAMES)}")
    spec, builder = REGISTRIES[name]
    geography = geography or load_geography()
    day_number = (day - ORIGIN).days
    ctx: dict = {"geography": geography}
    if spec.scales:
        size = registry_size(spec, settings)
        rate = size / spec.lifetime_days  # arrivals a day
        first = max(0, int(np.floor((day_number - 2 * spec.lifetime_days - 1) * rate)))
        candidates = np.arange(first, int(np.ceil((day_number + 1) * rate)), dtype=np.int64)
        probe = Draws(settings.seed, name, candidates, np.zeros_like(candidates))
        arrived = np.floor(candidates / rate).astype(np.int64)
        lifetime = 1 + np.floor(probe.u("lifetime") * 2 * spec.lifetime_days).astype(np.int64)
        alive = (arrived <= day_number) & (day_number < arrived + lifetime)
        serials, registered = candidates[alive], arrived[alive]
    else:
        if name == "teams":
            ctx["roster"] = team_roster(geography)
        else:
            ctx["departments"] = department_roster(geography)
        serials = np.arange(len(ctx.get("roster") or ctx["departments"]), dtype=np.int64)
        registered = np.zeros_like(serials)
    draws = Draws(settings.seed, name, serials, np.zeros_like(serials))
    versions, started = _versions(draws, day_number, spec.period_days)
    draws.versions = versions.astype(np.uint64)
    if spec.scales and name != "vehicles":
        ctx["places"] = _places(draws, geography, settings.seed)
    columns = builder(draws, ctx)
    frame = pd.DataFrame(columns)
    frame["registered_on"] = _days_to_dates(registered)
    frame["updated_on"] = _days_to_dates(np.maximum(started, registered))
    return frame


# ---------------------------------------------------------------- delivery


def simulate_day(
    day: date, settings: Settings, registries: tuple[str, ...] = REGISTRY_NAMES
) -> dict[str, int]:
    """Writes the day's full extracts (Parquet) and their manifest; returns rows per registry,
    none when the day was ingested before (``raw_exports.ingested_before``).

    Files are written to a temporary name and renamed, and the manifest last, so a reader
    never sees half an extract; writing a day again gives byte-identical content. They hold
    raw personal data: 0600 files in a 0700 folder.
    """
    geography = load_geography()
    folder = raw_exports.private_dir(Path(settings.data_dir) / "sources", "resources", day.isoformat())
    if raw_exports.ingested_before(folder):
        return {}
    counts = {}
    for name in registries:
        frame = snapshot(name, day, settings, geography)
        target = snapshot_file(settings, name, day)
        temporary = raw_exports.temporary_name(target)
        frame.to_parquet(temporary, index=False)
        raw_exports.publish_private(temporary, target)
        counts[name] = len(frame)
        log.info("registry extract %s %s: %d rows", name, day, len(frame))
    manifest = {
        "snapshot_date": day.isoformat(),
        "rows": counts,
        "seed": settings.seed,
        "scale": settings.sim_scale,
    }
    raw_exports.write_private(folder / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode())
    return counts

"""Reference geography: district → streets → communities → grids, versions, and point lookup.

Shapes are rectangles (see ``reference/geography/README.md``); a point belongs to the
rectangle whose half-open box ``[min, max)`` contains it, with the district's own outer
edge counted as inside, so every point of the district maps to exactly one grid.

Each version is a folder of ``reference/geography/``. v2 gives the streets their official
statistical codes; v1 stays so that a past run can be reproduced with the codes it was made
with (setting ``CIVICLAKE_GEOGRAPHY_VERSION=v1``). A version after the first carries
``from_<previous>.csv`` (level, old code, new code) for every area, so codes of any two
versions translate into each other (``code_mapping``).
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

REFERENCE_DIR = Path(__file__).parent / "reference" / "geography"
CURRENT_VERSION = "v2"
# The environment variable of Settings.geography_version. It is read here straight from the
# environment because load_geography() is called without a Settings object, some of it
# per record, where building Settings each time would cost more than the lookup.
VERSION_VARIABLE = "CIVICLAKE_GEOGRAPHY_VERSION"
LEVELS = ("district", "street", "community", "grid")


class UnknownVersionError(ValueError):
    """A geography version with no folder under reference/geography/."""


class UnknownCodeError(KeyError):
    """An area code that the geography version it is said to belong to does not have."""

    def __str__(self) -> str:  # KeyError would print the message quoted
        return str(self.args[0])


def versions() -> list[str]:
    """The versions of the reference geography, oldest first (``v1``, ``v2``, …)."""
    return list(_versions_in(REFERENCE_DIR))


@cache
def _versions_in(folder: Path) -> tuple[str, ...]:
    # Cached: a run that names a version checks it on every load_geography() call.
    found = [p.name for p in folder.iterdir() if p.is_dir() and re.fullmatch(r"v\d+", p.name)]
    return tuple(sorted(found, key=lambda name: int(name[1:])))


def check_version(version: str) -> str:
    if version not in versions():
        raise UnknownVersionError(
            f"unknown geography version {version!r}; known: {', '.join(versions())} "
            f"(folders of {REFERENCE_DIR})"
        )
    return version


def active_version() -> str:
    """The version a run uses: ``CIVICLAKE_GEOGRAPHY_VERSION`` when set, else ``CURRENT_VERSION``."""
    chosen = os.environ.get(VERSION_VARIABLE, "").strip()
    if not chosen:
        return CURRENT_VERSION
    try:
        return check_version(chosen)
    except UnknownVersionError as error:
        raise UnknownVersionError(f"{VERSION_VARIABLE}={chosen}: {error}") from None


@dataclass(frozen=True)
class Box:
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float

    def contains(self, lon: float, lat: float, outer: Box | None = None) -> bool:
        """Half-open containment; edges shared with ``outer`` count as inside."""
        right_ok = lon < self.max_lon or (outer is not None and lon == outer.max_lon == self.max_lon)
        top_ok = lat < self.max_lat or (outer is not None and lat == outer.max_lat == self.max_lat)
        return self.min_lon <= lon and self.min_lat <= lat and right_ok and top_ok

    @property
    def centroid(self) -> tuple[float, float]:
        return ((self.min_lon + self.max_lon) / 2, (self.min_lat + self.max_lat) / 2)


@dataclass(frozen=True)
class Area:
    code: str
    name: str
    parent_code: str
    box: Box


@dataclass(frozen=True)
class Location:
    """Where a point falls: its grid and the areas above it."""

    district_code: str
    street_code: str
    community_code: str
    grid_code: str


class OutsideJurisdictionError(ValueError):
    pass


class Geography:
    def __init__(self, district: Area, streets: list[Area], communities: list[Area], grids: list[Area]):
        self.district = district
        self.streets = {a.code: a for a in streets}
        self.communities = {a.code: a for a in communities}
        self.grids = {a.code: a for a in grids}
        self._grids_by_community: dict[str, list[Area]] = {}
        for grid in grids:
            self._grids_by_community.setdefault(grid.parent_code, []).append(grid)

    def street_of(self, community_code: str) -> str:
        return self.communities[community_code].parent_code

    def grids_of(self, community_code: str) -> list[Area]:
        return self._grids_by_community[community_code]

    def locate(self, lon: float, lat: float) -> Location | None:
        """The grid containing the point, or None when it lies outside the district."""
        outer = self.district.box
        if not outer.contains(lon, lat, outer):
            return None
        for street in self.streets.values():
            if not street.box.contains(lon, lat, outer):
                continue
            for community in self.communities.values():
                if community.parent_code != street.code or not community.box.contains(lon, lat, outer):
                    continue
                for grid in self._grids_by_community[community.code]:
                    if grid.box.contains(lon, lat, outer):
                        return Location(self.district.code, street.code, community.code, grid.code)
        return None

    def require_location(self, lon: float, lat: float) -> Location:
        location = self.locate(lon, lat)
        if location is None:
            b = self.district.box
            raise OutsideJurisdictionError(
                f"point ({lon}, {lat}) is outside {self.district.name} "
                f"(lon {b.min_lon}–{b.max_lon}, lat {b.min_lat}–{b.max_lat})"
            )
        return location


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _box(row: dict[str, str]) -> Box:
    return Box(float(row["min_lon"]), float(row["min_lat"]), float(row["max_lon"]), float(row["max_lat"]))


def load_geography(version: str | None = None) -> Geography:
    """One version of the reference geography; by default the one this run uses (``active_version``)."""
    return _load(check_version(version) if version else active_version())


@cache
def _load(version: str) -> Geography:
    folder = REFERENCE_DIR / version
    (d,) = _read(folder / "district.csv")
    district = Area(d["district_code"], d["district_name"], "", _box(d))
    streets = [
        Area(r["street_code"], r["street_name"], r["district_code"], _box(r))
        for r in _read(folder / "streets.csv")
    ]
    communities = [
        Area(r["community_code"], r["community_name"], r["street_code"], _box(r))
        for r in _read(folder / "communities.csv")
    ]
    grids = [
        Area(r["grid_code"], r["grid_name"], r["community_code"], _box(r))
        for r in _read(folder / "grids.csv")
    ]
    return Geography(district, streets, communities, grids)


def reference_rows(kind: str, version: str | None = None) -> list[dict[str, str]]:
    """Raw rows of one reference file (``district``, ``streets``, ``communities``, ``grids``)."""
    return _read(REFERENCE_DIR / (check_version(version) if version else active_version()) / f"{kind}.csv")


def _codes_by_level(version: str) -> dict[str, set[str]]:
    geography = _load(version)
    return {
        "district": {geography.district.code},
        "street": set(geography.streets),
        "community": set(geography.communities),
        "grid": set(geography.grids),
    }


@cache
def _step(version: str) -> dict[str, str]:
    """Codes of the version before ``version`` → codes of ``version``, from its ``from_<previous>.csv``.

    The file must name every area of both versions exactly once, level by level (a bijection),
    so that translating forth and back returns every code unchanged.
    """
    previous = versions()[versions().index(version) - 1]
    path = REFERENCE_DIR / version / f"from_{previous}.csv"
    if not path.exists():
        raise UnknownVersionError(f"{path}: missing; it maps every code of {previous} to {version}")
    old_codes, new_codes = _codes_by_level(previous), _codes_by_level(version)
    mapping: dict[str, str] = {}
    seen_new: set[str] = set()
    for row_number, row in enumerate(_read(path), start=2):
        where = f"{path}, row {row_number}"
        level, old, new = row.get("level"), row.get(f"{previous}_code"), row.get(f"{version}_code")
        if level not in LEVELS:
            raise ValueError(f"{where}: level {level!r} is not one of {', '.join(LEVELS)}")
        if old not in old_codes[level]:
            raise ValueError(f"{where}: {previous}_code {old!r} is not a {level} of geography {previous}")
        if new not in new_codes[level]:
            raise ValueError(f"{where}: {version}_code {new!r} is not a {level} of geography {version}")
        if old in mapping or new in seen_new:
            raise ValueError(f"{where}: {old} → {new} maps a code that an earlier row already maps")
        mapping[old] = new
        seen_new.add(new)
    for level in LEVELS:
        unmapped = sorted(old_codes[level] - mapping.keys())
        if unmapped or len(old_codes[level]) != len(new_codes[level]):
            raise ValueError(
                f"{path}: {len(old_codes[level])} {level} codes in {previous}, {len(new_codes[level])} in "
                f"{version}; not mapped: {', '.join(unmapped[:5]) or 'none'}"
            )
    return mapping


def code_mapping(from_version: str, to_version: str) -> dict[str, str]:
    """Every area code (district, streets, communities, grids) of ``from_version`` → the same area's
    code in ``to_version``; either direction, across any number of versions."""
    order = versions()
    start, end = order.index(check_version(from_version)), order.index(check_version(to_version))
    mapping = {code: code for codes in _codes_by_level(from_version).values() for code in codes}
    if start < end:
        for version in order[start + 1 : end + 1]:
            step = _step(version)
            mapping = {code: step[current] for code, current in mapping.items()}
    else:
        for version in reversed(order[end + 1 : start + 1]):
            back = {new: old for old, new in _step(version).items()}
            mapping = {code: back[current] for code, current in mapping.items()}
    return mapping


def map_codes(codes: list[str], from_version: str, to_version: str) -> list[str]:
    """The codes translated one by one; a code that ``from_version`` does not have is an error."""
    mapping = code_mapping(from_version, to_version)
    unknown = [code for code in codes if code not in mapping]
    if unknown:
        raise UnknownCodeError(
            f"not an area code of geography {from_version}: {', '.join(unknown)} "
            f"(codes are 6, 9, 12 or 14 digits: district, street, community, grid)"
        )
    return [mapping[code] for code in codes]

"""Reference geography: district → streets → communities → grids, and point lookup.

Shapes are rectangles (see ``reference/geography/README.md``); a point belongs to the
rectangle whose half-open box ``[min, max)`` contains it, with the district's own outer
edge counted as inside, so every point of the district maps to exactly one grid.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

REFERENCE_DIR = Path(__file__).parent / "reference" / "geography"
CURRENT_VERSION = "v1"


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


@cache
def load_geography(version: str = CURRENT_VERSION) -> Geography:
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


def reference_rows(kind: str, version: str = CURRENT_VERSION) -> list[dict[str, str]]:
    """Raw rows of one reference file (``district``, ``streets``, ``communities``, ``grids``)."""
    return _read(REFERENCE_DIR / version / f"{kind}.csv")

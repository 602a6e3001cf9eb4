"""Jurisdictions: the area whose boundary checks apply to incoming coordinates.

The platform is not tied to one district: ``CIVICLAKE_JURISDICTION`` picks a row of
``reference/jurisdictions/jurisdictions.csv`` (its box and time zone), and every ingest
job checks coordinates against that box, so New York's 311 rows are checked against
New York, Longhua's cases against Longhua.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from civiclake.geography import Box

JURISDICTIONS_FILE = Path(__file__).parent / "reference" / "jurisdictions" / "jurisdictions.csv"


class UnknownJurisdictionError(KeyError):
    pass


@dataclass(frozen=True)
class Jurisdiction:
    code: str
    name: str
    country: str
    timezone: str
    box: Box

    def contains(self, lon: float | None, lat: float | None) -> bool:
        """Closed-box containment (edges inside); a missing coordinate is never inside."""
        if lon is None or lat is None:
            return False
        b = self.box
        return b.min_lon <= lon <= b.max_lon and b.min_lat <= lat <= b.max_lat


@cache
def _all() -> dict[str, Jurisdiction]:
    with JURISDICTIONS_FILE.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return {
        r["code"]: Jurisdiction(
            r["code"],
            r["name"],
            r["country"],
            r["timezone"],
            Box(float(r["min_lon"]), float(r["min_lat"]), float(r["max_lon"]), float(r["max_lat"])),
        )
        for r in rows
    }


def load_jurisdiction(code: str | None = None) -> Jurisdiction:
    """The jurisdiction ``code`` (default: ``CIVICLAKE_JURISDICTION``, i.e. settings)."""
    if code is None:
        from civiclake.settings import get_settings

        code = get_settings().jurisdiction
    known = _all()
    if code not in known:
        raise UnknownJurisdictionError(
            f"unknown jurisdiction {code!r} (CIVICLAKE_JURISDICTION); known: {sorted(known)} "
            f"in {JURISDICTIONS_FILE}"
        )
    return known[code]

"""What the simulators of file exports share: sizes by scale, points inside areas, and the
defects real exports carry (a mistyped ID number, an unknown community code, coordinates
outside the district, a clock in the future, a row exported twice)."""

from __future__ import annotations

import random
from datetime import timedelta

from civiclake.geography import Area
from civiclake.pii import id_check_char

UNKNOWN_COMMUNITY = "440309099001"  # a community code the district does not have


def scaled(full_scale: float, scale: float, minimum: int = 1) -> int:
    """A count at ``scale`` (1.0 = Longhua at full size), never below ``minimum``."""
    return max(minimum, round(full_scale * scale))


def point_in(rng: random.Random, area: Area) -> tuple[float, float]:
    b = area.box
    return (
        round(rng.uniform(b.min_lon, b.max_lon - 1e-6), 6),
        round(rng.uniform(b.min_lat, b.max_lat - 1e-6), 6),
    )


def mistyped_id(id_number: str) -> str:
    """The ID number with its check character wrong, as a typing slip leaves it."""
    right = id_check_char(id_number[:17])
    wrong = "0" if right != "0" else "1"
    return id_number[:17] + wrong


class Defects:
    """Draws which rows of a day's export carry a defect, at ``rate`` each, from its own
    generator so that adding a defect never changes the good rows."""

    def __init__(self, seed: int, name: str, day, rate: float = 0.004):
        self.rng = random.Random(f"defects-{seed}-{name}-{day.isoformat()}")
        self.rate = rate

    def hit(self) -> bool:
        return self.rng.random() < self.rate

    def apply(self, record: dict, *, id_field=None, community_field=None, lon_field=None, time_field=None):
        """Maybe one defect on ``record`` (in place); returns the records to export (1 or 2)."""
        if id_field and record.get(id_field) and self.hit():
            record[id_field] = mistyped_id(record[id_field])
        elif community_field and self.hit():
            record[community_field] = UNKNOWN_COMMUNITY
        elif lon_field and record.get(lon_field) is not None and self.hit():
            record[lon_field] = round(record[lon_field] + 0.5, 6)
        elif time_field and record.get(time_field) is not None and self.hit():
            record[time_field] = record[time_field] + timedelta(days=2)
        elif self.hit():
            return [record, dict(record)]
        return [record]

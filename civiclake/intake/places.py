"""Where a posted request is: its coordinates, or the community or street its address names.

GeoReport v2 lets a client send ``lat``/``long`` or an ``address_string``. Coordinates must
lie in the configured jurisdiction (civiclake.jurisdiction) and in a grid of the reference
geography. An address is placed by the name of a Longhua community (``…社区``) or street
(``…街道``) written in it, at the centre of that area: the district has no address
gazetteer here, and a case needs a community to be routed and counted.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from civiclake.geography import Area, Geography, Location
from civiclake.jurisdiction import Jurisdiction

# A decimal number as a client writes one: no exponent, no underscores, no "nan".
_DECIMAL = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$")
MAX_ADDRESS_CHARS = 500


class PlaceError(ValueError):
    """The request cannot be placed in the district (the message says why and what to send)."""


@dataclass(frozen=True)
class Place:
    lon: float
    lat: float
    location: Location
    # Coordinates to the metre, or the area an address named: what makes two posts "the same place".
    key: str


def parse_coordinate(name: str, text: str, low: float, high: float) -> float:
    value = text.strip()
    if not _DECIMAL.match(value):
        raise PlaceError(f"{name}={text!r} is not a decimal number of degrees like 22.65")
    number = float(value)
    if not math.isfinite(number) or not low <= number <= high:
        raise PlaceError(f"{name}={text!r} is outside {low}..{high} degrees")
    return number


def place_of_point(lat_text: str, long_text: str, jurisdiction: Jurisdiction, geography: Geography) -> Place:
    lat = parse_coordinate("lat", lat_text, -90, 90)
    lon = parse_coordinate("long", long_text, -180, 180)
    if not jurisdiction.contains(lon, lat):
        b = jurisdiction.box
        raise PlaceError(
            f"lat={lat}, long={lon} is outside {jurisdiction.name} "
            f"(lat {b.min_lat}..{b.max_lat}, long {b.min_lon}..{b.max_lon}); "
            "send the request to the jurisdiction it is in"
        )
    location = geography.locate(lon, lat)
    if location is None:
        raise PlaceError(
            f"lat={lat}, long={lon} is in no grid of {geography.district.name}'s reference geography, "
            "where this service places requests"
        )
    return Place(lon, lat, location, f"{lat:.5f},{lon:.5f}")


def _named(address: str, areas: list[Area]) -> list[Area]:
    """Areas whose full name is written in ``address``, a name inside a longer one left out."""
    found = [a for a in areas if a.name in address]
    return [a for a in found if not any(a.name != b.name and a.name in b.name for b in found)]


def place_of_address(address: str, jurisdiction: Jurisdiction, geography: Geography) -> Place:
    text = address.strip()
    if len(text) > MAX_ADDRESS_CHARS:
        raise PlaceError(f"address_string has {len(text)} characters; at most {MAX_ADDRESS_CHARS}")
    communities = _named(text, list(geography.communities.values()))
    streets = _named(text, list(geography.streets.values()))
    if len({a.code for a in communities}) > 1:
        names = "、".join(sorted({a.name for a in communities}))
        raise PlaceError(f"address_string names several communities ({names}); send one, or lat and long")
    if communities:
        area = communities[0]
        if streets and all(geography.street_of(area.code) != s.code for s in streets):
            raise PlaceError(
                f"address_string names {area.name}, which is not in {'、'.join(s.name for s in streets)}; "
                "check the address, or send lat and long"
            )
    elif len({a.code for a in streets}) == 1:
        area = streets[0]
    else:
        raise PlaceError(
            "address_string names no single community (…社区) or street (…街道) of "
            f"{geography.district.name}; write one in it, or send lat and long"
        )
    lon, lat = area.box.centroid
    location = geography.locate(lon, lat) if jurisdiction.contains(lon, lat) else None
    if location is None:
        raise PlaceError(f"{area.name} is outside {jurisdiction.name} (CIVICLAKE_JURISDICTION)")
    return Place(round(lon, 6), round(lat, 6), location, f"area:{area.code}")

"""Community and street boundaries as SQL, for the map datasets of the dashboards.

The published marts carry no geometry, and Superset's deck.gl polygon layer reads
one polygon per row from a column. A virtual dataset's SQL therefore holds the
placeholder ``${CIVICLAKE_COMMUNITY_BOUNDARIES}`` (or ``${CIVICLAKE_STREET_BOUNDARIES}``),
which the importer replaces with a ``VALUES`` list built from the reference geography
(``civiclake.geography``): the area's code (a street's name too) and its rectangle as a
closed JSON ring ``[[lon, lat], ...]``. A new geography version reaches the map at the
next import.
"""

from __future__ import annotations

import json

from civiclake.geography import Geography, load_geography

PLACEHOLDER = "${CIVICLAKE_COMMUNITY_BOUNDARIES}"
STREET_PLACEHOLDER = "${CIVICLAKE_STREET_BOUNDARIES}"


def community_ring(geography: Geography, community_code: str) -> list[list[float]]:
    return _ring(geography.communities[community_code].box)


def street_ring(geography: Geography, street_code: str) -> list[list[float]]:
    return _ring(geography.streets[street_code].box)


def _ring(b) -> list[list[float]]:
    return [
        [b.min_lon, b.min_lat],
        [b.max_lon, b.min_lat],
        [b.max_lon, b.max_lat],
        [b.min_lon, b.max_lat],
        [b.min_lon, b.min_lat],
    ]


def _values_sql(rows: list[tuple[str, ...]], relation: str) -> str:
    """``(VALUES ('a', 'b'), ...) AS <relation>`` from rows of plain strings."""
    values = ",\n  ".join("(" + ", ".join(f"'{v}'" for v in row) + ")" for row in rows)
    return f"(VALUES {values}) AS {relation}"


def _ring_json(ring: list[list[float]]) -> str:
    return json.dumps(ring, separators=(",", ":"))


def boundaries_values_sql(geography: Geography | None = None) -> str:
    """``(VALUES ('code', '[[lon,lat],...]'), ...) AS boundaries(community_code, polygon)``."""
    geography = geography or load_geography()
    rows = [(code, _ring_json(community_ring(geography, code))) for code in sorted(geography.communities)]
    return _values_sql(rows, "boundaries(community_code, polygon)")


def street_boundaries_values_sql(geography: Geography | None = None) -> str:
    """``(VALUES ('code', 'name', '[[lon,lat],...]'), ...) AS streets(street_code, street_name, polygon)``."""
    geography = geography or load_geography()
    rows = [
        (code, geography.streets[code].name, _ring_json(street_ring(geography, code)))
        for code in sorted(geography.streets)
    ]
    return _values_sql(rows, "streets(street_code, street_name, polygon)")


def with_boundaries(sql: str, geography: Geography | None = None) -> str:
    """A dataset's SQL with its boundary placeholders filled from the reference geography."""
    if PLACEHOLDER in sql:
        sql = sql.replace(PLACEHOLDER, boundaries_values_sql(geography))
    if STREET_PLACEHOLDER in sql:
        sql = sql.replace(STREET_PLACEHOLDER, street_boundaries_values_sql(geography))
    return sql

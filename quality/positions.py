"""The expectation suite of ``silver.resource_positions`` (the position feed).

Columns and codes come from the contract (``civiclake.contracts.positions``), value sets
and the district's box from the reference geography: each report once per resource and
time, every point inside the district and in a known area, plausible speed and heading.
"""

from __future__ import annotations

import great_expectations as gx
from great_expectations import expectations as gxe

from civiclake.contracts.positions import POSITIONS
from civiclake.geography import load_geography


def resource_positions() -> gx.ExpectationSuite:
    geo = load_geography()
    box = geo.district.box
    return gx.ExpectationSuite(
        name=f"silver.{POSITIONS.table}",
        expectations=[
            gxe.ExpectTableColumnsToMatchSet(column_set=list(POSITIONS.silver_columns()), exact_match=True),
            *[
                gxe.ExpectColumnValuesToNotBeNull(column=c)
                for c in ("resource_id", "reported_at", "lon", "lat", "batch_date", "source_file")
            ],
            gxe.ExpectCompoundColumnsToBeUnique(column_list=list(POSITIONS.key)),
            gxe.ExpectColumnValuesToBeInSet(
                column="resource_kind", value_set=list(POSITIONS.field("resource_kind").accepted)
            ),
            gxe.ExpectColumnValuesToBeBetween(column="lon", min_value=box.min_lon, max_value=box.max_lon),
            gxe.ExpectColumnValuesToBeBetween(column="lat", min_value=box.min_lat, max_value=box.max_lat),
            gxe.ExpectColumnValuesToBeInSet(column="district_code", value_set=[geo.district.code]),
            gxe.ExpectColumnValuesToBeInSet(column="street_code", value_set=sorted(geo.streets)),
            gxe.ExpectColumnValuesToBeInSet(column="community_code", value_set=sorted(geo.communities)),
            gxe.ExpectColumnValuesToBeInSet(column="grid_code", value_set=sorted(geo.grids)),
            # A city vehicle, not a motorway: 150 km/h is a terminal's error, not a drive.
            gxe.ExpectColumnValuesToBeBetween(column="speed_kmh", min_value=0, max_value=150),
            gxe.ExpectColumnValuesToBeBetween(column="heading_deg", min_value=0, max_value=360),
        ],
    )


POSITION_SUITES = {POSITIONS.table: resource_positions}

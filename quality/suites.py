"""Expectation suites, one per silver table.

Value sets come from the platform's own reference (categories, geography), so a suite
never drifts from the code that produces the data.
"""

from __future__ import annotations

import great_expectations as gx
from great_expectations import expectations as gxe

from civiclake.catalogue import CASE_STATUSES, CATEGORY_CODES, CHANNELS
from civiclake.geography import load_geography
from civiclake.tables import GOVERNANCE_CASES_COLUMNS


def governance_cases() -> gx.ExpectationSuite:
    geo = load_geography()
    box = geo.district.box
    return gx.ExpectationSuite(
        name="silver.governance_cases",
        expectations=[
            # Exactly these columns: a raw personal-data column appearing here is a failure.
            gxe.ExpectTableColumnsToMatchSet(column_set=list(GOVERNANCE_CASES_COLUMNS), exact_match=True),
            gxe.ExpectColumnValuesToNotBeNull(column="case_id"),
            gxe.ExpectColumnValuesToBeUnique(column="case_id"),
            gxe.ExpectColumnValuesToNotBeNull(column="reported_at"),
            gxe.ExpectColumnValuesToNotBeNull(column="updated_at"),
            gxe.ExpectColumnValuesToBeInSet(column="category", value_set=list(CATEGORY_CODES)),
            gxe.ExpectColumnValuesToBeInSet(column="channel", value_set=list(CHANNELS)),
            gxe.ExpectColumnValuesToBeInSet(column="status", value_set=list(CASE_STATUSES)),
            gxe.ExpectColumnValuesToBeInSet(column="street_code", value_set=sorted(geo.streets)),
            gxe.ExpectColumnValuesToBeInSet(column="community_code", value_set=sorted(geo.communities)),
            gxe.ExpectColumnValuesToBeBetween(column="lon", min_value=box.min_lon, max_value=box.max_lon),
            gxe.ExpectColumnValuesToBeBetween(column="lat", min_value=box.min_lat, max_value=box.max_lat),
            gxe.ExpectColumnValuesToBeBetween(column="satisfaction", min_value=1, max_value=5),
            gxe.ExpectColumnValuesToMatchRegex(column="reporter_id_token", regex=r"^id_[0-9a-f]{32}$"),
            gxe.ExpectColumnValuesToMatchRegex(column="reporter_phone_token", regex=r"^phone_[0-9a-f]{32}$"),
        ],
    )


SUITES = {"governance_cases": governance_cases}

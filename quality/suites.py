"""Expectation suites, one per silver table.

Value sets come from the platform's own reference (categories, geography), so a suite
never drifts from the code that produces the data.
"""

from __future__ import annotations

import great_expectations as gx
from great_expectations import expectations as gxe

from civiclake.catalogue import CASE_EVENT_TYPES, CASE_STATUSES, CATEGORY_CODES, CHANNELS
from civiclake.geography import load_geography
from civiclake.tables import (
    GOVERNANCE_CASE_EVENTS_COLUMNS,
    GOVERNANCE_CASES_COLUMNS,
    GOVERNANCE_GRID_WORKERS_COLUMNS,
)


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


def governance_case_events() -> gx.ExpectationSuite:
    return gx.ExpectationSuite(
        name="silver.governance_case_events",
        expectations=[
            gxe.ExpectTableColumnsToMatchSet(
                column_set=list(GOVERNANCE_CASE_EVENTS_COLUMNS), exact_match=True
            ),
            gxe.ExpectColumnValuesToNotBeNull(column="event_id"),
            gxe.ExpectColumnValuesToBeUnique(column="event_id"),
            gxe.ExpectColumnValuesToNotBeNull(column="case_id"),
            gxe.ExpectColumnValuesToNotBeNull(column="occurred_at"),
            gxe.ExpectCompoundColumnsToBeUnique(column_list=["case_id", "seq"]),
            gxe.ExpectColumnValuesToBeInSet(column="event_type", value_set=list(CASE_EVENT_TYPES)),
        ],
    )


def governance_grid_workers() -> gx.ExpectationSuite:
    geo = load_geography()
    return gx.ExpectationSuite(
        name="silver.governance_grid_workers",
        expectations=[
            gxe.ExpectTableColumnsToMatchSet(
                column_set=list(GOVERNANCE_GRID_WORKERS_COLUMNS), exact_match=True
            ),
            gxe.ExpectColumnValuesToBeUnique(column="grid_code"),
            gxe.ExpectColumnValuesToBeInSet(column="grid_code", value_set=sorted(geo.grids)),
            gxe.ExpectColumnValuesToNotBeNull(column="worker_id"),
            gxe.ExpectColumnValuesToMatchRegex(column="worker_name_token", regex=r"^name_[0-9a-f]{32}$"),
            gxe.ExpectColumnValuesToMatchRegex(column="worker_phone_token", regex=r"^phone_[0-9a-f]{32}$"),
        ],
    )


SUITES = {
    "governance_cases": governance_cases,
    "governance_case_events": governance_case_events,
    "governance_grid_workers": governance_grid_workers,
}


# --- File-export sources (party building, people services): one suite per silver table ---


def file_export_suite(table: str) -> gx.ExpectationSuite:
    """The suite of a file-export silver table, built from its declared contract: exact
    columns (a raw personal-data column appearing is a failure), unique business key,
    code lists, geography, the jurisdiction box and token formats."""
    from civiclake.ingest.exports import EXPORTS
    from civiclake.jurisdiction import load_jurisdiction
    from civiclake.settings import get_settings

    contract = EXPORTS[table]
    geo = load_geography()
    box = load_jurisdiction(get_settings().jurisdiction).box
    key = list(contract.key)
    expectations = [
        gxe.ExpectTableColumnsToMatchSet(column_set=list(contract.silver_columns()), exact_match=True),
        *[gxe.ExpectColumnValuesToNotBeNull(column=k) for k in key],
        gxe.ExpectColumnValuesToBeUnique(column=key[0])
        if len(key) == 1
        else gxe.ExpectCompoundColumnsToBeUnique(column_list=key),
        gxe.ExpectColumnValuesToNotBeNull(column="is_deleted"),
        gxe.ExpectColumnValuesToNotBeNull(column="batch_date"),
    ]
    for f in contract.fields:
        if f.codes is not None:
            expectations.append(
                gxe.ExpectColumnValuesToBeInSet(column=f.name, value_set=sorted(f.codes.values()))
            )
        if f.pii:
            prefix = f.pii.split("_")[0]
            expectations.append(
                gxe.ExpectColumnValuesToMatchRegex(column=f.stored_name, regex=rf"^{prefix}_[0-9a-f]{{32}}$")
            )
        if not f.nullable and f.name != contract.deleted_field:
            expectations.append(gxe.ExpectColumnValuesToNotBeNull(column=f.stored_name))
    if contract.community_field:
        expectations += [
            gxe.ExpectColumnValuesToBeInSet(
                column=contract.community_field, value_set=sorted(geo.communities)
            ),
            gxe.ExpectColumnValuesToBeInSet(column="street_code", value_set=sorted(geo.streets)),
        ]
    if contract.lon_field and contract.lat_field:
        expectations += [
            gxe.ExpectColumnValuesToBeBetween(
                column=contract.lon_field, min_value=box.min_lon, max_value=box.max_lon
            ),
            gxe.ExpectColumnValuesToBeBetween(
                column=contract.lat_field, min_value=box.min_lat, max_value=box.max_lat
            ),
        ]
    return gx.ExpectationSuite(name=f"silver.{table}", expectations=expectations)


def party_organisations() -> gx.ExpectationSuite:
    return file_export_suite("party_organisations")


def party_members() -> gx.ExpectationSuite:
    return file_export_suite("party_members")


def party_activities() -> gx.ExpectationSuite:
    return file_export_suite("party_activities")


def party_attendance() -> gx.ExpectationSuite:
    return file_export_suite("party_attendance")


def party_learning() -> gx.ExpectationSuite:
    return file_export_suite("party_learning")


def party_volunteer_services() -> gx.ExpectationSuite:
    return file_export_suite("party_volunteer_services")


def services_care_visits() -> gx.ExpectationSuite:
    return file_export_suite("services_care_visits")


def services_coupons() -> gx.ExpectationSuite:
    return file_export_suite("services_coupons")


def services_requests() -> gx.ExpectationSuite:
    return file_export_suite("services_requests")


# Kept apart from SUITES so the daily gate only checks these tables once their ingest runs.
FILE_EXPORT_SUITES = {
    "party": {
        "party_organisations": party_organisations,
        "party_members": party_members,
        "party_activities": party_activities,
        "party_attendance": party_attendance,
        "party_learning": party_learning,
        "party_volunteer_services": party_volunteer_services,
    },
    "services": {
        "services_care_visits": services_care_visits,
        "services_coupons": services_coupons,
        "services_requests": services_requests,
    },
}


# --- basic-resource registries (SCD2) and city management ---------------------------------


def _token(column: str, kind: str):
    return gxe.ExpectColumnValuesToMatchRegex(column=column, regex=rf"^{kind}_[0-9a-f]{{32}}$")


def resource_registry(registry: str) -> gx.ExpectationSuite:
    """silver.resources_<registry>: every version of every row (SCD2)."""
    from civiclake.lake import SCD2_COLUMNS
    from civiclake.tables import RESOURCE_SILVER_COLUMNS
    from simulators.resources import REGISTRIES

    spec, _ = REGISTRIES[registry]
    columns = RESOURCE_SILVER_COLUMNS[registry]
    geo = load_geography()
    box = geo.district.box
    expectations = [
        gxe.ExpectTableColumnsToMatchSet(column_set=[*columns, *SCD2_COLUMNS], exact_match=True),
        gxe.ExpectColumnValuesToNotBeNull(column=spec.key),
        # One version opens per key and snapshot date; a second would be a broken merge.
        gxe.ExpectCompoundColumnsToBeUnique(column_list=[spec.key, "valid_from"]),
        gxe.ExpectColumnValuesToNotBeNull(column="valid_from"),
        gxe.ExpectColumnValuesToNotBeNull(column="is_current"),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="valid_to",
            column_B="valid_from",
            or_equal=False,
            ignore_row_if="either_value_is_missing",
        ),
    ]
    if "community_code" in columns:
        expectations.append(
            gxe.ExpectColumnValuesToBeInSet(column="community_code", value_set=sorted(geo.communities))
        )
    if "street_code" in columns:
        expectations.append(
            gxe.ExpectColumnValuesToBeInSet(column="street_code", value_set=sorted(geo.streets))
        )
    if "lon" in columns:
        expectations += [
            gxe.ExpectColumnValuesToBeBetween(column="lon", min_value=box.min_lon, max_value=box.max_lon),
            gxe.ExpectColumnValuesToBeBetween(column="lat", min_value=box.min_lat, max_value=box.max_lat),
        ]
    for column in columns:
        if column.endswith("_id_token"):
            expectations.append(_token(column, "id"))
        elif column.endswith("_phone_token"):
            expectations.append(_token(column, "phone"))
        elif column.endswith("_name_token"):
            expectations.append(_token(column, "name"))
    if registry == "households":
        expectations += [
            gxe.ExpectColumnValuesToBeBetween(column="household_size", min_value=1, max_value=20),
            gxe.ExpectColumnValuesToBeBetween(column="members_60_plus", min_value=0, max_value=20),
        ]
    return gx.ExpectationSuite(name=f"silver.resources_{registry}", expectations=expectations)


def city_table(table: str) -> gx.ExpectationSuite:
    """silver.city_<table>: one row per id at its latest version."""
    from civiclake.tables import CITY_SILVER_COLUMNS
    from simulators.city import CASE_STATUSES as CITY_CASE_STATUSES
    from simulators.city import CATEGORIES as CITY_CATEGORIES
    from simulators.city import COVER_STATUSES, SETTLEMENT_STATUSES

    key = {"cases": "case_id", "manhole_covers": "asset_id", "repairs": "repair_id"}[table]
    geo = load_geography()
    box = geo.district.box
    expectations = [
        gxe.ExpectTableColumnsToMatchSet(column_set=list(CITY_SILVER_COLUMNS[table]), exact_match=True),
        gxe.ExpectColumnValuesToNotBeNull(column=key),
        gxe.ExpectColumnValuesToBeUnique(column=key),
        gxe.ExpectColumnValuesToNotBeNull(column="updated_at"),
        gxe.ExpectColumnValuesToBeInSet(column="community_code", value_set=sorted(geo.communities)),
        gxe.ExpectColumnValuesToBeInSet(column="street_code", value_set=sorted(geo.streets)),
    ]
    if table in ("cases", "manhole_covers"):
        expectations += [
            gxe.ExpectColumnValuesToBeBetween(column="lon", min_value=box.min_lon, max_value=box.max_lon),
            gxe.ExpectColumnValuesToBeBetween(column="lat", min_value=box.min_lat, max_value=box.max_lat),
        ]
    if table == "cases":
        expectations += [
            gxe.ExpectColumnValuesToBeInSet(column="category", value_set=sorted(CITY_CATEGORIES)),
            gxe.ExpectColumnValuesToBeInSet(column="status", value_set=list(CITY_CASE_STATUSES)),
            _token("reporter_phone_token", "phone"),
            _token("reporter_name_token", "name"),
        ]
    if table == "manhole_covers":
        expectations.append(gxe.ExpectColumnValuesToBeInSet(column="status", value_set=list(COVER_STATUSES)))
    if table == "repairs":
        expectations += [
            gxe.ExpectColumnValuesToBeInSet(column="settlement_status", value_set=list(SETTLEMENT_STATUSES)),
            gxe.ExpectColumnValuesToNotBeNull(column="cost_bearer"),
            gxe.ExpectColumnValuesToBeBetween(column="cost_yuan", min_value=0),
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="repaired_at",
                column_B="made_safe_at",
                or_equal=True,
                ignore_row_if="either_value_is_missing",
            ),
        ]
    return gx.ExpectationSuite(name=f"silver.city_{table}", expectations=expectations)


def _resource_suites():
    from simulators.resources import REGISTRY_NAMES

    return {f"resources_{r}": (lambda r=r: resource_registry(r)) for r in REGISTRY_NAMES}


# Kept apart from SUITES: these tables exist only where their sources are ingested, and
# `civiclake quality resources|city` gates them.
RESOURCE_SUITES = _resource_suites()
CITY_SUITES = {f"city_{t}": (lambda t=t: city_table(t)) for t in ("cases", "manhole_covers", "repairs")}


# --- Open311 requests (silver.open311_requests) --------------------------------------------
def open311_requests(jurisdiction: str) -> gx.ExpectationSuite:
    """The rows of one jurisdiction: its box and time zone, GeoReport statuses, one row per id.

    Kept apart from SUITES: the table exists only where an Open311 source is ingested, and
    `civiclake quality open311 --jurisdiction CODE` gates it.
    """
    from civiclake.jurisdiction import load_jurisdiction
    from civiclake.tables import OPEN311_REQUESTS_COLUMNS

    j = load_jurisdiction(jurisdiction)
    box = j.box
    return gx.ExpectationSuite(
        name=f"silver.open311_requests[{j.code}]",
        expectations=[
            gxe.ExpectTableColumnsToMatchSet(column_set=list(OPEN311_REQUESTS_COLUMNS), exact_match=True),
            gxe.ExpectColumnValuesToBeInSet(column="jurisdiction", value_set=[j.code]),
            gxe.ExpectColumnValuesToNotBeNull(column="service_request_id"),
            gxe.ExpectColumnValuesToBeUnique(column="service_request_id"),
            gxe.ExpectColumnValuesToBeInSet(column="status", value_set=["open", "closed"]),
            gxe.ExpectColumnValuesToNotBeNull(column="service_code"),
            gxe.ExpectColumnValuesToNotBeNull(column="requested_at"),
            gxe.ExpectColumnValuesToNotBeNull(column="updated_at"),
            gxe.ExpectColumnValuesToNotBeNull(column="requested_date_local"),
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="updated_at", column_B="requested_at", or_equal=True
            ),
            gxe.ExpectColumnValuesToBeInSet(column="timezone", value_set=[j.timezone]),
            gxe.ExpectColumnValuesToBeBetween(column="lon", min_value=box.min_lon, max_value=box.max_lon),
            gxe.ExpectColumnValuesToBeBetween(column="lat", min_value=box.min_lat, max_value=box.max_lat),
        ],
    )

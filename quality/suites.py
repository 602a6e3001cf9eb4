"""Expectation suites, one per silver table.

Columns, keys and code lists come from the tables' source contracts (``civiclake.contracts``)
and value sets from the reference geography, so a suite never drifts from the code that
produces the data.
"""

from __future__ import annotations

from functools import partial

import great_expectations as gx
from great_expectations import expectations as gxe

from civiclake.catalogue import CATEGORY_CODES
from civiclake.contracts import catalog, governance
from civiclake.contracts.base import SourceContract
from civiclake.frames import tables as camera_tables
from civiclake.geography import load_geography
from quality.positions import POSITION_SUITES


def _exact_columns(contract: SourceContract):
    """Exactly the contract's silver columns: a raw personal-data column appearing is a failure."""
    return gxe.ExpectTableColumnsToMatchSet(column_set=list(contract.silver_columns()), exact_match=True)


def _codes(contract: SourceContract, column: str):
    return gxe.ExpectColumnValuesToBeInSet(column=column, value_set=list(contract.field(column).accepted))


def governance_cases() -> gx.ExpectationSuite:
    geo = load_geography()
    box = geo.district.box
    cases = governance.CASES
    return gx.ExpectationSuite(
        name="silver.governance_cases",
        expectations=[
            _exact_columns(cases),
            gxe.ExpectColumnValuesToNotBeNull(column="case_id"),
            gxe.ExpectColumnValuesToBeUnique(column="case_id"),
            gxe.ExpectColumnValuesToNotBeNull(column="reported_at"),
            gxe.ExpectColumnValuesToNotBeNull(column="updated_at"),
            _codes(cases, "category"),
            _codes(cases, "channel"),
            _codes(cases, "status"),
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
            _exact_columns(governance.CASE_EVENTS),
            gxe.ExpectColumnValuesToNotBeNull(column="event_id"),
            gxe.ExpectColumnValuesToBeUnique(column="event_id"),
            gxe.ExpectColumnValuesToNotBeNull(column="case_id"),
            gxe.ExpectColumnValuesToNotBeNull(column="occurred_at"),
            gxe.ExpectCompoundColumnsToBeUnique(column_list=["case_id", "seq"]),
            _codes(governance.CASE_EVENTS, "event_type"),
        ],
    )


def governance_grid_workers() -> gx.ExpectationSuite:
    geo = load_geography()
    return gx.ExpectationSuite(
        name="silver.governance_grid_workers",
        expectations=[
            _exact_columns(governance.GRID_WORKERS),
            gxe.ExpectColumnValuesToBeUnique(column="grid_code"),
            gxe.ExpectColumnValuesToBeInSet(column="grid_code", value_set=sorted(geo.grids)),
            gxe.ExpectColumnValuesToNotBeNull(column="worker_id"),
            gxe.ExpectColumnValuesToMatchRegex(column="worker_name_token", regex=r"^name_[0-9a-f]{32}$"),
            gxe.ExpectColumnValuesToMatchRegex(column="worker_phone_token", regex=r"^phone_[0-9a-f]{32}$"),
        ],
    )


def governance_dispatch_orders() -> gx.ExpectationSuite:
    orders = governance.DISPATCH_ORDERS
    return gx.ExpectationSuite(
        name="silver.governance_dispatch_orders",
        expectations=[
            _exact_columns(orders),
            gxe.ExpectColumnValuesToNotBeNull(column="order_id"),
            gxe.ExpectColumnValuesToBeUnique(column="order_id"),
            gxe.ExpectColumnValuesToMatchRegex(column="order_id", regex=r"^DO[0-9a-f]{20}$"),
            gxe.ExpectColumnValuesToNotBeNull(column="case_id"),
            gxe.ExpectColumnValuesToNotBeNull(column="department"),
            gxe.ExpectColumnValuesToNotBeNull(column="issued_at"),
            gxe.ExpectColumnValuesToNotBeNull(column="updated_at"),
            _codes(orders, "kind"),
            _codes(orders, "level"),
            _codes(orders, "status"),
            # A department accepts an order at or after it was issued.
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="accepted_at",
                column_B="issued_at",
                or_equal=True,
                ignore_row_if="either_value_is_missing",
            ),
        ],
    )


def governance_weather_warnings() -> gx.ExpectationSuite:
    warnings = governance.WEATHER_WARNINGS
    geo = load_geography()
    return gx.ExpectationSuite(
        name="silver.governance_weather_warnings",
        expectations=[
            _exact_columns(warnings),
            gxe.ExpectColumnValuesToNotBeNull(column="warning_id"),
            gxe.ExpectColumnValuesToBeUnique(column="warning_id"),
            gxe.ExpectColumnValuesToNotBeNull(column="issued_at"),
            gxe.ExpectColumnValuesToNotBeNull(column="updated_at"),
            _codes(warnings, "kind"),
            _codes(warnings, "level"),
            gxe.ExpectColumnValuesToBeInSet(column="district_code", value_set=[geo.district.code]),
            # Null street: a warning for the whole district.
            gxe.ExpectColumnValuesToBeInSet(column="street_code", value_set=sorted(geo.streets)),
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="lifted_at",
                column_B="issued_at",
                or_equal=True,
                ignore_row_if="either_value_is_missing",
            ),
        ],
    )


GOVERNANCE_SUITES = {
    "governance_cases": governance_cases,
    "governance_case_events": governance_case_events,
    "governance_grid_workers": governance_grid_workers,
    "governance_dispatch_orders": governance_dispatch_orders,
    "governance_weather_warnings": governance_weather_warnings,
}


# --- File-export sources (party building, people services): one suite per silver table ---


def file_export_suite(table: str) -> gx.ExpectationSuite:
    """The suite of a file-export silver table, built from its declared contract: exact
    columns (a raw personal-data column appearing is a failure), unique business key,
    code lists, geography, the jurisdiction box and token formats."""
    from civiclake.jurisdiction import load_jurisdiction
    from civiclake.settings import get_settings

    contract = catalog.contract(table)
    geo = load_geography()
    box = load_jurisdiction(get_settings().jurisdiction).box
    key = list(contract.key)
    expectations = [
        _exact_columns(contract),
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


FILE_EXPORT_SUITES = {
    table: partial(file_export_suite, table)
    for family in ("party", "services")
    for table in catalog.silver_tables(family)
}


# --- basic-resource registries (SCD2) and city management ---------------------------------


def _token(column: str, kind: str):
    return gxe.ExpectColumnValuesToMatchRegex(column=column, regex=rf"^{kind}_[0-9a-f]{{32}}$")


def resource_registry(registry: str) -> gx.ExpectationSuite:
    """silver.resources_<registry>: every version of every row (SCD2)."""
    contract = catalog.contract(f"resources_{registry}")
    key = contract.key[0]
    columns = contract.merge_columns()
    geo = load_geography()
    box = geo.district.box
    expectations = [
        _exact_columns(contract),
        gxe.ExpectColumnValuesToNotBeNull(column=key),
        # One version opens per key and snapshot date; a second would be a broken merge.
        gxe.ExpectCompoundColumnsToBeUnique(column_list=[key, "valid_from"]),
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
    expectations += [_token(f.stored_name, f.pii.split("_")[0]) for f in contract.fields if f.pii]
    if registry == "households":
        expectations += [
            gxe.ExpectColumnValuesToBeBetween(column="household_size", min_value=1, max_value=20),
            gxe.ExpectColumnValuesToBeBetween(column="members_60_plus", min_value=0, max_value=20),
        ]
    return gx.ExpectationSuite(name=f"silver.resources_{registry}", expectations=expectations)


def city_table(table: str) -> gx.ExpectationSuite:
    """silver.city_<table>: one row per id at its latest version."""
    contract = catalog.contract(f"city_{table}")
    key = contract.key[0]
    geo = load_geography()
    box = geo.district.box
    expectations = [
        _exact_columns(contract),
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
            gxe.ExpectColumnValuesToBeInSet(
                column="category", value_set=sorted(contract.field("category").accepted)
            ),
            _codes(contract, "status"),
            _token("reporter_phone_token", "phone"),
            _token("reporter_name_token", "name"),
        ]
    if table == "manhole_covers":
        expectations.append(_codes(contract, "status"))
    if table == "repairs":
        expectations += [
            _codes(contract, "settlement_status"),
            # Nobody bears the cost while the settlement is pending; every later state names who.
            gxe.ExpectColumnValuesToNotBeNull(
                column="cost_bearer", row_condition='settlement_status!="pending"', condition_parser="pandas"
            ),
            gxe.ExpectColumnValuesToBeBetween(column="cost_yuan", min_value=0),
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="repaired_at",
                column_B="made_safe_at",
                or_equal=True,
                ignore_row_if="either_value_is_missing",
            ),
        ]
    if table == "settlement_events":
        expectations += [
            _codes(contract, "step"),
            _codes(contract, "from_status"),
            _codes(contract, "to_status"),
            gxe.ExpectColumnValuesToNotBeNull(column="repair_id"),
            gxe.ExpectColumnValuesToNotBeNull(column="occurred_at"),
            gxe.ExpectColumnValuesToNotBeNull(column="actor"),
            # A step happens once per repair: the event id is <repair_id>-<step>.
            gxe.ExpectCompoundColumnsToBeUnique(column_list=["repair_id", "step"]),
            gxe.ExpectColumnValuesToBeBetween(column="amount_yuan", min_value=0.01),
        ]
    return gx.ExpectationSuite(name=f"silver.city_{table}", expectations=expectations)


RESOURCE_SUITES = {
    table: partial(resource_registry, table.removeprefix("resources_"))
    for table in catalog.silver_tables("resources")
}
CITY_SUITES = {
    table: partial(city_table, table.removeprefix("city_")) for table in catalog.silver_tables("city")
}


# --- Open311 requests (silver.open311_requests) --------------------------------------------
def open311_requests(jurisdiction: str) -> gx.ExpectationSuite:
    """The rows of one jurisdiction: its box and time zone, GeoReport statuses, one row per id
    (`civiclake quality open311 --jurisdiction CODE`)."""
    from civiclake.contracts.open311 import REQUESTS
    from civiclake.jurisdiction import load_jurisdiction

    j = load_jurisdiction(jurisdiction)
    box = j.box
    return gx.ExpectationSuite(
        name=f"silver.open311_requests[{j.code}]",
        expectations=[
            _exact_columns(REQUESTS),
            gxe.ExpectColumnValuesToBeInSet(column="jurisdiction", value_set=[j.code]),
            gxe.ExpectColumnValuesToNotBeNull(column="service_request_id"),
            gxe.ExpectColumnValuesToBeUnique(column="service_request_id"),
            _codes(REQUESTS, "status"),
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


# --- Camera clips, detections and events (civiclake/frames/tables.py) ---------------------


def camera_table(table: str) -> gx.ExpectationSuite:
    """silver.camera_*: exactly the columns of civiclake/frames/tables.py (a pixel column
    appearing is a failure), keys, codes of the class catalogue and the geography, scores in
    0..1, boxes inside their frame, events that end after they start."""
    from civiclake.frames.classes import load_classes

    classes = load_classes()
    geo = load_geography()
    box = geo.district.box
    sha256 = r"^[0-9a-f]{64}$"
    expectations = [
        gxe.ExpectTableColumnsToMatchSet(
            column_set=list(camera_tables.column_names(table)), exact_match=True
        ),
        gxe.ExpectColumnValuesToNotBeNull(column="hour"),
    ]
    if table == camera_tables.CLIPS:
        expectations += [
            gxe.ExpectColumnValuesToBeUnique(column="clip_id"),
            gxe.ExpectColumnValuesToMatchRegex(column="clip_id", regex=sha256),
            *[gxe.ExpectColumnValuesToNotBeNull(column=c) for c in ("camera_id", "file", "started_at")],
            gxe.ExpectColumnValuesToBeInSet(column="kind", value_set=list(camera_tables.KINDS)),
            gxe.ExpectColumnValuesToBeBetween(column="frames_sampled", min_value=1),
            gxe.ExpectColumnValuesToBeBetween(column="fps", min_value=0, strict_min=True),
            gxe.ExpectColumnValuesToNotBeNull(column="model_version"),
        ]
    elif table == camera_tables.QUARANTINE:
        expectations += [
            gxe.ExpectColumnValuesToNotBeNull(column="file"),
            gxe.ExpectColumnValuesToBeInSet(
                column="reason", value_set=list(camera_tables.QUARANTINE_REASONS)
            ),
            gxe.ExpectColumnValuesToNotBeNull(column="detail"),
        ]
    elif table == camera_tables.DETECTIONS:
        expectations += [
            gxe.ExpectColumnValuesToMatchRegex(column="clip_id", regex=sha256),
            *[
                gxe.ExpectColumnValuesToNotBeNull(column=c)
                for c in ("camera_id", "frame_time", "model_version")
            ],
            gxe.ExpectColumnValuesToBeInSet(column="class", value_set=sorted(classes)),
            gxe.ExpectColumnValuesToBeBetween(column="score", min_value=0, max_value=1),
            gxe.ExpectColumnValuesToBeBetween(column="frame_index", min_value=0),
            gxe.ExpectColumnValuesToBeBetween(column="frame_width", min_value=1),
            gxe.ExpectColumnValuesToBeBetween(column="frame_height", min_value=1),
            gxe.ExpectColumnValuesToBeBetween(column="xmin", min_value=0),
            gxe.ExpectColumnValuesToBeBetween(column="ymin", min_value=0),
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="xmax", column_B="xmin", or_equal=True),
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="ymax", column_B="ymin", or_equal=True),
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="frame_width", column_B="xmax", or_equal=True
            ),
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="frame_height", column_B="ymax", or_equal=True
            ),
        ]
    elif table == camera_tables.EVENTS:
        events = sorted(code for code, c in classes.items() if c.event)
        expectations += [
            gxe.ExpectColumnValuesToBeUnique(column="event_id"),
            gxe.ExpectColumnValuesToMatchRegex(column="event_id", regex=r"^CE-.+-[a-z][a-z0-9_]*-[0-9]{14}$"),
            *[
                gxe.ExpectColumnValuesToNotBeNull(column=c)
                for c in ("camera_id", "started_at", "ended_at", "auto_dispatch", "model_version")
            ],
            # A hard negative (garbage_bin) never makes an event.
            gxe.ExpectColumnValuesToBeInSet(column="class", value_set=events),
            gxe.ExpectColumnValuesToBeInSet(column="category", value_set=list(CATEGORY_CODES)),
            gxe.ExpectColumnValuesToBeBetween(column="peak_score", min_value=0, max_value=1),
            gxe.ExpectColumnValuesToBeBetween(column="frames_seen", min_value=1),
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="frames_sampled", column_B="frames_seen", or_equal=True
            ),
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="ended_at", column_B="started_at", or_equal=True
            ),
            gxe.ExpectColumnValuesToBeInSet(column="district_code", value_set=[geo.district.code]),
            gxe.ExpectColumnValuesToBeInSet(column="street_code", value_set=sorted(geo.streets)),
            gxe.ExpectColumnValuesToBeInSet(column="community_code", value_set=sorted(geo.communities)),
            gxe.ExpectColumnValuesToBeInSet(column="grid_code", value_set=sorted(geo.grids)),
            gxe.ExpectColumnValuesToBeBetween(column="lon", min_value=box.min_lon, max_value=box.max_lon),
            gxe.ExpectColumnValuesToBeBetween(column="lat", min_value=box.min_lat, max_value=box.max_lat),
        ]
    else:
        raise KeyError(f"no camera table {table!r}")
    return gx.ExpectationSuite(name=f"silver.{table}", expectations=expectations)


CAMERA_SUITES = {table: partial(camera_table, table) for table in camera_tables.TABLES}


# One suite per silver table. Open311's checks one jurisdiction's rows, so it is built for
# the jurisdiction a gate names (``suites_for``).
SUITES = {
    **GOVERNANCE_SUITES,
    **CITY_SUITES,
    **RESOURCE_SUITES,
    **POSITION_SUITES,
    **CAMERA_SUITES,
    **FILE_EXPORT_SUITES,
}
PER_JURISDICTION = {"open311_requests": open311_requests}


def suites_for(tables: tuple[str, ...], jurisdiction: str | None = None) -> dict:
    """Table → suite factory for ``tables``; a per-jurisdiction suite needs ``jurisdiction``."""
    chosen = {}
    for table in tables:
        if table in PER_JURISDICTION:
            if jurisdiction is None:
                raise ValueError(f"the suite of silver.{table} checks one jurisdiction's rows: name it")
            chosen[table] = partial(PER_JURISDICTION[table], jurisdiction)
        else:
            chosen[table] = SUITES[table]
    return chosen

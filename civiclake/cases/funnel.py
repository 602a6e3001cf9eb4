"""The case funnel's table, ``silver.cases``: one row per case of every channel.

Its columns, the common status vocabulary and how each source's channel, status and case
id become the funnel's. spark_jobs/case_funnel.py builds the table from these; the scoring
job, dbt's ``funnel`` source and the tests read the same names from here.

Times follow the lake's convention for the district's own systems: the wall-clock time of
the case's place, kept as the UTC instant of the same digits. Open311 stores true instants,
so the funnel moves them to the wall clock of the request's jurisdiction.
"""

from __future__ import annotations

TABLE = "cases"
# The jurisdiction of the district's own systems (governance, city management) and of the
# geography reference (civiclake/reference/geography): Longhua. Only its cases are scored,
# routed and dispatched; another jurisdiction's Open311 rows are kept under their own.
DISTRICT_JURISDICTION = "longhua"

SOURCE_SYSTEMS = ("governance", "city", "open311", "camera")

# (column, Spark SQL type, what it holds)
COLUMNS: tuple[tuple[str, str, str], ...] = (
    (
        "case_id",
        "string",
        "unique across sources: GC… (governance), CM… (city), 311:<jurisdiction>:<id>, CE-… (camera event)",
    ),
    ("source_system", "string", "governance, city, open311 or camera (silver.camera_events)"),
    ("source_case_id", "string", "the case's id in its source system"),
    ("channel", "string", "how the case came in (civiclake.catalogue.FUNNEL_CHANNELS)"),
    ("jurisdiction", "string", "whose case it is (civiclake/reference/jurisdictions)"),
    ("source_category", "string", "the category code of the source system"),
    ("category", "string", "the catalogue's category (source_categories.yaml); null when unmapped"),
    (
        "category_trusted",
        "boolean",
        "true where staff chose the source's category (city system), or a camera model whose card "
        "opens the class's gate (auto_dispatch)",
    ),
    ("description", "string", "the case text, personal numbers as tokens"),
    ("district_code", "string", "area codes of the district's geography (null outside it)"),
    ("street_code", "string", ""),
    ("community_code", "string", ""),
    ("grid_code", "string", ""),
    ("lon", "double", ""),
    ("lat", "double", ""),
    (
        "asset_id",
        "string",
        "the manhole cover (city register) a governance or city case is about; routes it to the cover's owner",
    ),
    ("reported_at", "timestamp", "local wall-clock time, kept as the UTC instant of the same digits"),
    ("closed_at", "timestamp", "as reported_at; null while open"),
    ("status", "string", "the common status vocabulary (STATUSES)"),
    (
        "feedback_text",
        "string",
        "the answer given to the reporter (governance feedback, Open311 status notes)",
    ),
    ("updated_at", "timestamp", "the source's last change, as reported_at"),
)
COLUMN_NAMES = tuple(name for name, _, _ in COLUMNS)
SPARK_SCHEMA = ", ".join(f"{name} {kind}" for name, kind, _ in COLUMNS)

# The common status vocabulary: received (not yet with a department), in_progress (with a
# department: dispatched, transferred, accepted, returned for rework, reopened), handled
# (the department has acted, the case is not closed yet), closed.
STATUSES = ("received", "in_progress", "handled", "closed")
GOVERNANCE_STATUSES = {
    "created": "received",
    "dispatched": "in_progress",
    "transferred": "in_progress",
    "accepted": "in_progress",
    "returned": "in_progress",
    "reopened": "in_progress",
    "handled": "handled",
    "fed_back": "handled",
    "closed": "closed",
}
CITY_STATUSES = {
    "reported": "received",
    "dispatched": "in_progress",
    "handled": "handled",
    "closed": "closed",
}
# Open311 says only open or closed; an open request with an agency responsible is with a department.
OPEN311_CLOSED = "closed"

# The city-management system's source of a case → the funnel's channel.
CITY_CHANNELS = {"citizen_12345": "hotline_12345", "patrol": "city_patrol", "camera_ai": "camera"}
OPEN311_CHANNEL = "open311"
# A camera event (silver.camera_events) is a case of the camera channel; its id is the event's.
CAMERA_CHANNEL = "camera"


def open311_case_id(jurisdiction: str, service_request_id: str) -> str:
    """A funnel case id for an Open311 request: ids are unique within a jurisdiction only."""
    return f"311:{jurisdiction}:{service_request_id}"


def open311_status(status: str | None, agency_responsible: str | None) -> str:
    if status == OPEN311_CLOSED:
        return "closed"
    return "in_progress" if agency_responsible and agency_responsible.strip() else "received"


def arrow_schema():
    """The table's schema as Arrow (delta-rs), e.g. to create it empty where no funnel ran yet:
    Spark's ``timestamp`` is Delta's UTC-adjusted timestamp."""
    import pyarrow as pa

    types = {
        "string": pa.string(),
        "boolean": pa.bool_(),
        "double": pa.float64(),
        "timestamp": pa.timestamp("us", tz="UTC"),
    }
    return pa.schema([(name, types[kind]) for name, kind, _ in COLUMNS])

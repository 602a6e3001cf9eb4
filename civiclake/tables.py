"""Column contracts of the silver tables, shared by the jobs that write them and the
suites that check them."""

from __future__ import annotations

# silver.governance_cases: one row per case at its latest version; personal data as tokens.
GOVERNANCE_CASES_COLUMNS = (
    "case_id",
    "channel",
    "category",
    "department",
    "description",
    "district_code",
    "street_code",
    "community_code",
    "grid_code",
    "lon",
    "lat",
    "reporter_name_token",
    "reporter_phone_token",
    "reporter_id_token",
    "reporter_id_valid",
    "reported_at",
    "dispatched_at",
    "closed_at",
    "status",
    "satisfaction",
    "updated_at",
    "accepted_at",
    "handled_at",
    "fed_back_at",
    "batch_date",
)

# silver.governance_grid_workers: the worker on duty in each grid; name and phone as tokens.
GOVERNANCE_GRID_WORKERS_COLUMNS = (
    "grid_code",
    "community_code",
    "street_code",
    "worker_id",
    "worker_name_token",
    "worker_phone_token",
    "on_duty_since",
    "updated_at",
    "batch_date",
)

# silver.governance_case_events: the status history, one row per lifecycle event.
GOVERNANCE_CASE_EVENTS_COLUMNS = (
    "event_id",
    "case_id",
    "seq",
    "event_type",
    "department",
    "occurred_at",
    "recorded_at",
    "batch_date",
)


# --- File-export sources (party building, people services) ---
# Their silver columns derive from each export's declared contract (civiclake.ingest.contracts).


def file_export_columns(table: str) -> tuple[str, ...]:
    """Silver columns of a file-export table, e.g. ``file_export_columns("party_members")``."""
    from civiclake.ingest.exports import EXPORTS

    return EXPORTS[table].silver_columns()


# silver.open311_requests: one row per (jurisdiction, service_request_id) at its latest
# version. Times are instants (Delta stores them in UTC); ``timezone`` and
# ``requested_date_local`` give the jurisdiction's own calendar.
OPEN311_REQUESTS_COLUMNS = (
    "jurisdiction",
    "service_request_id",
    "status",
    "status_notes",
    "service_code",
    "service_name",
    "description",
    "agency_responsible",
    "address",
    "zipcode",
    "lat",
    "lon",
    "media_url",
    "requested_at",
    "updated_at",
    "closed_at",
    "expected_at",
    "timezone",
    "requested_date_local",
    "source_url",
    "batch_date",
)


# --- basic-resource registries and city management ---------------------------------------

# silver.resources_<registry>: one row per version of a registry row (SCD2); personal data
# as tokens. ``registered_on``, ``updated_on`` and ``batch_date`` are carried, not tracked;
# civiclake.lake.SCD2_COLUMNS (row hash, validity dates, current and deleted flags) follow.
RESOURCE_SILVER_COLUMNS = {
    "households": (
        "household_id",
        "community_code",
        "grid_code",
        "household_size",
        "members_0_17",
        "members_18_59",
        "members_60_plus",
        "elderly_living_alone",
        "has_disabled_member",
        "child_in_difficulty",
        "low_income",
        "head_name_token",
        "head_id_token",
        "head_phone_token",
        "head_id_valid",
        "registered_on",
        "updated_on",
        "batch_date",
    ),
    "buildings": (
        "building_id",
        "community_code",
        "grid_code",
        "lon",
        "lat",
        "address",
        "building_use",
        "floors",
        "house_units",
        "built_year",
        "safety_rating",
        "registered_on",
        "updated_on",
        "batch_date",
    ),
    "legal_entities": (
        "entity_id",
        "entity_name",
        "entity_type",
        "industry",
        "community_code",
        "grid_code",
        "lon",
        "lat",
        "status",
        "employees",
        "legal_rep_name_token",
        "legal_rep_phone_token",
        "registered_on",
        "updated_on",
        "batch_date",
    ),
    "cameras": (
        "camera_id",
        "community_code",
        "grid_code",
        "lon",
        "lat",
        "camera_type",
        "owner_department",
        "status",
        "registered_on",
        "updated_on",
        "batch_date",
    ),
    "vehicles": (
        "vehicle_id",
        "plate_number",
        "vehicle_type",
        "street_code",
        "status",
        "energy",
        "registered_on",
        "updated_on",
        "batch_date",
    ),
    "teams": (
        "team_id",
        "team_type",
        "team_name",
        "street_code",
        "community_code",
        "member_count",
        "leader_name_token",
        "leader_phone_token",
        "registered_on",
        "updated_on",
        "batch_date",
    ),
    "departments": (
        "department_code",
        "department_name",
        "level",
        "parent_code",
        "duty_phone",
        "staff_count",
        "registered_on",
        "updated_on",
        "batch_date",
    ),
}

# silver.city_<table>: one row per id at its latest version (MERGE on updated_at).
CITY_SILVER_COLUMNS = {
    "cases": (
        "case_id",
        "category",
        "source",
        "description",
        "district_code",
        "street_code",
        "community_code",
        "grid_code",
        "lon",
        "lat",
        "asset_id",
        "reporter_name_token",
        "reporter_phone_token",
        "reported_at",
        "dispatched_at",
        "closed_at",
        "status",
        "updated_at",
        "batch_date",
    ),
    "manhole_covers": (
        "asset_id",
        "cover_type",
        "district_code",
        "street_code",
        "community_code",
        "grid_code",
        "lon",
        "lat",
        "owner_department",
        "owner_known",
        "status",
        "installed_on",
        "updated_at",
        "batch_date",
    ),
    "repairs": (
        "repair_id",
        "case_id",
        "asset_id",
        "district_code",
        "street_code",
        "community_code",
        "made_safe_at",
        "repaired_at",
        "cost_yuan",
        "cost_bearer",
        "settlement_status",
        "settled_at",
        "updated_at",
        "batch_date",
    ),
}

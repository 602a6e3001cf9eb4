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
    "batch_date",
)

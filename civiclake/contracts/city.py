"""City management (智慧城管): the tables of its operational PostgreSQL database, schema ``city``.

City-management cases, the manhole-cover asset register (its owner department, or none
where nobody has claimed the cover), repair records with the state of their cost settlement
and the settlement's events. Under 先修后定 ("repair first, settle later") the street's squad
repairs first; then an owner claims the cover and the cost is recovered from it and settled,
or, nobody claiming it, the street bears the cost (civiclake/manholes/settlement.py). Every
table is extracted by ``updated_at``; its timestamps cannot lie after the extraction window.
"""

from __future__ import annotations

from civiclake.contracts.base import AREA, DatabaseTable, Field, SilverColumn, SourceContract, stored_codes

FAMILY = "city"

# The system's case categories: Chinese name → code.
CATEGORIES = {
    "井盖破损缺失": "manhole",
    "占道经营": "street_vending",
    "垃圾暴露": "garbage",
    "违规停放": "illegal_parking",
    "道路破损": "road_damage",
    "违规广告": "outdoor_ads",
}
CASE_SOURCES = stored_codes("patrol", "camera_ai", "citizen_12345")
CASE_STATUSES = stored_codes("reported", "dispatched", "handled", "closed")
COVER_STATUSES = stored_codes("normal", "damaged", "made_safe")
# A repair's settlement (civiclake/manholes/settlement.py): pending → claimed → cost_recovered →
# settled, or pending → borne_by_street; a settlement event records each step.
SETTLEMENT_STATUSES = stored_codes("pending", "claimed", "cost_recovered", "settled", "borne_by_street")
SETTLEMENT_STEPS = stored_codes("claim", "recover", "settle", "street_bears")

CASES = SourceContract(
    table="city_cases",
    family=FAMILY,
    source=DatabaseTable("city.cases"),
    columns=(
        Field("case_id"),
        Field("category", codes=CATEGORIES),
        Field("source", codes=CASE_SOURCES),
        Field("description", nullable=True),
        *AREA,
        Field("community_code", nullable=True),
        Field("grid_code", nullable=True),
        Field("lon", type="float", nullable=True),
        Field("lat", type="float", nullable=True),
        Field("asset_id", nullable=True),  # the manhole cover a manhole case is about
        Field("reporter_name", pii="name", nullable=True),
        Field("reporter_phone", pii="phone", nullable=True),
        Field("reported_at", type="timestamp", not_after_batch=True),
        Field("dispatched_at", type="timestamp", nullable=True, not_after_batch=True),
        Field("closed_at", type="timestamp", nullable=True, not_after_batch=True),
        Field("status", codes=CASE_STATUSES),
        Field("updated_at", type="timestamp", not_after_batch=True),
    ),
    key=("case_id",),
    community_field="community_code",
    lon_field="lon",
    lat_field="lat",
)

MANHOLE_COVERS = SourceContract(
    table="city_manhole_covers",
    family=FAMILY,
    source=DatabaseTable("city.manhole_covers"),
    columns=(
        Field("asset_id"),
        Field("cover_type"),
        *AREA,
        Field("community_code", nullable=True),
        Field("grid_code", nullable=True),
        Field("lon", type="float", nullable=True),
        Field("lat", type="float", nullable=True),
        Field("owner_department", nullable=True),  # none: owner unknown (先修后定 applies)
        SilverColumn("owner_known", "bool"),
        Field("status", codes=COVER_STATUSES),
        Field("installed_on", type="date", nullable=True),
        Field("updated_at", type="timestamp", not_after_batch=True),
    ),
    key=("asset_id",),
    community_field="community_code",
    lon_field="lon",
    lat_field="lat",
)

REPAIRS = SourceContract(
    table="city_repairs",
    family=FAMILY,
    source=DatabaseTable("city.repairs"),
    columns=(
        Field("repair_id"),
        Field("case_id"),
        Field("asset_id"),
        *AREA,
        Field("community_code", nullable=True),
        Field("made_safe_at", type="timestamp", not_after_batch=True),
        Field("repaired_at", type="timestamp", nullable=True, not_after_batch=True),
        Field("cost_yuan", type="decimal(10,2)", nullable=True),
        Field("cost_bearer", nullable=True),  # the claiming owner, or the street office; none while pending
        Field("settlement_status", codes=SETTLEMENT_STATUSES),
        Field("settled_at", type="timestamp", nullable=True, not_after_batch=True),
        Field("updated_at", type="timestamp", not_after_batch=True),
    ),
    key=("repair_id",),
    community_field="community_code",
)

# Append-only: one row per step of a repair's settlement, written in the transaction that
# changes the repair (``civiclake manhole …``); ``event_id`` is ``<repair_id>-<step>``.
SETTLEMENT_EVENTS = SourceContract(
    table="city_settlement_events",
    family=FAMILY,
    source=DatabaseTable("city.settlement_events"),
    columns=(
        Field("event_id"),
        Field("repair_id"),
        Field("asset_id"),
        *AREA,
        Field("community_code", nullable=True),
        Field("step", codes=SETTLEMENT_STEPS),
        Field("from_status", codes=SETTLEMENT_STATUSES),
        Field("to_status", codes=SETTLEMENT_STATUSES),
        Field("owner", nullable=True),  # the claimant, or the street office that bears the cost
        Field("amount_yuan", type="decimal(10,2)", nullable=True),  # recover: the amount recovered
        Field("actor"),  # who recorded the step
        Field("occurred_at", type="timestamp", not_after_batch=True),
        Field("updated_at", type="timestamp", not_after_batch=True),
    ),
    key=("event_id",),
    community_field="community_code",
)

CONTRACTS = (CASES, MANHOLE_COVERS, REPAIRS, SETTLEMENT_EVENTS)

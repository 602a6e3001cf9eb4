"""City management (智慧城管): the tables of its operational PostgreSQL database, schema ``city``.

City-management cases, the manhole-cover asset register (its owner department, or none
where nobody has claimed the cover) and repair records with their cost settlement: a repair
of a cover without a known owner is paid by the street under 先修后定 ("repair first,
settle later"); a known owner settles with the street. Every table is extracted by
``updated_at``; its timestamps cannot lie after the extraction window.
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
SETTLEMENT_STATUSES = stored_codes("pending", "settled_with_owner", "borne_by_street")

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
        Field("cost_bearer", nullable=True),  # the owner department, or the street office that paid
        Field("settlement_status", codes=SETTLEMENT_STATUSES),
        Field("settled_at", type="timestamp", nullable=True, not_after_batch=True),
        Field("updated_at", type="timestamp", not_after_batch=True),
    ),
    key=("repair_id",),
    community_field="community_code",
)

CONTRACTS = (CASES, MANHOLE_COVERS, REPAIRS)

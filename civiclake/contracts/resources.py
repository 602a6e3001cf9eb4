"""Basic-resource registries (基础资源): the registry office's full daily extracts.

One Parquet file per registry and day (``civiclake.ingest.registry_extracts``). Silver
keeps every version of every row (SCD2): a change in a tracked column opens a new version;
``registered_on``, ``updated_on`` and ``batch_date`` are carried, not tracked. Residents'
and contacts' names, phones and ID numbers become tokens; an ID number's check digit is
kept as a flag. The vehicle registry is the public-service fleet only: no private vehicles.
"""

from __future__ import annotations

from civiclake.contracts.base import Field, RegistrySnapshot, SilverColumn, SourceContract

FAMILY = "resources"

# Every registry row carries the day it entered the registry and the day its row last changed.
DATES = (
    Field("registered_on", type="date", not_after_batch=True),
    Field("updated_on", type="date", not_after_batch=True),
)

HOUSEHOLDS = SourceContract(
    table="resources_households",
    family=FAMILY,
    source=RegistrySnapshot("households"),
    columns=(
        Field("household_id"),
        Field("community_code"),
        Field("grid_code"),
        Field("household_size", type="int"),
        Field("members_0_17", type="int"),
        Field("members_18_59", type="int"),
        Field("members_60_plus", type="int"),
        Field("elderly_living_alone", type="bool"),
        Field("has_disabled_member", type="bool"),
        Field("child_in_difficulty", type="bool"),
        Field("low_income", type="bool"),
        Field("head_name", pii="name"),
        Field("head_id_number", pii="id_number", id_number=True),
        Field("head_phone", pii="phone"),
        SilverColumn("head_id_valid", "bool"),
        *DATES,
    ),
    key=("household_id",),
    community_field="community_code",
    scd2_tracked=(
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
    ),
)

BUILDINGS = SourceContract(
    table="resources_buildings",
    family=FAMILY,
    source=RegistrySnapshot("buildings"),
    columns=(
        Field("building_id"),
        Field("community_code"),
        Field("grid_code"),
        Field("lon", type="float"),
        Field("lat", type="float"),
        Field("address"),
        Field("building_use"),
        Field("floors", type="int"),
        Field("house_units", type="int"),
        Field("built_year", type="int"),
        Field("safety_rating"),
        *DATES,
    ),
    key=("building_id",),
    community_field="community_code",
    lon_field="lon",
    lat_field="lat",
    scd2_tracked=(
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
    ),
)

LEGAL_ENTITIES = SourceContract(
    table="resources_legal_entities",
    family=FAMILY,
    source=RegistrySnapshot("legal_entities"),
    columns=(
        Field("entity_id"),  # unified social credit code
        Field("entity_name"),
        Field("entity_type"),
        Field("industry"),
        Field("community_code"),
        Field("grid_code"),
        Field("lon", type="float"),
        Field("lat", type="float"),
        Field("status"),
        Field("employees", type="int"),
        Field("legal_rep_name", pii="name"),
        Field("legal_rep_phone", pii="phone"),
        *DATES,
    ),
    key=("entity_id",),
    community_field="community_code",
    lon_field="lon",
    lat_field="lat",
    scd2_tracked=(
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
    ),
)

CAMERAS = SourceContract(
    table="resources_cameras",
    family=FAMILY,
    source=RegistrySnapshot("cameras"),
    columns=(
        Field("camera_id"),
        Field("community_code"),
        Field("grid_code"),
        Field("lon", type="float"),
        Field("lat", type="float"),
        Field("camera_type"),
        Field("owner_department"),
        Field("status"),
        *DATES,
    ),
    key=("camera_id",),
    community_field="community_code",
    lon_field="lon",
    lat_field="lat",
    scd2_tracked=("community_code", "grid_code", "lon", "lat", "camera_type", "owner_department", "status"),
)

VEHICLES = SourceContract(
    table="resources_vehicles",
    family=FAMILY,
    source=RegistrySnapshot("vehicles"),
    columns=(
        Field("vehicle_id"),
        Field("plate_number"),
        Field("vehicle_type"),
        Field("street_code"),
        Field("status"),
        Field("energy"),
        *DATES,
    ),
    key=("vehicle_id",),
    scd2_tracked=("plate_number", "vehicle_type", "street_code", "status", "energy"),
)

TEAMS = SourceContract(
    table="resources_teams",
    family=FAMILY,
    source=RegistrySnapshot("teams"),
    columns=(
        Field("team_id"),
        Field("team_type"),
        Field("team_name"),
        Field("street_code"),
        Field("community_code", nullable=True),  # none for a street-level team
        Field("member_count", type="int"),
        Field("leader_name", pii="name"),
        Field("leader_phone", pii="phone"),
        *DATES,
    ),
    key=("team_id",),
    community_field="community_code",
    scd2_tracked=(
        "team_type",
        "team_name",
        "street_code",
        "community_code",
        "member_count",
        "leader_name_token",
        "leader_phone_token",
    ),
)

DEPARTMENTS = SourceContract(
    table="resources_departments",
    family=FAMILY,
    source=RegistrySnapshot("departments"),
    columns=(
        Field("department_code"),
        Field("department_name"),
        Field("level"),
        Field("parent_code"),
        Field("duty_phone"),  # an office's public duty line, not personal data
        Field("staff_count", type="int"),
        *DATES,
    ),
    key=("department_code",),
    scd2_tracked=("department_name", "level", "parent_code", "duty_phone", "staff_count"),
)

CONTRACTS = (HOUSEHOLDS, BUILDINGS, LEGAL_ENTITIES, CAMERAS, VEHICLES, TEAMS, DEPARTMENTS)
REGISTRY_NAMES = tuple(c.source.registry for c in CONTRACTS)
REGISTRIES = dict(zip(REGISTRY_NAMES, CONTRACTS, strict=True))

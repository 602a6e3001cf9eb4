"""Arrow schemas of the silver tables the dbt marts read beyond governance, as the Spark
ingest writes them (every column nullable, no partitions).

A district connects its source systems one at a time; ``civiclake.marts.prepare`` creates
any of these tables that is absent as an empty Delta table of its schema, so the marts of
a family not loaded yet come out empty but well-formed instead of failing the build.
``tests/integration`` compares each schema with what the real ingest writes.
"""

from __future__ import annotations

import pyarrow as pa

from civiclake.ingest.contracts import ExportContract
from civiclake.ingest.exports import EXPORTS
from civiclake.lake import SCD2_COLUMNS
from civiclake.tables import CITY_SILVER_COLUMNS, RESOURCE_SILVER_COLUMNS

# Spark writes its timestamps as UTC-labelled microseconds and its dates as day numbers.
TIMESTAMP = pa.timestamp("us", tz="UTC")
ARROW_TYPES = {
    "string": pa.string(),
    "bigint": pa.int64(),
    "double": pa.float64(),
    "date": pa.date32(),
    "timestamp": TIMESTAMP,
    "boolean": pa.bool_(),
}

# Columns of the registry and city-management tables whose type is not a string; the
# types come from the registry extracts (Parquet) and the PostgreSQL tables.
NON_STRING_TYPES = {
    "household_size": pa.int64(),
    "members_0_17": pa.int64(),
    "members_18_59": pa.int64(),
    "members_60_plus": pa.int64(),
    "elderly_living_alone": pa.bool_(),
    "has_disabled_member": pa.bool_(),
    "child_in_difficulty": pa.bool_(),
    "low_income": pa.bool_(),
    "head_id_valid": pa.bool_(),
    "member_count": pa.int64(),
    "lon": pa.float64(),
    "lat": pa.float64(),
    "registered_on": pa.date32(),
    "updated_on": pa.date32(),
    "installed_on": pa.date32(),
    "batch_date": pa.date32(),
    "owner_known": pa.bool_(),
    "reported_at": TIMESTAMP,
    "dispatched_at": TIMESTAMP,
    "closed_at": TIMESTAMP,
    "updated_at": TIMESTAMP,
    "made_safe_at": TIMESTAMP,
    "repaired_at": TIMESTAMP,
    "settled_at": TIMESTAMP,
    "cost_yuan": pa.decimal128(10, 2),  # numeric(10, 2) in the source database
    # SCD2 bookkeeping (civiclake.lake.scd2_merge)
    "_row_hash": pa.string(),
    "valid_from": pa.date32(),
    "valid_to": pa.date32(),
    "is_current": pa.bool_(),
    "is_deleted": pa.bool_(),
}

REGISTRIES_READ = ("households", "cameras", "vehicles", "teams")
CITY_TABLES_READ = ("cases", "manhole_covers", "repairs")
EXPORTS_READ = (
    "party_organisations",
    "party_members",
    "party_activities",
    "party_attendance",
    "party_volunteer_services",
    "services_care_visits",
    "services_coupons",
    "services_requests",
)


def _schema(columns: tuple[str, ...]) -> pa.Schema:
    return pa.schema([pa.field(c, NON_STRING_TYPES.get(c, pa.string()), nullable=True) for c in columns])


def export_schema(contract: ExportContract) -> pa.Schema:
    types = contract.silver_types()
    return pa.schema([pa.field(c, ARROW_TYPES[types[c]], nullable=True) for c in contract.silver_columns()])


def _all_schemas() -> dict[str, pa.Schema]:
    schemas = {
        f"resources_{r}": _schema((*RESOURCE_SILVER_COLUMNS[r], *SCD2_COLUMNS)) for r in REGISTRIES_READ
    }
    schemas |= {f"city_{t}": _schema(CITY_SILVER_COLUMNS[t]) for t in CITY_TABLES_READ}
    schemas |= {table: export_schema(EXPORTS[table]) for table in EXPORTS_READ}
    return schemas


# silver table name → its Arrow schema, for every optional table the marts read.
SILVER_SCHEMAS: dict[str, pa.Schema] = _all_schemas()

# Source family of each table (the dbt source that reads it).
FAMILY_OF = {
    table: "resources" if table.startswith("resources_") else table.split("_", 1)[0]
    for table in SILVER_SCHEMAS
}

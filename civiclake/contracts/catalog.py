"""Every source contract by its silver table, and what follows from one: silver's columns
and their Arrow schema.

``contract("governance_cases")`` is the contract of ``governance.cases``;
``silver_schema(table)`` is the schema the Spark ingest writes, as delta-rs reads it
(``civiclake.marts`` creates an absent table empty with it).
"""

from __future__ import annotations

import pyarrow as pa

from civiclake.contracts import city, governance, open311, party, positions, resources, services
from civiclake.contracts.base import SourceContract

# Source family → its contracts, in the order the daily run lands the families.
FAMILIES: dict[str, tuple[SourceContract, ...]] = {
    "governance": governance.CONTRACTS,
    "city": city.CONTRACTS,
    "resources": resources.CONTRACTS,
    "positions": positions.CONTRACTS,
    "party": party.CONTRACTS,
    "services": services.CONTRACTS,
    "open311": open311.CONTRACTS,
}
CONTRACTS: dict[str, SourceContract] = {c.table: c for family in FAMILIES.values() for c in family}

# Spark writes its timestamps as UTC-labelled microseconds and its dates as day numbers.
_ARROW_TYPES = {
    "string": pa.string(),
    "bigint": pa.int64(),
    "smallint": pa.int16(),
    "double": pa.float64(),
    "decimal(10,2)": pa.decimal128(10, 2),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "boolean": pa.bool_(),
}


def contract(table: str) -> SourceContract:
    """The contract of the source table feeding ``silver.<table>``."""
    try:
        return CONTRACTS[table]
    except KeyError:
        raise KeyError(
            f"no source contract for silver table {table!r}; known: {', '.join(CONTRACTS)}"
        ) from None


def silver_tables(family: str) -> tuple[str, ...]:
    """The silver tables a source family's ingest writes."""
    return tuple(c.table for c in FAMILIES[family])


def silver_columns(table: str) -> tuple[str, ...]:
    return contract(table).silver_columns()


def silver_schema(table: str) -> pa.Schema:
    """The Arrow schema of ``silver.<table>`` as the Spark ingest writes it (every column nullable)."""
    c = contract(table)
    types = c.silver_types()
    return pa.schema(
        [pa.field(name, _ARROW_TYPES[types[name]], nullable=True) for name in c.silver_columns()]
    )

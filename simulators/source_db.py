"""The simulated operational PostgreSQL tables, as their source contracts declare them.

The real systems own their schemas; the simulators create theirs from the contracts
(``civiclake.contracts``), so the tables they fill are the tables the ingest reads.
"""

from __future__ import annotations

from collections.abc import Iterable

from civiclake.contracts.base import TYPES, DatabaseTable, SourceContract


def _table(contract: SourceContract) -> DatabaseTable:
    if not isinstance(contract.source, DatabaseTable):
        raise TypeError(f"{contract.table} does not come from a database table")
    return contract.source


def create_table_sql(contract: SourceContract) -> str:
    """``create table if not exists`` with every field, then ``add column if not exists`` for
    each, so a table created by an older simulator gains the columns added since (nullable)."""
    table = _table(contract).name
    key = contract.key[0]
    lines = []
    for f in contract.fields:
        constraint = " primary key" if f.name == key else "" if f.nullable else " not null"
        lines.append(f"    {f.name} {TYPES[f.type].postgres}{constraint}")
    added = ",\n".join(
        f"    add column if not exists {f.name} {TYPES[f.type].postgres}"
        for f in contract.fields
        if f.name != key
    )
    return (
        f"create table if not exists {table} (\n"
        + ",\n".join(lines)
        + f"\n);\nalter table {table}\n{added};\n"
    )


def create_tables_sql(contracts: Iterable[SourceContract]) -> str:
    return "".join(create_table_sql(c) for c in contracts)


def insert_sql(contract: SourceContract) -> str:
    """Inserts a row (a tuple in the contract's field order); a row already there is kept."""
    table = _table(contract).name
    columns = contract.source_columns
    return (
        f"insert into {table} ({', '.join(columns)}) values ({', '.join(['%s'] * len(columns))}) "
        f"on conflict ({contract.key[0]}) do nothing"
    )


def upsert_sql(contract: SourceContract) -> str:
    """Inserts a row or updates the one with its key, never with an older version of it."""
    source = _table(contract)
    columns = contract.source_columns
    key = contract.key[0]
    return (
        f"insert into {source.name} ({', '.join(columns)}) values ({', '.join(['%s'] * len(columns))}) "
        f"on conflict ({key}) do update set "
        + ", ".join(f"{c} = excluded.{c}" for c in columns if c != key)
        + f" where {source.name}.{source.updated_column} < excluded.{source.updated_column}"
    )

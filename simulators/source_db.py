"""The simulated operational PostgreSQL tables, as their source contracts declare them.

The real systems own their schemas; the simulators create theirs from the contracts
(``civiclake.contracts``), so the tables they fill are the tables the ingest reads, and
bring a table created by an older simulator up to its contract.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import psycopg

from civiclake.contracts.base import TYPES, DatabaseTable, SourceContract

log = logging.getLogger(__name__)


def _table(contract: SourceContract) -> DatabaseTable:
    if not isinstance(contract.source, DatabaseTable):
        raise TypeError(f"{contract.table} does not come from a database table")
    return contract.source


def create_table_sql(contract: SourceContract) -> str:
    """``create table if not exists`` with every field of the contract."""
    table = _table(contract).name
    key = contract.key[0]
    lines = []
    for f in contract.fields:
        constraint = " primary key" if f.name == key else "" if f.nullable else " not null"
        lines.append(f"    {f.name} {TYPES[f.type].postgres}{constraint}")
    return f"create table if not exists {table} (\n" + ",\n".join(lines) + "\n);\n"


def add_columns_sql(contract: SourceContract, present: Iterable[str]) -> str | None:
    """``alter table … add column if not exists`` for the contract's fields a table created
    by an older simulator lacks (None: it lacks none). They are added nullable: the rows
    already there have no value for them."""
    present = set(present)
    missing = [f for f in contract.fields if f.name not in present]
    if not missing:
        return None
    added = ",\n".join(f"    add column if not exists {f.name} {TYPES[f.type].postgres}" for f in missing)
    return f"alter table {_table(contract).name}\n{added};\n"


def ensure_tables(conn: psycopg.Connection, contracts: Iterable[SourceContract]) -> list[str]:
    """Creates the contracts' tables, and adds to an existing one the columns its contract
    gained since it was created (a developer's database keeps working after an upgrade).
    Alters only a table that lacks a column, so a run with nothing to add takes no table
    lock that a concurrent extraction would wait for. Returns ``table.column`` of each
    column added."""
    contracts = list(contracts)
    for contract in contracts:
        conn.execute(create_table_sql(contract))
    names = [_table(c).name for c in contracts]
    present: dict[str, set[str]] = {name: set() for name in names}
    for schema, table, column in conn.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        "where table_schema || '.' || table_name = any(%s)",
        (names,),
    ).fetchall():
        present[f"{schema}.{table}"].add(column)
    added = []
    for contract, name in zip(contracts, names, strict=True):
        sql = add_columns_sql(contract, present[name])
        if sql is not None:
            conn.execute(sql)
            added += [f"{name}.{f.name}" for f in contract.fields if f.name not in present[name]]
    if added:
        log.info("added columns the contracts declare to existing source tables: %s", ", ".join(added))
    return added


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

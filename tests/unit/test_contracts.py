"""The source contracts hold together, and what is not made from them agrees with them: the
simulated source tables, and the columns dbt's staging sources declare."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from civiclake import marts
from civiclake.contracts import catalog, city, governance
from civiclake.contracts.base import DatabaseTable, ExportFiles, Field, SilverColumn, SourceContract
from civiclake.settings import PROJECT_ROOT, Settings

STAGING = PROJECT_ROOT / "dbt" / "models" / "staging"
CONTRACTS = list(catalog.CONTRACTS.values())


def _ids(contracts):
    return [c.table for c in contracts]


@pytest.mark.parametrize("contract", CONTRACTS, ids=_ids(CONTRACTS))
def test_silver_holds_tokens_never_the_personal_values(contract):
    columns = contract.silver_columns()
    for f in contract.fields:
        if f.pii:
            assert f.name not in columns
            assert f.stored_name in columns or contract.silver
    assert set(contract.key) <= set(columns)


@pytest.mark.parametrize("contract", CONTRACTS, ids=_ids(CONTRACTS))
def test_id_numbers_are_flagged_where_the_ingest_flags_them(contract):
    """Database and registry extraction keep an ID number's check as ``<name>_valid``; a file
    export's row with a bad ID number is quarantined instead."""
    flags = {f"{f.name.removesuffix('_number')}_valid" for f in contract.fields if f.pii == "id_number"}
    present = {c for c in contract.silver_columns() if c.endswith("_valid")}
    assert present == (set() if isinstance(contract.source, ExportFiles) else flags)


def test_a_contract_names_only_its_own_columns():
    with pytest.raises(ValueError, match="'case_no' is not one of its columns"):
        SourceContract(
            table="t",
            family="f",
            source=DatabaseTable("s.t"),
            columns=(Field("case_id"), SilverColumn("batch_no")),
            key=("case_no",),
        )
    with pytest.raises(ValueError, match="unknown type"):
        Field("x", type="varchar")


def test_families_and_tables():
    assert list(catalog.FAMILIES) == [
        "governance",
        "city",
        "resources",
        "positions",
        "party",
        "services",
        "open311",
    ]
    assert catalog.silver_tables("city") == (
        "city_cases",
        "city_manhole_covers",
        "city_repairs",
        "city_settlement_events",
    )
    assert all(c.family == family for family, cs in catalog.FAMILIES.items() for c in cs)
    with pytest.raises(KeyError, match="no source contract for silver table 'nothing'"):
        catalog.contract("nothing")


def test_the_simulated_database_rows_follow_the_contracts():
    from simulators.city import TABLES as CITY_TABLES
    from simulators.city import rows_changed_on as city_rows
    from simulators.governance import CaseEvent, CaseRow, WorkerRow

    assert CaseRow._fields == governance.CASES.source_columns
    assert CaseEvent._fields == governance.CASE_EVENTS.source_columns
    assert WorkerRow._fields == governance.GRID_WORKERS.source_columns
    rows = city_rows(date(2026, 11, 25), Settings(sim_scale=0.001), backlog=True)
    assert {CITY_TABLES[t].table: {len(r) for r in table_rows} for t, table_rows in rows.items()} == {
        c.table: {len(c.source_columns)} for c in city.CONTRACTS
    }


def _dbt_source_tables() -> dict[str, tuple[Path, dict]]:
    """Silver table → (YAML file, its entry) for every table a dbt staging source reads."""
    tables = {}
    for path in sorted(STAGING.rglob("*.yml")):
        for source in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("sources") or []:
            for table in source.get("tables") or []:
                delta_path = (table.get("meta") or {}).get("delta_table_path", "")
                silver = delta_path.rsplit("/silver/", 1)[-1] if "/silver/" in delta_path else table["name"]
                tables[silver] = (path, table)
    return tables


def test_dbt_sources_declare_only_columns_of_their_contract():
    """A column a dbt source declares is one its table's contract gives silver (where the
    YAML lists no columns, there is nothing to hold against the contract)."""
    sources = _dbt_source_tables()
    assert sources, f"no dbt sources found under {STAGING}"
    for table, (path, entry) in sources.items():
        if table not in catalog.CONTRACTS:
            continue  # written by the platform itself (dispatch, reference), not a source
        declared = [c["name"] for c in entry.get("columns") or []]
        unknown = sorted(set(declared) - set(catalog.silver_columns(table)))
        assert not unknown, f"{path}: source table {table} declares columns its contract lacks: {unknown}"


def test_the_optional_mart_inputs_are_dbt_sources_with_contracts():
    sources = _dbt_source_tables()
    for table in marts.OPTIONAL_SILVER_TABLES:
        assert table in sources, f"{table} is created empty for the marts but no dbt source reads it"
        assert table in catalog.CONTRACTS

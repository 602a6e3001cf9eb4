"""What a run produced: rows per layer, the reconciliation and the mart totals by street.

Read with delta-rs and DuckDB (no Spark), so the summary is quick and can be printed at
the end of a DAG run or by the demo.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pyarrow.compute as pc
from deltalake import DeltaTable

from civiclake.settings import Settings


def _dataset(settings: Settings, layer: str, table: str):
    path = settings.table_path(layer, table)
    if not DeltaTable.is_deltatable(path):
        return None
    return DeltaTable(path).to_pyarrow_dataset()


def _count(settings: Settings, layer: str, table: str, batch_date: date | None = None) -> int:
    dataset = _dataset(settings, layer, table)
    if dataset is None:
        return 0
    if batch_date is None:
        return dataset.count_rows()
    return dataset.count_rows(filter=pc.field("batch_date") == pc.scalar(batch_date))


def run_summary(settings: Settings, logical_date: date) -> dict:
    layers = {
        "bronze.governance_cases (batch)": _count(settings, "bronze", "governance_cases", logical_date),
        "silver.governance_cases (all)": _count(settings, "silver", "governance_cases"),
        "silver.governance_cases_quarantine (batch)": _count(
            settings, "silver", "governance_cases_quarantine", logical_date
        ),
        "silver.case_dispatch (batch)": _count(settings, "silver", "case_dispatch", logical_date),
    }
    reconciliation = {}
    recon = _dataset(settings, "state", "reconciliation")
    if recon is not None:
        rows = recon.to_table(filter=pc.field("batch_date") == pc.scalar(logical_date)).to_pylist()
        reconciliation = {r["table_name"]: {k: v for k, v in r.items() if k.endswith("_rows")} for r in rows}
    dispatch = {}
    dispatch_ds = _dataset(settings, "silver", "case_dispatch")
    if dispatch_ds is not None:
        table = dispatch_ds.to_table(filter=pc.field("batch_date") == pc.scalar(logical_date))
        for decision in ("auto", "review"):
            dispatch[decision] = int(pc.sum(pc.equal(table["decision"], decision)).as_py() or 0)
    streets: list[dict] = []
    district: dict = {}
    marts_file = settings.published_marts_file
    if marts_file.exists():
        with duckdb.connect(str(marts_file), read_only=True) as con:
            query = (
                "select level, area_code, area_name, cases_reported, cases_closed "
                "from mart_cases_by_level_daily where report_date = ? and level in ('district', 'street') "
                "order by level, area_code"
            )
            for level, code, name, reported, closed in con.execute(query, [logical_date]).fetchall():
                row = {
                    "area_code": code,
                    "area_name": name,
                    "cases_reported": reported,
                    "cases_closed": closed,
                }
                if level == "district":
                    district = row
                else:
                    streets.append(row)
            layers["marts.mart_cases_by_community_daily (all)"] = con.execute(
                "select count(*) from mart_cases_by_community_daily"
            ).fetchall()[0][0]
    return {
        "logical_date": str(logical_date),
        "rows": layers,
        "reconciliation": reconciliation,
        "dispatch": dispatch,
        "district": district,
        "streets": streets,
        "marts_file": str(marts_file),
        "lake": settings.lake,
    }

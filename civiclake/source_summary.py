"""Per-source counts of one batch: what each silver table received, kept, quarantined and
set aside as duplicates (from the reconciliation state table), and why rows were
quarantined (from every ``silver/<table>_quarantine`` table).

Read with delta-rs and DuckDB (no Spark), for the demo's closing print and the summary.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from civiclake.lake.read import dataset_or_none
from civiclake.settings import Settings

RECONCILIATION_COLUMNS = ("source_rows", "silver_rows", "quarantined_rows", "duplicate_rows")


def batch_counts(settings: Settings, batch_date: date) -> dict[str, dict[str, int]]:
    """``{table: {source_rows, silver_rows, quarantined_rows, duplicate_rows}}`` of the batch."""
    reconciliation = dataset_or_none(settings, "state", "reconciliation")
    if reconciliation is None:
        return {}
    with duckdb.connect() as con:
        con.register("reconciliation", reconciliation)
        rows = con.execute(
            f"select table_name, {', '.join(RECONCILIATION_COLUMNS)} from reconciliation "
            "where batch_date = ? order by table_name",
            [batch_date],
        ).fetchall()
    return {row[0]: dict(zip(RECONCILIATION_COLUMNS, row[1:], strict=True)) for row in rows}


def quarantine_reasons(settings: Settings, batch_date: date) -> dict[str, dict[str, int]]:
    """``{table: {reason: rows}}`` of the rows quarantined in the batch, busiest reason first."""
    silver = Path(settings.table_path("silver", ""))
    if not silver.is_dir():
        return {}
    found: dict[str, dict[str, int]] = {}
    with duckdb.connect() as con:
        for folder in sorted(silver.glob("*_quarantine")):
            dataset = dataset_or_none(settings, "silver", folder.name)
            if dataset is None or "quarantine_reason" not in dataset.schema.names:
                continue
            con.register("quarantine", dataset)
            rows = con.execute(
                "select quarantine_reason, count(*) from quarantine where batch_date = ? "
                "group by 1 order by 2 desc, 1",
                [batch_date],
            ).fetchall()
            con.unregister("quarantine")
            if rows:
                found[folder.name.removesuffix("_quarantine")] = dict(rows)
    return found


def source_lines(counts: dict[str, dict[str, int]], reasons: dict[str, dict[str, int]]) -> list[str]:
    """The batch per silver table as aligned lines of text, with its quarantine reasons."""
    if not counts:
        return []
    width = max(len(t) for t in counts)
    lines = [f"{'silver table':{width}}  {'source':>8} {'silver':>8} {'quarantine':>10} {'duplicate':>9}"]
    for table, c in counts.items():
        lines.append(
            f"{table:{width}}  {c['source_rows']:>8,} {c['silver_rows']:>8,} "
            f"{c['quarantined_rows']:>10,} {c['duplicate_rows']:>9,}"
        )
        base = table.split(":", 1)[0]  # open311_requests:<jurisdiction>
        for reason, rows in reasons.get(base, {}).items():
            lines.append(f"{'':{width}}    quarantined {rows:>6,} × {reason}")
    return lines

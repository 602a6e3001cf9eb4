"""Reading the lake's state tables in integration tests."""

from __future__ import annotations

from datetime import date


def reconciliation_row(spark, settings, table: str, batch: date | str):
    """The one reconciliation record of ``table`` for batch date ``batch``."""
    rows = (
        spark.read.format("delta")
        .load(settings.table_path("state", "reconciliation"))
        .where(f"table_name = '{table}' and batch_date = '{batch}'")
        .collect()
    )
    assert len(rows) == 1, f"{len(rows)} reconciliation records of {table} for {batch}"
    return rows[0]

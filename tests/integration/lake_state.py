"""Reading the lake in integration tests: its state tables, and what its files hold."""

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


def assert_no_raw_values(lake_dir, phones_and_ids: set[str], names: set[str], only: str = "") -> None:
    """Phones and ID numbers: not as bytes in any file; names: not as a string value in Parquet."""
    import pyarrow.parquet as pq

    raw = [v.encode() for v in phones_and_ids]
    files = [p for p in lake_dir.rglob("*") if p.is_file() and only in str(p)]
    assert any(p.suffix == ".parquet" for p in files)
    for path in files:
        content = path.read_bytes()
        assert not any(value in content for value in raw), f"raw phone/ID number in {path}"
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            for column in table.column_names:
                if str(table.schema.field(column).type) == "string":
                    found = set(table.column(column).drop_null().to_pylist()) & names
                    assert not found, f"raw name in {path}:{column}"

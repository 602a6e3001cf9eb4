"""The quality gate of silver.governance_dispatch_orders: the orders as the ingest lands them
from the governance system, after the departments updated them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
from deltalake import write_deltalake

from civiclake.contracts.catalog import silver_schema
from civiclake.dispatch.orders import order_id
from civiclake.settings import Settings
from quality.silver import gate
from quality.suites import governance_dispatch_orders

ISSUED = datetime(2026, 11, 26, tzinfo=UTC)
ACCEPTED = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)


def orders() -> list[dict]:
    first = order_id("GC1", "dispatch", "street", "交通警察大队")
    return [
        {
            "order_id": first,
            "case_id": "GC1",
            "kind": "dispatch",
            "level": "street",
            "department": "交通警察大队",
            "issued_at": ISSUED,
            "accepted_at": ACCEPTED,
            "status": "superseded",
            "updated_at": ACCEPTED,
        },
        {
            "order_id": order_id("GC1", "transfer", "community", "城市管理和综合执法局", first),
            "case_id": "GC1",
            "kind": "transfer",
            "level": "community",
            "department": "城市管理和综合执法局",
            "previous_order_id": first,
            "issued_at": ISSUED,
            "status": "issued",
            "updated_at": ISSUED,
        },
    ]


def check(tmp_path, rows: list[dict]):
    settings = Settings(data_dir=tmp_path)
    schema = silver_schema("governance_dispatch_orders")
    table = pa.Table.from_pylist([{c: r.get(c) for c in schema.names} for r in rows], schema=schema)
    write_deltalake(settings.table_path("silver", "governance_dispatch_orders"), table)
    (report,) = gate(settings, {"governance_dispatch_orders": governance_dispatch_orders})
    return report


def test_the_gate_passes_orders_as_delivered_and_accepted(tmp_path):
    report = check(tmp_path, orders())
    assert report.success, report.failures
    assert report.rows == 2


def test_the_gate_fails_each_kind_of_bad_order(tmp_path):
    good = orders()
    bad = [
        good[0] | {"order_id": order_id("GC2", "dispatch", "street", "x"), "kind": "recall"},
        good[0]
        | {
            "order_id": order_id("GC3", "dispatch", "street", "x"),
            "accepted_at": ISSUED - timedelta(hours=1),
        },
        good[0] | {"order_id": "ORDER-7"},
    ]
    report = check(tmp_path, good + bad)
    assert not report.success
    failed = "\n".join(report.failures)
    assert "expect_column_values_to_be_in_set" in failed and "recall" in failed
    assert "expect_column_pair_values_a_to_be_greater_than_b" in failed
    assert "expect_column_values_to_match_regex" in failed and "ORDER-7" in failed

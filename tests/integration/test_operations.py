"""A joint operation end to end: started from a plan, its orders delivered to the governance
system once, the simulated departments accept and complete them, the governance ingest (Spark)
brings their states to silver, the follow-up escalates each overdue order once, and the
operations marts (dbt, duckdb) show the same states.

Its own source database and lake (the session's Spark). Expected states are worked out here
from the rows the departments wrote to PostgreSQL, independently of the code under test.
"""

from __future__ import annotations

import json
import os
from datetime import date, datetime

import duckdb
import psycopg
import pytest

from civiclake import marts
from civiclake.dispatch.orders import close_of_day
from civiclake.geography import load_geography
from civiclake.lake.read import read_table
from civiclake.operations.follow import follow
from civiclake.operations.start import start_operation
from civiclake.settings import PROJECT_ROOT, Settings
from simulators.departments import act_on_orders
from simulators.governance import ensure_schema
from tests.integration.conftest import scratch_database

pytestmark = pytest.mark.integration

D = date(2026, 11, 25)  # a Wednesday
PLAN = "flood_response"  # five tasks, 1–3 hours each
STARTED_AT = datetime(2026, 11, 25, 16, 0)  # late in the working day: some accepted only tomorrow


@pytest.fixture(scope="module")
def platform(tmp_path_factory, spark):
    with scratch_database(f"civiclake_it_ops_{os.getpid()}") as name:
        settings = Settings(
            data_dir=tmp_path_factory.mktemp("operations"),
            jars_dir=PROJECT_ROOT / "var" / "jars",
            pg_sources_db=name,
        )
        with psycopg.connect(settings.pg_conninfo()) as conn:
            ensure_schema(conn)  # the governance system's tables, as its simulator creates them
        yield settings


def _orders(settings: Settings) -> list[dict]:
    with psycopg.connect(settings.pg_conninfo()) as conn, conn.cursor() as cur:
        cur.execute(
            "select order_id, kind, previous_order_id, accepted_at, completed_at from "
            "governance.dispatch_orders order by order_id"
        )
        names = [d.name for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def test_an_operation_from_start_to_marts(platform, spark):
    from spark_jobs import ingest_governance

    settings = platform
    geo = load_geography()
    (street,) = [code for code, area in geo.streets.items() if area.name == "观澜街道"]

    started = start_operation(
        settings, PLAN, street, started_at=STARTED_AT, started_by="manual", start_key="it-run-1"
    )
    again = start_operation(
        settings, PLAN, street, started_at=STARTED_AT, started_by="manual", start_key="it-run-1"
    )
    assert started.new and not again.new and again.enqueued == 0
    tasks = started.tasks.set_index("order_id")
    assert len(tasks) == 5
    assert {o["order_id"] for o in _orders(settings)} == set(tasks.index)

    act_on_orders(D, settings)
    ingest_governance.run(spark, settings, D)

    # The states at the close of D, from what the departments wrote (times up to D+1 00:00
    # are what D's ingest read).
    as_of = close_of_day(D)
    written = {o["order_id"]: o for o in _orders(settings)}
    expected = {}
    for order_id, task in tasks.iterrows():
        done = written[order_id]["completed_at"]
        if done is not None and done <= as_of:
            expected[order_id] = "completed"
        elif task["due_at"] < as_of:
            expected[order_id] = "overdue"
        else:
            expected[order_id] = "accepted" if written[order_id]["accepted_at"] else "issued"
    assert "completed" in expected.values() and "overdue" in expected.values(), expected

    first = follow(settings, D)
    overdue = sorted(k for k, v in expected.items() if v == "overdue")
    assert sorted(first.escalations["previous_order_id"]) == overdue
    assert first.enqueued == len(overdue)
    states = first.states.set_index("order_id")["state"].to_dict()
    assert states == {k: "escalated" if v == "overdue" else v for k, v in expected.items()}
    (report,) = first.report.itertuples()
    assert (report.status, report.orders, report.completed) == (
        "overdue",
        5,
        sum(v == "completed" for v in expected.values()),
    )

    # Followed up again before the escalations reach the lake: no order twice, no second escalation.
    second = follow(settings, D)
    assert second.enqueued == 0
    escalations = [o for o in _orders(settings) if o["kind"] == "escalation"]
    assert sorted(o["previous_order_id"] for o in escalations) == overdue
    silver = read_table(settings, "silver", "governance_dispatch_orders").to_pandas()
    operation_rows = silver[silver["case_id"] == started.operation_id]
    # Each order once; an order the departments last updated after the day is not in D's ingest.
    assert operation_rows["order_id"].is_unique
    assert set(operation_rows["order_id"]) <= set(tasks.index)

    # The marts as of D: the same states, and the operation overdue.
    marts.prepare(settings)
    variables = json.dumps({"as_of": D.isoformat()})
    marts.run_dbt(
        settings,
        "build",
        "--select",
        "+mart_operations",
        "+mart_operation_orders",
        "--indirect-selection",
        "cautious",
        "--vars",
        variables,
    )
    with duckdb.connect(str(marts.build_file(settings)), read_only=True) as con:
        mart_states = dict(
            con.execute("select order_id, order_state from main.mart_operation_orders").fetchall()
        )
        row = con.execute(
            "select status, orders, completed, overdue, escalated, area_name from main.mart_operations"
        ).fetchall()
    assert mart_states == states
    assert row == [("overdue", 5, report.completed, len(overdue), len(overdue), geo.streets[street].name)]

"""Dispatch orders delivered to the governance system's PostgreSQL table, exactly once.

A scratch source database holds ``governance.dispatch_orders`` as the simulator creates it
(from the contract); the lake's decisions are written with delta-rs. No Spark.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import psycopg
import pyarrow as pa
import pytest
import yaml
from deltalake import DeltaTable, write_deltalake
from typer.testing import CliRunner

from civiclake.contracts.governance import DISPATCH_ORDERS
from civiclake.dispatch import outbox
from civiclake.dispatch.delivery import enqueue_decisions
from civiclake.dispatch.orders import close_of_day
from civiclake.dispatch.rules import DEFAULT_RULES_FILE, load_rules, route
from civiclake.geography import load_geography
from civiclake.settings import PROJECT_ROOT, Settings
from simulators.source_db import create_table_sql
from tests.integration.conftest import scratch_database

pytestmark = pytest.mark.integration

D = date(2026, 11, 25)
CATEGORIES = ("parking", "garbage", "environment", "parking", "labour", "parking", "noise")


@pytest.fixture
def settings(tmp_path):
    with scratch_database(f"civiclake_it_dispatch_{os.getpid()}") as name:
        settings = Settings(data_dir=tmp_path, pg_sources_db=name)
        with psycopg.connect(settings.pg_conninfo()) as conn:
            conn.execute("create schema governance")
            conn.execute(create_table_sql(DISPATCH_ORDERS))
        yield settings


def write_decisions(settings: Settings, corrected: dict[str, str] | None = None) -> pd.DataFrame:
    """silver.case_dispatch and silver.governance_cases for one case per category, routed by
    the shipped rules; ``corrected`` maps a case to the department a reviewer chose."""
    geography = load_geography()
    communities = sorted(geography.communities)
    cases = pd.DataFrame(
        {
            "case_id": [f"GC{n:03d}" for n in range(len(CATEGORIES))],
            "category": list(CATEGORIES),
            "community_code": [communities[n * 7] for n in range(len(CATEGORIES))],
            "reported_at": [datetime(2026, 11, 25, 9 + n) for n in range(len(CATEGORIES))],
        }
    )
    cases["grid_code"] = [geography.grids_of(c)[0].code for c in cases["community_code"]]
    cases["street_code"] = [geography.communities[c].parent_code for c in cases["community_code"]]
    routed = route(cases, load_rules())
    corrected = corrected or {}
    reviewer = cases["case_id"].map(corrected).astype("string")
    dispatch = pd.DataFrame(
        {
            "case_id": cases["case_id"],
            "routed_department": reviewer.fillna(routed["department"]),
            "batch_date": D,
            "department": reviewer.fillna(routed["department"]),
            "team": routed["team"],
            "rule_id": routed["rule_id"],
            "route_input_category": cases["category"],
            "route_input_community_code": cases["community_code"],
            "route_input_grid_code": cases["grid_code"],
            "route_input_department": reviewer,
            "route_input_reviewed": reviewer.notna(),
        }
    )
    write_deltalake(settings.table_path("silver", "case_dispatch"), dispatch, mode="overwrite")
    silver_cases = cases[["case_id", "street_code"]].assign(
        reported_at=cases["reported_at"].dt.tz_localize(UTC),  # the lake's wall clock as UTC instants
        closed_at=pd.Series([None] * len(cases), dtype="datetime64[us, UTC]"),
    )
    silver_cases.loc[silver_cases["case_id"] == "GC005", "closed_at"] = pd.Timestamp(
        "2026-11-25 18:00", tz=UTC
    )
    write_deltalake(settings.table_path("silver", "governance_cases"), silver_cases, mode="overwrite")
    return dispatch


def pg_orders(settings: Settings) -> pd.DataFrame:
    with psycopg.connect(settings.pg_conninfo()) as conn:
        cursor = conn.execute(f"select * from {DISPATCH_ORDERS.source.name} order by order_id")
        columns = [c.name for c in cursor.description]
        return pd.DataFrame(cursor.fetchall(), columns=columns)


CRASHING_DELIVERY = textwrap.dedent(
    """
    import os, sys
    from datetime import date
    from civiclake.dispatch import outbox
    from civiclake.dispatch.delivery import enqueue_decisions
    from civiclake.settings import Settings

    settings = Settings(data_dir=sys.argv[1], pg_sources_db=sys.argv[2])
    print(enqueue_decisions(settings, date.fromisoformat(sys.argv[3])), flush=True)

    def die(*args, **kwargs):  # the process ends after the PostgreSQL commit, before the outbox records it
        os._exit(17)

    outbox._record_delivered = die
    outbox.deliver(settings, batch_size=3)
    """
)


def test_a_crash_between_commit_and_record_still_delivers_each_order_once(settings):
    write_decisions(settings)
    crashed = subprocess.run(
        [sys.executable, "-c", CRASHING_DELIVERY, str(settings.data_dir), settings.pg_sources_db, str(D)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert crashed.returncode == 17, crashed.stderr
    # The first batch reached PostgreSQL; the outbox does not know it.
    assert len(pg_orders(settings)) == 3
    assert outbox.read(settings)["delivered_at"].isna().sum() == len(CATEGORIES)

    counts = outbox.deliver(settings, batch_size=3)
    assert counts == {
        "pending": 7,
        "inserted": 4,
        "already_there": 3,
        "superseded": 0,
        "batches": 3,
    }
    sent = pg_orders(settings)
    assert len(sent) == len(CATEGORIES) and sent["case_id"].is_unique
    assert set(sent["order_id"]) == set(outbox.read(settings)["order_id"])
    assert (sent["kind"] == "dispatch").all() and (sent["status"] == "issued").all()
    assert (sent["issued_at"] == close_of_day(D)).all()  # the close of the day decided
    assert (sent["updated_at"] == sent["issued_at"]).all() and sent["accepted_at"].isna().all()
    assert outbox.read(settings)["delivered_at"].notna().all()
    # Rerunning the day: no new order, nothing to send, PostgreSQL unchanged.
    assert enqueue_decisions(settings, D)["enqueued"] == 0
    assert outbox.deliver(settings)["pending"] == 0
    assert pg_orders(settings).equals(sent)


def test_a_reviewers_new_department_is_a_transfer_that_supersedes_the_order(settings):
    write_decisions(settings)
    enqueue_decisions(settings, D)
    outbox.deliver(settings)
    first = pg_orders(settings).set_index("case_id")
    # The department accepts the order of GC001 the next morning (as the simulated departments do).
    accepted = datetime(2026, 11, 26, 9, 30)
    with psycopg.connect(settings.pg_conninfo()) as conn:
        conn.execute(
            "update governance.dispatch_orders set status = 'accepted', accepted_at = %s, updated_at = %s "
            "where case_id = 'GC001'",
            (accepted, accepted),
        )
    write_decisions(settings, corrected={"GC001": "住房和建设局"})
    day2 = D + timedelta(days=1)
    assert enqueue_decisions(settings, day2) | {} == {
        "decisions": 7,
        "dispatch_orders": 0,
        "transfer_orders": 1,
        "enqueued": 1,
    }
    assert outbox.deliver(settings)["superseded"] == 1
    orders = pg_orders(settings)
    transfer = orders[orders["kind"] == "transfer"].iloc[0]
    assert transfer["case_id"] == "GC001" and transfer["department"] == "住房和建设局"
    assert transfer["previous_order_id"] == first.loc["GC001", "order_id"]
    assert transfer["issued_at"] == close_of_day(date(2026, 11, 26))
    before = orders.set_index("order_id").loc[first.loc["GC001", "order_id"]]
    assert before["status"] == "superseded"
    assert before["accepted_at"] == accepted and before["updated_at"] == close_of_day(date(2026, 11, 26))
    # The other cases' orders are untouched.
    others = orders[(orders["case_id"] != "GC001")]
    assert (others["status"] == "issued").all() and len(others) == 6


def listing(output: str) -> set[tuple[str, ...]]:
    """The rows of the reroute table the command printed (case, from, to, rule)."""
    rows = set()
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip().strip("│").split("│")]
        if len(cells) == 4 and cells[0].startswith("GC"):
            rows.add(tuple(cells))
    return rows


def test_reroute_dry_run_lists_exactly_the_orders_the_real_run_sends(settings, tmp_path, monkeypatch):
    from civiclake.cli import app

    write_decisions(settings)
    enqueue_decisions(settings, D)
    outbox.deliver(settings)
    document = yaml.safe_load(DEFAULT_RULES_FILE.read_text(encoding="utf-8"))
    for rule in document["rules"]:
        if rule["id"] == "parking":  # parking moves from the traffic police to city management
            rule["department"], rule["team"] = "城市管理和综合执法局", "{street_name}城管执法中队"
    new_rules = tmp_path / "new_rules.yaml"
    new_rules.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("CIVICLAKE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("CIVICLAKE_PG_SOURCES_DB", settings.pg_sources_db)
    args = ["dispatch", "reroute", "--date", str(D), "--rules", str(new_rules)]
    outbox_version = DeltaTable(settings.table_path("state", "dispatch_outbox")).version()
    before = pg_orders(settings)

    dry = CliRunner().invoke(app, [*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    listed = listing(dry.stdout)
    # Three parking cases, one of them (GC005) closed: two move.
    assert listed == {
        ("GC000", "交通警察大队", "城市管理和综合执法局", "parking"),
        ("GC003", "交通警察大队", "城市管理和综合执法局", "parking"),
    }
    assert DeltaTable(settings.table_path("state", "dispatch_outbox")).version() == outbox_version
    assert pg_orders(settings).equals(before)

    real = CliRunner().invoke(app, args)
    assert real.exit_code == 0, real.output
    assert listing(real.stdout) == listed
    orders = pg_orders(settings).set_index("order_id")
    transfers = orders[orders["kind"] == "transfer"]
    sent = {
        (
            t.case_id,
            orders.loc[t.previous_order_id, "department"],
            t.department,
            t.reason.rsplit("rule ", 1)[1],
        )
        for t in transfers.itertuples()
    }
    assert sent == listed
    assert (orders.loc[transfers["previous_order_id"], "status"] == "superseded").all()
    # Run again: every case is where the new rules say; nothing moves.
    again = CliRunner().invoke(app, args)
    assert listing(again.stdout) == set() and len(pg_orders(settings)) == len(orders)


def test_the_outbox_schema_holds_the_contract_columns():
    names = [f.name for f in DISPATCH_ORDERS.columns]
    assert outbox.SCHEMA.names == [*names, "enqueued_at", "delivered_at"]
    assert pa.types.is_timestamp(outbox.SCHEMA.field("issued_at").type)


def test_without_the_governance_table_the_orders_wait_in_the_outbox(settings):
    write_decisions(settings)
    enqueue_decisions(settings, D)
    with psycopg.connect(settings.pg_conninfo()) as conn:
        conn.execute(f"drop table {DISPATCH_ORDERS.source.name}")
    with pytest.raises(outbox.OutboxError, match=r"governance\.dispatch_orders does not exist in database"):
        outbox.deliver(settings)
    assert outbox.read(settings)["delivered_at"].isna().sum() == len(CATEGORIES)

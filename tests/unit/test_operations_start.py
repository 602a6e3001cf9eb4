"""Starting a joint operation: its area, its orders, exactly once in the outbox and in the
governance system's PostgreSQL table; the simulated departments accepting and completing
operation orders; an escalation that leaves the operation's order with its department; the
``civiclake operations`` commands."""

from __future__ import annotations

import json
import os
from datetime import date, datetime, timedelta

import pandas as pd
import psycopg
import pyarrow as pa
import pytest
from deltalake import write_deltalake
from typer.testing import CliRunner

from civiclake.cli import app
from civiclake.dispatch import outbox
from civiclake.dispatch.orders import ORDER_COLUMNS, order_id
from civiclake.geography import load_geography
from civiclake.lake.read import table_uri
from civiclake.operations import state
from civiclake.operations.follow import escalations_due, order_states
from civiclake.operations.plans import get_plan
from civiclake.operations.start import (
    OperationError,
    due_hours_of,
    operation_id,
    resolve_area,
    start_operation,
    task_reason,
)
from civiclake.settings import Settings
from simulators import departments, governance
from simulators.departments import LATE_SPAN, ON_TIME_SHARE, ON_TIME_SPAN, completed_at, horizon

GEOGRAPHY = load_geography()
STREETS = {a.name: a for a in GEOGRAPHY.streets.values()}
MINZHI = STREETS["民治街道"]
MINZHI_COMMUNITY = min(
    (c for c in GEOGRAPHY.communities.values() if c.parent_code == MINZHI.code), key=lambda c: c.code
)
START = datetime(2026, 11, 25, 10, 0)  # a Wednesday morning
SEED = 20261126


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path, seed=SEED)


def test_the_operation_id_is_the_plan_the_area_and_the_key():
    one = operation_id("garbage_cleanup", MINZHI_COMMUNITY.code, "run-1")
    assert one.startswith("OP") and len(one) == 22
    assert one == operation_id("garbage_cleanup", MINZHI_COMMUNITY.code, "run-1")
    assert len({one, operation_id("garbage_cleanup", MINZHI_COMMUNITY.code, "run-2"),
                operation_id("flood_response", MINZHI_COMMUNITY.code, "run-1")}) == 3  # fmt: skip


def test_an_area_resolves_at_the_plans_level_with_the_names_its_templates_use():
    community = resolve_area("community", MINZHI_COMMUNITY.code)
    assert (community.street_code, community.community_code, community.district_code) == (
        MINZHI.code,
        MINZHI_COMMUNITY.code,
        GEOGRAPHY.district.code,
    )
    assert community.fields == {
        "district_name": GEOGRAPHY.district.name,
        "street_name": "民治街道",
        "street_code": MINZHI.code,
        "community_name": MINZHI_COMMUNITY.name,
        "community_code": MINZHI_COMMUNITY.code,
    }
    street = resolve_area("street", MINZHI.code)
    assert (street.name, street.community_code) == ("民治街道", None)
    assert set(street.fields) == {"district_name", "street_name", "street_code"}
    district = resolve_area("district", GEOGRAPHY.district.code)
    assert (district.street_code, district.fields) == (None, {"district_name": GEOGRAPHY.district.name})


@pytest.mark.parametrize(
    ("level", "code", "message"),
    [
        ("community", MINZHI.code, rf"area '{MINZHI.code}' is a street \(民治街道\), not a community"),
        ("street", MINZHI_COMMUNITY.code, rf"is a community \({MINZHI_COMMUNITY.name}\), not a street"),
        ("street", GEOGRAPHY.grids_of(MINZHI_COMMUNITY.code)[0].code, r"is a grid .*, not a street"),
        (
            "street",
            "440399001",
            rf"area '440399001' is not an area of {GEOGRAPHY.district.name}: .*give a street code",
        ),
    ],
)
def test_an_area_of_another_level_or_none_is_refused_by_name(level, code, message):
    with pytest.raises(OperationError, match=message):
        resolve_area(level, code)


def test_the_reason_carries_the_task_and_its_time_limit():
    assert task_reason("清运积存垃圾并清洗路面", 4) == "清运积存垃圾并清洗路面（时限4小时）"
    assert due_hours_of(task_reason("抽排积水", 1.5)) == 1.5
    assert due_hours_of("routing rule garbage") is None and due_hours_of(None) is None


def test_a_start_records_the_operation_and_enqueues_one_order_per_task_once(settings):
    plan = get_plan("garbage_cleanup")
    started = start_operation(
        settings,
        plan,
        MINZHI_COMMUNITY.code,
        started_at=START,
        started_by="case_cluster",
        start_key="garbage 2026-11-25",
        trigger_detail="6 garbage cases within 24 h",
        deliver=False,
    )
    op = operation_id("garbage_cleanup", MINZHI_COMMUNITY.code, "garbage 2026-11-25")
    assert (started.operation_id, started.new, started.enqueued, started.delivery) == (op, True, 3, {})
    departments_ = ["民治街道环卫所", f"{MINZHI_COMMUNITY.name}网格工作站", "民治街道城管执法中队"]
    tasks = state.read_tasks(settings)
    assert tasks["department"].tolist() == departments_
    assert tasks["due_at"].tolist() == [START + timedelta(hours=h) for h in (4, 8, 24)]
    assert tasks["order_id"].tolist() == [
        order_id(op, "operation", "community", d, basis=str(i)) for i, d in enumerate(departments_)
    ]
    assert set(tasks["escalation_department"]) == {"民治街道办事处"} and set(tasks["escalation_level"]) == {
        "street"
    }
    (operation,) = state.read_operations(settings).to_dict("records")
    assert operation == {
        "operation_id": op,
        "plan_id": "garbage_cleanup",
        "plan_name": "垃圾堆积联合整治",
        "area_level": "community",
        "area_code": MINZHI_COMMUNITY.code,
        "district_code": GEOGRAPHY.district.code,
        "street_code": MINZHI.code,
        "community_code": MINZHI_COMMUNITY.code,
        "started_at": pd.Timestamp(START),
        "started_by": "case_cluster",
        "trigger_detail": "6 garbage cases within 24 h",
        "note": None,
        "start_key": "garbage 2026-11-25",
    }
    orders = outbox.read(settings)
    assert orders["order_id"].tolist() == tasks["order_id"].tolist()
    assert set(orders["kind"]) == {"operation"} and set(orders["case_id"]) == {op}
    assert set(orders["level"]) == {"community"} and orders["team"].isna().all()
    assert orders["reason"].tolist()[0] == "清运积存垃圾并清洗路面（时限4小时）"
    assert (orders["issued_at"] == START).all() and orders["previous_order_id"].isna().all()

    # The same start again, even at another time: the operation as first recorded, nothing new.
    again = start_operation(
        settings,
        "garbage_cleanup",
        MINZHI_COMMUNITY.code,
        started_at=START + timedelta(hours=3),
        started_by="case_cluster",
        start_key="garbage 2026-11-25",
        deliver=False,
    )
    assert (again.operation_id, again.new, again.enqueued, again.started_at) == (op, False, 0, START)
    assert len(state.read_operations(settings)) == 1 and len(state.read_tasks(settings)) == 3
    assert len(outbox.read(settings)) == 3
    # Another key is another operation.
    other = start_operation(
        settings,
        plan,
        MINZHI_COMMUNITY.code,
        started_at=START,
        started_by="manual",
        start_key="k2",
        deliver=False,
    )
    assert other.new and other.operation_id != op and other.enqueued == 3
    assert len(outbox.read(settings)) == 6


def test_a_start_with_a_bad_area_or_starter_records_nothing(settings):
    with pytest.raises(OperationError, match="is a street"):
        start_operation(
            settings, "garbage_cleanup", MINZHI.code, started_at=START, started_by="manual", start_key="k"
        )
    with pytest.raises(OperationError, match="started_by 'someone' is not one of"):
        start_operation(
            settings,
            "street_vending_crackdown",
            MINZHI.code,
            started_at=START,
            started_by="someone",
            start_key="k",
        )
    assert state.read_operations(settings).empty and outbox.read(settings).empty


def test_an_outbox_written_before_completed_at_gains_the_column(settings):
    old = pa.schema([f for f in outbox.SCHEMA if f.name != "completed_at"])
    write_deltalake(table_uri(settings, outbox.LAYER, outbox.TABLE), old.empty_table(), mode="overwrite")
    assert outbox.read(settings).columns.tolist() == outbox.SCHEMA.names
    started = start_operation(
        settings, "street_vending_crackdown", MINZHI.code, started_at=START, started_by="manual", start_key="k",
        deliver=False,
    )  # fmt: skip
    assert started.enqueued == 4 and outbox.read(settings)["completed_at"].isna().all()


def test_operation_orders_are_mostly_completed_within_their_limit_never_before_acceptance():
    ids = [f"DO{n:020x}" for n in range(2000)]
    accepted = START + timedelta(minutes=30)
    done = [completed_at(SEED, i, START, accepted, 4.0) for i in ids]
    assert done == [completed_at(SEED, i, START, accepted, 4.0) for i in ids]
    hours = [(at - START) / timedelta(hours=1) for at in done]
    within = sum(h <= 4.0 for h in hours) / len(ids)
    assert abs(within - ON_TIME_SHARE) < 0.03
    assert all(4.0 * ON_TIME_SPAN[0] <= h <= 4.0 * LATE_SPAN[1] for h in hours)
    # Accepted only the next morning: done after that, whatever the draw.
    late_accept = datetime(2026, 11, 26, 9, 30)
    assert all(completed_at(SEED, i, START, late_accept, 4.0) > late_accept for i in ids[:200])


# --- in PostgreSQL --------------------------------------------------------------------------


@pytest.fixture
def source_db(settings):
    """A scratch source database with the governance schema, dropped afterwards."""
    if not os.environ.get("CIVICLAKE_PG_PASSWORD"):
        pytest.skip("needs the local PostgreSQL: `source var/secrets.env` (infra/secrets.sh)")
    name = f"civiclake_unit_operations_{os.getpid()}"
    base = Settings()
    with psycopg.connect(base.pg_conninfo("postgres"), autocommit=True) as conn:
        conn.execute(f"drop database if exists {name} with (force)")
        conn.execute(f"create database {name}")
    scratch = settings.model_copy(update={"pg_sources_db": name})
    try:
        with psycopg.connect(scratch.pg_conninfo()) as conn:
            governance.ensure_schema(conn)
        yield scratch
    finally:
        with psycopg.connect(base.pg_conninfo("postgres"), autocommit=True) as conn:
            conn.execute(f"drop database if exists {name} with (force)")


def _orders(settings: Settings) -> dict[str, tuple]:
    with psycopg.connect(settings.pg_conninfo()) as conn:
        rows = conn.execute(
            "select order_id, case_id, kind, status, department, accepted_at, completed_at "
            "from governance.dispatch_orders"
        ).fetchall()
    return {row[0]: row[1:] for row in rows}


def test_a_started_operation_is_delivered_exactly_once_and_worked_by_the_departments(source_db):
    def start():
        return start_operation(
            source_db,
            "flood_response",
            MINZHI.code,
            started_at=START,
            started_by="weather_warning",
            start_key="rainstorm orange 2026-11-25 09:40",
        )

    first = start()
    assert first.new and first.enqueued == 5
    assert first.delivery == {"pending": 5, "inserted": 5, "already_there": 0, "superseded": 0, "batches": 1}
    delivered = _orders(source_db)
    assert sorted(delivered) == sorted(first.tasks["order_id"])
    assert {row[:3] for row in delivered.values()} == {(first.operation_id, "operation", "issued")}
    # A retried start: nothing enqueued, nothing pending, the table as it was.
    again = start()
    assert (again.new, again.enqueued, again.delivery["pending"], again.delivery["inserted"]) == (
        False,
        0,
        0,
        0,
    )
    assert _orders(source_db) == delivered
    assert outbox.read(source_db)["delivered_at"].notna().all()

    # The departments accept the orders and report the tasks done, each at its seeded time.
    day = START.date()
    counts = departments.act_on_orders(day, source_db)
    worked = _orders(source_db)
    until = horizon(day)
    expected_done = 0
    for task in first.tasks.itertuples(index=False):
        _, _, status, _, accepted, completed = worked[task.order_id]
        assert accepted == departments.accepted_at(SEED, task.order_id, START)
        limit = (task.due_at - START) / timedelta(hours=1)
        done = completed_at(SEED, task.order_id, START, accepted, limit)
        if done < until:
            expected_done += 1
            assert (status, completed) == ("completed", done)
        else:
            assert (status, completed) == ("accepted", None)
    assert counts["operation_orders_completed"] == expected_done > 0
    assert departments.act_on_orders(day, source_db)["operation_orders_completed"] == 0
    assert _orders(source_db) == worked


def test_an_escalated_operation_order_stays_with_its_department(source_db):
    started = start_operation(
        source_db,
        "street_vending_crackdown",
        MINZHI.code,
        started_at=START,
        started_by="manual",
        start_key="k",
    )
    as_of = datetime(2026, 11, 25, 23, 59, 59, 999999)
    states = order_states(
        state.read_operations(source_db), started.tasks, outbox.orders_with_acceptance(source_db), as_of
    )
    assert set(states["state"]) == {"overdue"}  # nothing accepted: the departments did not act yet
    due = escalations_due(states, started.tasks, as_of)
    assert outbox.enqueue(source_db, due) == 4
    delivery = outbox.deliver(source_db)
    assert (delivery["inserted"], delivery["superseded"]) == (4, 0)
    orders = _orders(source_db)
    assert {orders[o][2] for o in started.tasks["order_id"]} == {"issued"}
    assert {orders[o][1:4] for o in due["order_id"]} == {
        ("escalation", "issued", f"{GEOGRAPHY.district.name}指挥中心")
    }
    assert list(due.columns) == list(ORDER_COLUMNS)
    # Later the department still completes its task.
    departments.act_on_orders(date(2026, 11, 30), source_db)
    assert {_orders(source_db)[o][2] for o in started.tasks["order_id"]} <= {"accepted", "completed"}


def test_a_governance_table_without_completed_at_keeps_the_orders_in_the_outbox(source_db):
    with psycopg.connect(source_db.pg_conninfo()) as conn:
        conn.execute("alter table governance.dispatch_orders drop column completed_at")
    with pytest.raises(
        outbox.OutboxError, match=r"lacks a column its contract declares .*completed_at.*4 orders stay"
    ):
        start_operation(
            source_db,
            "street_vending_crackdown",
            MINZHI.code,
            started_at=START,
            started_by="manual",
            start_key="k",
        )
    assert outbox.read(source_db)["delivered_at"].isna().all() and len(outbox.read(source_db)) == 4


# --- the command line -----------------------------------------------------------------------


@pytest.fixture
def cli_lake(tmp_path, monkeypatch):
    monkeypatch.setenv("CIVICLAKE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CIVICLAKE_LAKE_PATH", str(tmp_path / "lake"))
    return Settings()


def test_the_command_line_validates_starts_once_and_shows(cli_lake, tmp_path):
    runner = CliRunner()
    bad = tmp_path / "plans" / "litter.yaml"
    bad.parent.mkdir()
    bad.write_text("plan_id: litter\nname: x\n", encoding="utf-8")
    result = runner.invoke(app, ["operations", "validate", str(bad.parent)])
    assert result.exit_code == 1
    assert (
        "litter.yaml: area_level: required" in result.output
        and "litter.yaml: tasks: required" in result.output
    )
    assert runner.invoke(app, ["operations", "validate"]).exit_code == 0

    start = ["operations", "start", "--plan", "street_vending_crackdown", "--area", MINZHI.code]
    start += ["--at", "2026-11-25 09:30", "--note", "夜市外溢", "--no-deliver"]
    first = runner.invoke(app, start)
    assert first.exit_code == 0, first.output
    started = json.loads(first.stdout)
    assert started["operation_id"] == operation_id(
        "street_vending_crackdown", MINZHI.code, "manual 2026-11-25 09:30"
    )
    assert (started["new"], started["enqueued"], started["area_name"]) == (True, 4, "民治街道")
    assert [o["due_at"] for o in started["orders"]] == ["2026-11-25 13:30"] * 3 + ["2026-11-25 15:30"]
    again = json.loads(runner.invoke(app, start).stdout)
    assert (again["operation_id"], again["new"], again["enqueued"]) == (started["operation_id"], False, 0)

    shown = runner.invoke(app, ["operations", "show", started["operation_id"], "--at", "2026-11-25 14:00"])
    assert shown.exit_code == 0, shown.output
    record = json.loads(shown.stdout)
    assert (record["note"], record["status"], record["started_at"]) == (
        "夜市外溢",
        "overdue",
        "2026-11-25 09:30",
    )
    assert [o["state"] for o in record["orders"]] == ["overdue", "overdue", "overdue", "issued"]

    wrong = runner.invoke(app, ["operations", "start", "--plan", "garbage_cleanup", "--area", MINZHI.code])
    assert wrong.exit_code == 1 and "is a street (民治街道), not a community" in wrong.output
    assert runner.invoke(app, ["operations", "show", "OPnone"]).exit_code == 1

"""The simulated governance system's database side: departments' acceptance delays
(deterministic, in working time, in their shares), acting on the orders of a day in a scratch
PostgreSQL database, idempotently, answering an intake case so that its resident can read the
answer; and a database of an older simulator brought up to the contracts."""

from __future__ import annotations

import os
from datetime import date, datetime, time, timedelta

import psycopg
import pytest

from civiclake.contracts.base import TYPES
from civiclake.contracts.governance import CASES
from civiclake.dispatch.orders import ORDER_COLUMNS
from civiclake.settings import Settings
from civiclake.working_time import default_calendar
from simulators import departments, governance
from simulators.departments import (
    LATE_HOURS,
    LATE_SHARE,
    PROMPT_HOURS,
    PROMPT_SHARE,
    acceptance_delay,
    accepted_at,
    act_on_orders,
    answer,
    horizon,
)
from simulators.source_db import add_columns_sql, ensure_tables

DAY = date(2026, 11, 25)  # a Wednesday; the orders of the day are issued Thursday 00:00
ISSUED = datetime(2026, 11, 26)
SEED = 20261126


def test_acceptance_delays_are_deterministic_and_in_their_shares():
    ids = [f"DO{n:020x}" for n in range(3000)]
    delays = [acceptance_delay(SEED, i) for i in ids]
    assert delays == [acceptance_delay(SEED, i) for i in ids]
    assert delays != [acceptance_delay(SEED + 1, i) for i in ids]
    prompt = sum(PROMPT_HOURS[0] <= d < PROMPT_HOURS[1] for d in delays) / len(ids)
    late = sum(LATE_HOURS[0] <= d < LATE_HOURS[1] for d in delays) / len(ids)
    assert abs(prompt - PROMPT_SHARE) < 0.03 and abs(late - LATE_SHARE) < 0.03
    silent = [i for i, d in zip(ids, delays, strict=True) if d >= LATE_HOURS[1]]
    assert 0.03 < len(silent) / len(ids) < 0.08
    # A silent department has not accepted two days after the order, wherever it was issued.
    for start in (ISSUED, datetime(2026, 11, 27, 17, 30), datetime(2026, 11, 30, 9)):
        assert all(accepted_at(SEED, i, start) > start + timedelta(days=2) for i in silent)


def test_acceptance_falls_in_working_time_after_the_issue():
    calendar = default_calendar()
    # Friday evening: nobody accepts before Monday 09:00.
    friday_evening = datetime(2026, 11, 27, 20)
    for n in range(300):
        at = accepted_at(SEED, f"DO{n:020x}", friday_evening)
        assert at >= datetime(2026, 11, 30, 9)
        assert calendar.is_working_day(at.date())
        assert any(start <= at.time() <= end for start, end in calendar.periods)
        hours = calendar.working_hours_between(friday_evening, at)
        assert hours == pytest.approx(acceptance_delay(SEED, f"DO{n:020x}"), abs=1e-6)


# --- in PostgreSQL --------------------------------------------------------------------------


@pytest.fixture
def source_db():
    """A scratch source database with the governance schema, dropped afterwards."""
    if not os.environ.get("CIVICLAKE_PG_PASSWORD"):
        pytest.skip("needs the local PostgreSQL: `source var/secrets.env` (infra/secrets.sh)")
    name = f"civiclake_unit_departments_{os.getpid()}"
    base = Settings()
    with psycopg.connect(base.pg_conninfo("postgres"), autocommit=True) as conn:
        conn.execute(f"drop database if exists {name} with (force)")
        conn.execute(f"create database {name}")
    settings = Settings(pg_sources_db=name, seed=SEED)
    try:
        with psycopg.connect(settings.pg_conninfo()) as conn:
            governance.ensure_schema(conn)
        yield settings
    finally:
        with psycopg.connect(base.pg_conninfo("postgres"), autocommit=True) as conn:
            conn.execute(f"drop database if exists {name} with (force)")


def _order(order_id, case_id, issued_at=ISSUED, status="issued", kind="dispatch"):
    values = {
        "order_id": order_id,
        "case_id": case_id,
        "kind": kind,
        "level": "community",
        "department": "城市管理和综合执法局",
        "team": None,
        "reason": "rule test",
        "previous_order_id": None,
        "issued_at": issued_at,
        "accepted_at": None,
        "status": status,
        "updated_at": issued_at,
        "completed_at": None,
    }
    return tuple(values[c] for c in ORDER_COLUMNS)


def _insert_orders(conn, orders):
    columns = ", ".join(ORDER_COLUMNS)
    marks = ", ".join(["%s"] * len(ORDER_COLUMNS))
    conn.cursor().executemany(f"insert into governance.dispatch_orders ({columns}) values ({marks})", orders)


def _intake_case(conn, case_id, reported_at):
    """A request as the intake API stores it: a created case and its first event."""
    conn.execute(
        "insert into governance.cases (case_id, channel, category, department, description, "
        "community_code, grid_code, lon, lat, reported_at, status, updated_at) values "
        "(%s, 'mini_program', 'garbage', '城市管理和综合执法局', '垃圾桶满了', '440309006001', "
        "'44030900600101', 114.03, 22.65, %s, 'created', %s)",
        (case_id, reported_at, reported_at),
    )
    conn.execute(
        "insert into governance.case_events values (%s, %s, 1, 'created', '城市管理和综合执法局', %s, %s)",
        (f"{case_id}-01", case_id, reported_at, reported_at),
    )


def _snapshot(conn):
    return [
        conn.execute(f"select * from governance.{t} order by 1").fetchall()
        for t in ("dispatch_orders", "cases", "case_events")
    ]


def _prompt_order_id(until: datetime) -> str:
    """An order id whose department accepts and answers before ``until``."""
    for n in range(1000):
        order_id = f"DO{'a' * 8}{n:012x}"
        at = accepted_at(SEED, order_id, ISSUED)
        if answer(SEED, order_id, at).closed_at < until:
            return order_id
    raise AssertionError("no prompt order among 1000 ids")


def test_departments_accept_orders_and_answer_intake_cases_once(source_db):
    until = horizon(DAY)
    assert until == datetime(2026, 11, 27)
    intake_order = _prompt_order_id(until)
    orders = [_order(f"DO{n:020x}", f"GC20261125{n:06d}") for n in range(200)]
    orders += [
        _order("DOsuperseded000000000", "GC20261125999999", status="superseded"),
        _order("DOnextday00000000000", "GC20261126000001", issued_at=until),  # the next day's
        _order(intake_order, "GA20261125000001"),
    ]
    with psycopg.connect(source_db.pg_conninfo()) as conn:
        _insert_orders(conn, orders)
        _intake_case(conn, "GA20261125000001", datetime.combine(DAY, time(8, 3)))

    counts = act_on_orders(DAY, source_db)

    with psycopg.connect(source_db.pg_conninfo()) as conn:
        rows = {
            r[0]: r
            for r in conn.execute(
                "select order_id, status, accepted_at, updated_at, issued_at from governance.dispatch_orders"
            ).fetchall()
        }
        first = _snapshot(conn)
    expected = {o[0]: accepted_at(SEED, o[0], ISSUED) for o in orders[:200] + orders[-1:]}
    due = {i for i, at in expected.items() if at < until}
    assert counts["orders_open"] == 201 and counts["accepted"] == len(due)
    assert counts["still_issued"] == 201 - len(due) > 0  # late and silent departments
    for order_id, at in expected.items():
        _, status, accepted, updated, issued = rows[order_id]
        if order_id in due:
            assert (status, accepted, updated) == ("accepted", at, at) and updated >= issued
        else:
            assert (status, accepted, updated) == ("issued", None, issued)
    assert rows["DOsuperseded000000000"][1:3] == ("superseded", None)
    assert rows["DOnextday00000000000"][1:3] == ("issued", None)

    # The intake case: dispatched when its order was issued, accepted, handled, answered, closed.
    with psycopg.connect(source_db.pg_conninfo()) as conn:
        case = conn.execute(
            "select status, dispatched_at, accepted_at, handled_at, fed_back_at, closed_at, feedback_text, "
            "satisfaction, updated_at from governance.cases where case_id = 'GA20261125000001'"
        ).fetchone()
        events = conn.execute(
            "select event_id, seq, event_type, occurred_at from governance.case_events "
            "where case_id = 'GA20261125000001' order by seq"
        ).fetchall()
    plan = answer(SEED, intake_order, expected[intake_order])
    status, dispatched, accepted, handled, fed_back, closed, text, satisfaction, updated = case
    assert status == "closed" and dispatched == ISSUED and accepted == expected[intake_order]
    assert (handled, fed_back, closed, satisfaction) == (
        plan.handled_at,
        plan.fed_back_at,
        plan.closed_at,
        plan.satisfaction,
    )
    assert updated == closed and "垃圾清运" in text and "城市管理和综合执法局" in text
    assert [e[2] for e in events] == ["created", "dispatched", "accepted", "handled", "fed_back", "closed"]
    assert [e[0] for e in events] == [f"GA20261125000001-{n:02d}" for n in range(1, 7)]
    assert [e[3] for e in events] == sorted(e[3] for e in events)
    assert counts["intake_cases_moved"] == 1 and counts["case_events_written"] == 5

    again = act_on_orders(DAY, source_db)
    assert again == counts | {"orders_open": 201 - len(due), "accepted": 0, "intake_cases_moved": 0} | {
        "case_events_written": 0
    }
    with psycopg.connect(source_db.pg_conninfo()) as conn:
        assert _snapshot(conn) == first

    # The next day's run accepts what fell due by its own horizon, and only that.
    later = act_on_orders(DAY + timedelta(days=1), source_db)
    next_until = horizon(DAY + timedelta(days=1))
    assert later["accepted"] == sum(until <= at < next_until for at in expected.values()) + (
        accepted_at(SEED, "DOnextday00000000000", until) < next_until
    )


def test_an_intake_case_is_answered_step_by_step_across_days(source_db):
    """An order accepted late on the horizon's day: what lies beyond is written by the next run."""
    until = horizon(DAY)
    order_id = next(
        f"DOstep{n:015x}"
        for n in range(5000)
        if accepted_at(SEED, f"DOstep{n:015x}", ISSUED)
        < until
        <= answer(SEED, f"DOstep{n:015x}", accepted_at(SEED, f"DOstep{n:015x}", ISSUED)).fed_back_at
    )
    with psycopg.connect(source_db.pg_conninfo()) as conn:
        _insert_orders(conn, [_order(order_id, "GA20261125000002")])
        _intake_case(conn, "GA20261125000002", datetime.combine(DAY, time(9)))
    act_on_orders(DAY, source_db)
    with psycopg.connect(source_db.pg_conninfo()) as conn:
        status, text = conn.execute(
            "select status, feedback_text from governance.cases where case_id = 'GA20261125000002'"
        ).fetchone()
    assert status in ("accepted", "handled") and text is None
    act_on_orders(DAY + timedelta(days=3), source_db)
    with psycopg.connect(source_db.pg_conninfo()) as conn:
        status, text, fed_back = conn.execute(
            "select status, feedback_text, fed_back_at from governance.cases where case_id = 'GA20261125000002'"
        ).fetchone()
        types = [
            r[0]
            for r in conn.execute(
                "select event_type from governance.case_events where case_id = 'GA20261125000002' order by seq"
            ).fetchall()
        ]
    assert status == "closed" and text and fed_back is not None
    assert types == ["created", "dispatched", "accepted", "handled", "fed_back", "closed"]


def test_a_case_of_an_unknown_category_is_refused_by_name(source_db):
    order_id = _prompt_order_id(horizon(DAY))
    with psycopg.connect(source_db.pg_conninfo()) as conn:
        _insert_orders(conn, [_order(order_id, "GA20261125000003")])
        _intake_case(conn, "GA20261125000003", datetime.combine(DAY, time(9)))
        conn.execute("update governance.cases set category = 'ufo' where case_id = 'GA20261125000003'")
    with pytest.raises(ValueError, match="GA20261125000003, category: 'ufo'"):
        departments.act_on_orders(DAY, source_db)


def test_a_source_database_of_an_older_simulator_is_brought_up_to_the_contracts(source_db):
    """A developer's database whose governance.cases predates feedback_text, and which has no
    dispatch_orders table: the next simulated day adds the column and the table, keeps the
    rows there, and writes feedback texts."""
    old_columns = [f for f in CASES.fields if f.name != "feedback_text"]
    with psycopg.connect(source_db.pg_conninfo()) as conn:
        conn.execute("drop schema governance cascade")
        conn.execute("create schema governance")
        conn.execute(
            "create table governance.cases ("
            + ", ".join(f"{f.name} {TYPES[f.type].postgres}" for f in old_columns)
            + ", primary key (case_id))"
        )
        conn.execute(
            "insert into governance.cases (case_id, channel, category, department, description, reported_at, "
            "status, updated_at) values ('GC20200101000001', 'grid_patrol', 'noise', '生态环境局', '旧案', "
            "'2020-01-01 10:00', 'created', '2020-01-01 10:00')"
        )
    small = source_db.model_copy(update={"sim_cases_per_day": 20})
    written = governance.simulate_day(DAY, small)
    with psycopg.connect(source_db.pg_conninfo()) as conn:
        columns = [
            r[0]
            for r in conn.execute(
                "select column_name from information_schema.columns where table_schema = 'governance' "
                "and table_name = 'cases' order by ordinal_position"
            ).fetchall()
        ]
        orders = conn.execute("select to_regclass('governance.dispatch_orders')").fetchone()[0]
        old = conn.execute(
            "select description from governance.cases where case_id = 'GC20200101000001'"
        ).fetchone()
        texts = conn.execute(
            "select count(*) filter (where feedback_text is not null), count(*) filter (where fed_back_at is not null) "
            "from governance.cases where case_id <> 'GC20200101000001'"
        ).fetchone()
        # A second pass finds nothing to add.
        assert ensure_tables(conn, governance.CONTRACTS) == []
    # The missing column is added after the ones the table had.
    assert (
        columns == [f.name for f in old_columns] + ["feedback_text"]
        and orders == "governance.dispatch_orders"
    )
    assert old == ("旧案",) and written > 0
    assert texts[0] == texts[1] > 0


def test_adding_columns_names_only_the_missing_ones():
    assert add_columns_sql(CASES, [f.name for f in CASES.fields]) is None
    sql = add_columns_sql(CASES, [f.name for f in CASES.fields if f.name not in ("feedback_text", "lon")])
    assert sql == (
        "alter table governance.cases\n"
        "    add column if not exists lon double precision,\n"
        "    add column if not exists feedback_text text;\n"
    )

"""Settlement steps written to the city-management system (a scratch PostgreSQL database):
a step is one transaction that updates the repair and appends exactly one event; a refused
step writes nothing; of two clerks claiming the same repair at once, one wins."""

from __future__ import annotations

import os
import threading
from datetime import date, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from typer.testing import CliRunner

from civiclake.geography import load_geography
from civiclake.manholes import records
from civiclake.manholes.settlement import CLAIM, RECOVER, SETTLE, Policy, SettlementError, Step
from civiclake.settings import Settings
from simulators import city

GEO = load_geography()
STREET = next(s for s in GEO.streets.values() if s.name == "民治街道")
COMMUNITY = next(c for c in GEO.communities.values() if c.parent_code == STREET.code)
GRID = GEO.grids_of(COMMUNITY.code)[0]
POLICY = Policy(street_bears_after_days=20)
DAY = date(2026, 11, 25)
REPAIRED = datetime(2026, 11, 1, 10, 0)  # 24 days before DAY: due for the street


@pytest.fixture
def source_db():
    """A scratch city-management database with two covers and three repairs."""
    if not os.environ.get("CIVICLAKE_PG_PASSWORD"):
        pytest.skip("needs the local PostgreSQL: `source var/secrets.env` (infra/secrets.sh)")
    name = f"civiclake_unit_manholes_{os.getpid()}"
    base = Settings()
    with psycopg.connect(base.pg_conninfo("postgres"), autocommit=True) as conn:
        conn.execute(f"drop database if exists {name} with (force)")
        conn.execute(f"create database {name}")
    settings = Settings(pg_sources_db=name)
    try:
        with psycopg.connect(settings.pg_conninfo()) as conn:
            city.ensure_schema(conn)
            for asset_id, owner in (("MH1", None), ("MH2", "燃气集团")):
                conn.execute(
                    "insert into city.manhole_covers values (%s, 'sewage', %s, %s, 114.0, 22.6, %s, 'normal', "
                    "'2001-01-01', %s)",
                    (asset_id, COMMUNITY.code, GRID.code, owner, REPAIRED),
                )
            for repair_id, asset_id, repaired_at in (
                ("R1", "MH1", REPAIRED),
                ("R2", "MH2", REPAIRED),
                ("R3", "MH1", DAY - timedelta(days=5)),
            ):
                conn.execute(
                    "insert into city.repairs (repair_id, case_id, asset_id, community_code, made_safe_at, "
                    "repaired_at, cost_yuan, cost_bearer, settlement_status, settled_at, updated_at) "
                    "values (%s, %s, %s, %s, %s, %s, 1500.00, null, 'pending', null, %s)",
                    (
                        repair_id,
                        f"C{repair_id}",
                        asset_id,
                        COMMUNITY.code,
                        repaired_at,
                        repaired_at,
                        repaired_at,
                    ),
                )
        yield settings
    finally:
        with psycopg.connect(base.pg_conninfo("postgres"), autocommit=True) as conn:
            conn.execute(f"drop database if exists {name} with (force)")


def connect(settings: Settings) -> psycopg.Connection:
    return psycopg.connect(settings.pg_conninfo(), autocommit=True)


def events(conn) -> list[tuple]:
    return conn.execute(
        "select event_id, step, from_status, to_status, owner, amount_yuan, actor from city.settlement_events order by occurred_at, event_id"
    ).fetchall()


def repair(conn, repair_id: str) -> tuple:
    return conn.execute(
        "select settlement_status, cost_bearer, settled_at, updated_at from city.repairs where repair_id = %s",
        (repair_id,),
    ).fetchone()


AT = REPAIRED + timedelta(days=2)


def test_a_claim_writes_one_event_updates_the_repair_and_names_the_covers_owner(source_db):
    with connect(source_db) as conn:
        done = records.apply_step(conn, "R1", Step(CLAIM, AT, owner="水务局"), actor="clerk", policy=POLICY)
        assert done.outcome.to_status == "claimed" and done.asset_id == "MH1"
        assert events(conn) == [("R1-claim", "claim", "pending", "claimed", "水务局", None, "clerk")]
        assert repair(conn, "R1") == ("claimed", "水务局", None, AT)
        # The register learns the owner, so later cases about MH1 route to it.
        assert conn.execute(
            "select owner_department, updated_at from city.manhole_covers where asset_id = 'MH1'"
        ).fetchone() == ("水务局", AT)
        area = conn.execute("select asset_id, community_code from city.settlement_events").fetchone()
        assert area == ("MH1", COMMUNITY.code)


def test_the_owner_path_to_settled_and_its_history(source_db):
    with connect(source_db) as conn:
        records.apply_step(conn, "R2", Step(CLAIM, AT, owner="燃气集团"), actor="a", policy=POLICY)
        records.apply_step(
            conn,
            "R2",
            Step(RECOVER, AT + timedelta(days=3), amount_yuan=Decimal("1200")),
            actor="b",
            policy=POLICY,
        )
        records.apply_step(conn, "R2", Step(SETTLE, AT + timedelta(days=5)), actor="c", policy=POLICY)
        assert repair(conn, "R2") == ("settled", "燃气集团", AT + timedelta(days=5), AT + timedelta(days=5))
        steps = [(e["step"], e["amount_yuan"]) for e in records.history(conn, "R2")]
        assert steps == [("claim", None), ("recover", Decimal("1200.00")), ("settle", None)]
        # The registered owner is kept as it was.
        assert conn.execute(
            "select owner_department from city.manhole_covers where asset_id = 'MH2'"
        ).fetchone() == ("燃气集团",)


@pytest.mark.parametrize(
    ("repair_id", "step", "message"),
    [
        (
            "R1",
            Step(RECOVER, AT, amount_yuan=Decimal("10")),
            "R1: cannot recover cost: state is pending (claim ownership first)",
        ),
        (
            "R2",
            Step(CLAIM, AT, owner="水务局"),
            "R2: cannot claim ownership for 水务局: state is pending and the cover is registered to 燃气集团",
        ),
        (
            "R3",
            Step("street_bears", datetime(2026, 11, 25, 23, 59, 59)),
            "R3: cannot let the street bear the cost: state is pending but only 5 day(s)",
        ),
        ("R9", Step(CLAIM, AT, owner="水务局"), "R9: no such repair in city.repairs"),
    ],
)
def test_a_refused_step_writes_nothing(source_db, repair_id, step, message):
    with connect(source_db) as conn:
        before = {r: repair(conn, r) for r in ("R1", "R2", "R3")}
        with pytest.raises(SettlementError) as error:
            records.apply_step(conn, repair_id, step, actor="clerk", policy=POLICY)
        assert str(error.value).startswith(message)
        assert events(conn) == []
        assert {r: repair(conn, r) for r in ("R1", "R2", "R3")} == before
        assert conn.execute(
            "select owner_department from city.manhole_covers where asset_id = 'MH1'"
        ).fetchone() == (None,)


def test_of_two_concurrent_claims_only_one_wins(source_db):
    results: dict[str, object] = {}

    def claim(owner: str) -> None:
        with connect(source_db) as conn:
            try:
                results[owner] = records.apply_step(
                    conn, "R1", Step(CLAIM, AT, owner=owner), actor=owner, policy=POLICY
                )
            except SettlementError as error:
                results[owner] = error

    with connect(source_db) as holder, connect(source_db) as watcher:
        # Hold the repair's lock so that both clerks are waiting on it when it is released.
        holder.execute("begin")
        holder.execute("select 1 from city.repairs where repair_id = 'R1' for update")
        threads = [threading.Thread(target=claim, args=(owner,)) for owner in ("水务局", "供电局")]
        for thread in threads:
            thread.start()
        waiting = 0
        while waiting < 2:  # both blocked on the row lock (no timing assumption: polled until so)
            # Outside a transaction: the activity view is read afresh each time.
            waiting = watcher.execute(
                "select count(*) from pg_stat_activity where datname = current_database() "
                "and wait_event_type = 'Lock'"
            ).fetchone()[0]
        holder.execute("rollback")
        for thread in threads:
            thread.join()
    won = [o for o, r in results.items() if isinstance(r, records.Recorded)]
    lost = [r for r in results.values() if isinstance(r, SettlementError)]
    assert len(won) == 1 and len(lost) == 1
    assert f"state is claimed (already claimed by {won[0]})" in str(lost[0])
    with connect(source_db) as conn:
        assert [e[0] for e in events(conn)] == ["R1-claim"]
        assert repair(conn, "R1")[:2] == ("claimed", won[0])


def test_the_street_bears_what_is_due_once(source_db):
    with connect(source_db) as conn:
        recorded, refused = records.street_bears_due(conn, DAY, policy=POLICY, geography=GEO)
        # R1 and R2 were repaired 24 days before; R3 only 5 days before.
        assert sorted(r.outcome.repair_id for r in recorded) == ["R1", "R2"] and refused == []
        close = datetime(2026, 11, 25, 23, 59, 59)
        assert repair(conn, "R1") == ("borne_by_street", "民治街道办事处", close, close)
        assert repair(conn, "R3")[0] == "pending"
        assert records.street_bears_due(conn, DAY, policy=POLICY, geography=GEO) == ([], [])
        assert [(e[0], e[4], e[6]) for e in events(conn)] == [
            ("R1-street_bears", "民治街道办事处", records.DAILY_ACTOR),
            ("R2-street_bears", "民治街道办事处", records.DAILY_ACTOR),
        ]


def test_the_cli_refuses_with_the_reason_and_records_a_claim(source_db, monkeypatch):
    from civiclake.cli import app

    monkeypatch.setenv("CIVICLAKE_PG_SOURCES_DB", source_db.pg_sources_db)
    runner = CliRunner()
    refused = runner.invoke(app, ["manhole", "recover", "R1", "--amount", "10", "--at", "2026-11-03 10:00"])
    assert refused.exit_code == 1 and "R1: cannot recover cost: state is pending" in refused.output
    claimed = runner.invoke(
        app, ["manhole", "claim", "R1", "--owner", "水务局", "--at", "2026-11-03 10:00", "--actor", "王"]
    )
    assert claimed.exit_code == 0, claimed.output
    assert '"settlement_status": "claimed"' in claimed.stdout and '"cost_bearer": "水务局"' in claimed.stdout
    history = runner.invoke(app, ["manhole", "history", "R1"])
    assert (
        history.exit_code == 0
        and '"event_id": "R1-claim"' in history.stdout
        and '"actor": "王"' in history.stdout
    )

"""``civiclake escalation check`` on a small silver lake written with delta-rs: the dry run
lists what the real run enqueues, and a rerun enqueues nothing new. Delivery to PostgreSQL
is the outbox's (tested with it); here it is replaced by a recorder."""

from __future__ import annotations

import json
from datetime import datetime

import pandas as pd
import pyarrow as pa
import pytest
from deltalake import write_deltalake
from typer.testing import CliRunner

from civiclake.cli import app
from civiclake.dispatch import outbox
from civiclake.settings import Settings

UTC_TIME = pa.timestamp("us", tz="UTC")


def _times(*values: str | None) -> pa.Array:
    """Wall-clock times as the lake keeps them: the same digits in UTC."""
    return pa.array([datetime.fromisoformat(v) if v else None for v in values], type=pa.timestamp("us")).cast(
        UTC_TIME
    )


@pytest.fixture
def lake(tmp_path, monkeypatch):
    monkeypatch.setenv("CIVICLAKE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CIVICLAKE_LAKE_PATH", str(tmp_path / "lake"))
    settings = Settings()
    cases = pa.table(
        {
            "case_id": ["GC1", "GC2", "GC3"],
            "category": ["environment", "noise", "garbage"],
            "street_code": ["440309006", "440309004", "440309006"],
            "community_code": ["440309006001", "440309004001", "440309006001"],
            "status": ["dispatched", "dispatched", "closed"],
            "dispatched_at": _times("2026-11-23 09:00", "2026-11-23 09:00", "2026-11-23 09:00"),
            "accepted_at": _times(None, None, None),
        }
    )
    orders = pa.table(
        {
            "order_id": ["DO1", "DO2", "DO3"],
            "case_id": ["GC1", "GC2", "GC3"],
            "kind": ["dispatch"] * 3,
            "level": ["community"] * 3,
            "department": ["城市管理和综合执法局"] * 3,
            "team": ["观澜社区网格工作站"] * 3,
            "reason": ["environment"] * 3,
            "previous_order_id": pa.array([None] * 3, pa.string()),
            "issued_at": _times("2026-11-23 09:00", "2026-11-24 09:00", "2026-11-23 09:00"),
            "accepted_at": _times(None, None, None),
            "status": ["issued"] * 3,
            "updated_at": _times("2026-11-23 09:00", "2026-11-24 09:00", "2026-11-23 09:00"),
        }
    )
    write_deltalake(settings.table_path("silver", "governance_cases"), cases)
    write_deltalake(settings.table_path("silver", "governance_dispatch_orders"), orders)
    return settings


def _check(*args: str):
    return CliRunner().invoke(app, ["escalation", "check", "--date", "2026-11-24", *args])


def test_dry_run_lists_what_the_run_enqueues(lake, monkeypatch):
    """GC1 waited 7 + 7 = 14 working hours at the community by Tuesday's end (≥ 8); GC2's
    order came on Tuesday 09:00 (7 h); GC3 is closed."""
    dry = _check("--dry-run")
    assert dry.exit_code == 0, dry.output
    listed = [json.loads(line) for line in dry.stdout.splitlines() if line.startswith("{")]
    assert [(r["case_id"], r["level"], r["department"], r["previous_order_id"]) for r in listed] == [
        ("GC1", "street", "观澜街道办事处", "DO1")
    ]
    assert "dry run: nothing sent" in dry.output
    assert outbox.read(lake).empty

    delivered = []
    monkeypatch.setattr(outbox, "deliver", lambda settings: delivered.append(True) or {"inserted": 1})
    first = _check()
    assert first.exit_code == 0, first.output
    assert outbox.read(lake)["order_id"].tolist() == [listed[0]["order_id"]]
    assert "1 new in the outbox" in first.output
    again = _check()
    assert again.exit_code == 0, again.output
    assert "0 new in the outbox" in again.output
    assert len(outbox.read(lake)) == 1 and delivered == [True, True]


def test_a_lake_without_cases_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("CIVICLAKE_LAKE_PATH", str(tmp_path / "empty"))
    result = _check("--dry-run")
    assert result.exit_code == 1
    assert "silver.governance_cases is not in the lake" in result.output


def test_a_bad_policy_is_a_clear_error(lake, tmp_path):
    bad = tmp_path / "policy.yaml"
    bad.write_text("version: 1\nworking_hours: []\nlevels: []\n", encoding="utf-8")
    result = _check("--dry-run", "--policy", str(bad))
    assert result.exit_code == 1
    assert str(bad) in result.output


def test_a_case_of_another_channel_is_timed_from_its_first_order(lake, monkeypatch):
    """A city patrol's parking case (CM1) is in the funnel, not in the governance system: it
    stands at the community from its order's issue, Monday 2026-11-23 09:00; parking gets 2
    working hours there, so by Tuesday's end it goes to the street. CM2, its order accepted
    an hour after issue, stays; CM3 is closed."""
    from civiclake.cases import funnel
    from civiclake.dispatch.orders import order_id

    rows = {
        "case_id": ["CM1", "CM2", "CM3"],
        "source_system": ["city"] * 3,
        "channel": ["city_patrol"] * 3,
        "jurisdiction": ["longhua"] * 3,
        "category": ["parking"] * 3,
        "street_code": ["440309006"] * 3,
        "community_code": ["440309006001"] * 3,
        "status": ["in_progress", "in_progress", "closed"],
        "reported_at": _times("2026-11-23 08:00", "2026-11-23 08:00", "2026-11-23 08:00"),
    }
    schema = funnel.arrow_schema()
    table = pa.table({f.name: rows.get(f.name, pa.nulls(3, f.type)) for f in schema}, schema=schema)
    write_deltalake(lake.table_path("silver", funnel.TABLE), table)
    issued = datetime(2026, 11, 23, 9, 0)
    orders = pd.DataFrame(
        [
            {
                "order_id": order_id(case, "dispatch", "community", "交通警察大队"),
                "case_id": case,
                "kind": "dispatch",
                "level": "community",
                "department": "交通警察大队",
                "team": "观澜社区网格工作站",
                "reason": "parking",
                "issued_at": issued,
            }
            for case in ("CM1", "CM2", "CM3")
        ]
    )
    outbox.enqueue(lake, orders)
    accepted = write_acceptance(lake, orders, "CM2", datetime(2026, 11, 23, 10, 0))

    dry = _check("--dry-run")
    assert dry.exit_code == 0, dry.output
    listed = [json.loads(line) for line in dry.stdout.splitlines() if line.startswith("{")]
    by_case = {r["case_id"]: r for r in listed}
    assert "CM2" not in by_case and "CM3" not in by_case and accepted
    assert by_case["CM1"]["level"] == "street"
    assert by_case["CM1"]["previous_order_id"] == orders.loc[0, "order_id"]


def write_acceptance(settings: Settings, orders: pd.DataFrame, case: str, at: datetime) -> bool:
    """The governance system's copy of ``case``'s order, accepted at ``at`` (as the next ingest lands it)."""
    row = orders[orders["case_id"] == case].iloc[0]
    table = pa.table(
        {
            "order_id": [row["order_id"]],
            "case_id": [case],
            "kind": ["dispatch"],
            "level": ["community"],
            "department": [row["department"]],
            "team": [row["team"]],
            "reason": [row["reason"]],
            "previous_order_id": pa.array([None], pa.string()),
            "issued_at": _times(row["issued_at"].isoformat()),
            "accepted_at": _times(at.isoformat()),
            "status": ["accepted"],
            "updated_at": _times(at.isoformat()),
        }
    )
    write_deltalake(settings.table_path("silver", "governance_dispatch_orders"), table, mode="overwrite")
    return True

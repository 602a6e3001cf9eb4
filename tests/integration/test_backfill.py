"""Backfill: days through the daily run's per-day steps, then the same days again.

The days go through the source families' steps as the civiclake_daily DAG runs them for one
day (``[simulate ->] ingest``), in date order, on a source database and a lake of their own.
Then they are backfilled a second time, in date order (as ``airflow backfill create`` runs
them) and, for the registry, in reverse as well: every silver table — the SCD2 registry's
full history included — must hold exactly what the first pass left, and every batch's
reconciliation must still add up to the same source rows.

What goes through which days (a day of every family costs minutes here, more than the
suite can spend): a registry with personal data (households) through four days, its
history also checked against one computed with pandas from the simulator's snapshots;
governance (PostgreSQL by watermark window, with lookback) through the first two days, so
that each day runs again after a later one; city management shares its path. The file
exports' rerun (party building, people services, the position feed) is
tests/integration/test_file_sources.py's.

Then a registry snapshot that arrives late: days 1, 2 and 4, then 3. Day 3 rebuilds the
registry's history from the snapshots bronze holds; the result must equal the first pass's
table as it stood after day 4 (read back by Delta time travel). Once bronze retention has
removed day 1's snapshot, an older day cannot be applied: the job refuses, naming the
table, the missing date and what to do, and changes nothing.
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest
from delta.tables import DeltaTable

from civiclake.contracts.resources import REGISTRIES
from civiclake.lake.scd2 import SNAPSHOTS_TABLE, SnapshotOrderError
from civiclake.lake.writes import table_version
from civiclake.settings import PROJECT_ROOT, Settings
from simulators import governance as governance_sim
from simulators import resources as resources_sim
from simulators import weather as weather_sim
from spark_jobs import ingest_governance, ingest_resources
from tests.integration.conftest import scratch_database

pytestmark = pytest.mark.integration

BACKFILL_DB = f"civiclake_backfill_{os.getpid()}"
# Four days: the fewest for a late snapshot with days on both sides (1, 2, 4, then 3).
DAYS = [date(2026, 10, 5) + timedelta(days=n) for n in range(4)]
REGISTRY = "households"


def _governance(spark, settings: Settings, day: date) -> None:
    # The DAG's governance group also runs `simulate intake`, which needs the intake API server.
    governance_sim.simulate_day(day, settings)
    weather_sim.simulate_day(day, settings)
    ingest_governance.run(spark, settings, day)


def _resources(spark, settings: Settings, day: date) -> None:
    resources_sim.simulate_day(day, settings, registries=(REGISTRY,))
    ingest_resources.run(spark, settings, day, (REGISTRY,))


# A family's steps for one day, in the order of civiclake/families.toml (the DAG's task
# groups), and the days it goes through.
STEPS = {"governance": _governance, "resources": _resources}
FAMILY_DAYS = {"governance": DAYS[:2], "resources": DAYS}


def run_days(spark, settings: Settings, days: list[date], families=tuple(STEPS)) -> None:
    """Each day's steps of the ``families`` that go through it, day after day."""
    for day in days:
        for family in families:
            if day in FAMILY_DAYS[family]:
                STEPS[family](spark, settings, day)


def silver_tables(spark, settings: Settings) -> dict[str, list]:
    """Every silver table (quarantine tables included), as its sorted rows."""
    root = Path(settings.lake) / "silver"
    tables = sorted(p.name for p in root.iterdir() if (p / "_delta_log").is_dir())
    return {
        name: sorted(spark.read.format("delta").load(str(root / name)).collect(), key=repr) for name in tables
    }


def reconciliation(spark, settings: Settings) -> dict[tuple[str, date], tuple[int, int, int, int]]:
    """(table, batch) → (source, silver, quarantined, duplicates) of every batch recorded."""
    rows = spark.read.format("delta").load(settings.table_path("state", "reconciliation")).collect()
    return {
        (r.table_name, r.batch_date): (r.source_rows, r.silver_rows, r.quarantined_rows, r.duplicate_rows)
        for r in rows
    }


def expected_history(settings: Settings, days: list[date]) -> set[tuple]:
    """(key, valid_from, valid_to, is_current, is_deleted) of every version the registry's
    snapshots of ``days`` make, computed from the simulator's own snapshots with pandas."""
    contract = REGISTRIES[REGISTRY]
    key = contract.key[0]
    # Tokens change exactly when the raw values do, so raw columns stand in for them.
    columns = [
        next((c for c in contract.pii if contract.field(c).stored_name == t), t)
        for t in contract.scd2_tracked
    ]
    current: dict[str, tuple] = {}  # key → (tracked values, valid_from)
    versions = set()
    for day in days:
        frame = resources_sim.snapshot(REGISTRY, day, settings).set_index(key)[columns].astype(str)
        rows = dict(zip(frame.index, frame.itertuples(index=False, name=None), strict=True))
        for k, (values, since) in list(current.items()):
            if rows.get(k) != values:  # gone (soft delete) or changed: the version closes
                versions.add((k, since, day, False, k not in rows))
                del current[k]
        current |= {k: (values, day) for k, values in rows.items() if k not in current}
    return versions | {(k, since, None, True, False) for k, (_, since) in current.items()}


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    with scratch_database(BACKFILL_DB):
        yield Settings(
            data_dir=tmp_path_factory.mktemp("backfill"),
            jars_dir=PROJECT_ROOT / "var" / "jars",
            pg_sources_db=BACKFILL_DB,
            sim_cases_per_day=30,
            sim_history_days=0,
            sim_scale=0.002,
        )


@pytest.fixture(scope="module")
def first_pass(spark, lake):
    """The days in date order: silver, reconciliation, and the registry's version after day 4."""
    run_days(spark, lake, DAYS)
    after_day_4 = table_version(spark, lake.table_path("silver", f"resources_{REGISTRY}"))
    return silver_tables(spark, lake), reconciliation(spark, lake), after_day_4


@pytest.fixture(scope="module")
def second_backfills(spark, lake, first_pass):
    """Every day again in date order, then the registry's days in reverse: what each left."""
    run_days(spark, lake, DAYS)
    passes = {"in order": (silver_tables(spark, lake), reconciliation(spark, lake))}
    run_days(spark, lake, DAYS[::-1], families=("resources",))
    passes["in reverse"] = silver_tables(spark, lake), reconciliation(spark, lake)
    return passes


def test_the_first_pass_keeps_the_registrys_history_and_fills_every_family(lake, first_pass):
    silver, recon, _ = first_pass
    for table in ("governance_cases", "governance_case_events"):
        assert silver.get(table), f"silver.{table} is empty after the first pass"
    for table, days in (("resources_households", DAYS), ("governance_cases", DAYS[:2])):
        assert {day for (t, day) in recon if t == table} == set(days), table
    history = {
        (r.household_id, r.valid_from, r.valid_to, r.is_current, r.is_deleted)
        for r in silver[f"resources_{REGISTRY}"]
    }
    expected = expected_history(lake, DAYS)
    assert history == expected
    # A history, not seven copies of one snapshot: versions closed by change and by deletion.
    assert {v[3:] for v in expected if v[2] is not None} == {(False, False), (False, True)}


@pytest.mark.parametrize("order", ["in order", "in reverse"])
def test_a_second_backfill_changes_no_silver_table(first_pass, second_backfills, order):
    silver, _, _ = first_pass
    again, _ = second_backfills[order]
    assert sorted(again) == sorted(silver)
    changed = [table for table in silver if again[table] != silver[table]]
    assert changed == [], f"silver tables changed by the second backfill {order}: {changed}"


@pytest.mark.parametrize("order", ["in order", "in reverse"])
def test_every_batch_still_reconciles_to_the_same_source_rows(first_pass, second_backfills, order):
    """Each batch's source rows and quarantine are what the first pass recorded. A registry
    snapshot is not merged again: the same record. A rerun of another family's day lands what
    silver still holds from that day; a row a later day brought newer is a known duplicate now,
    so each rerun's silver term is the rows of silver whose batch is that day."""
    _, recon, _ = first_pass
    silver, again = second_backfills[order]
    by_batch = Counter(
        (table, row.batch_date)
        for table, rows in silver.items()
        if not table.startswith("resources_")
        for row in rows
        if "batch_date" in row.__fields__
    )
    assert sorted(again) == sorted(recon)
    for key, (source, landed, quarantined, duplicates) in again.items():
        first_source, _, first_quarantined, _ = recon[key]
        assert source == landed + quarantined + duplicates, key
        assert (source, quarantined) == (first_source, first_quarantined), key
        if key[0].startswith("resources_"):
            assert (source, landed, quarantined, duplicates) == recon[key], key
        else:
            assert landed == by_batch[key], key


# ------------------------------------------------------------------ a snapshot that arrives late


@pytest.fixture(scope="module")
def late(spark, lake, tmp_path_factory) -> Settings:
    """Registry snapshots of days 1, 2 and 4, then 3, in a lake of their own."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("late-snapshot"),
        jars_dir=lake.jars_dir,
        pg_sources_db=lake.pg_sources_db,
        sim_scale=lake.sim_scale,
    )
    for day in (DAYS[0], DAYS[1], DAYS[3], DAYS[2]):
        _resources(spark, settings, day)
    return settings


def _table(settings: Settings) -> str:
    return settings.table_path("silver", f"resources_{REGISTRY}")


def _history(spark, path: str, version: int | None = None) -> list:
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return sorted(reader.load(path).collect(), key=repr)


def test_a_late_snapshot_rebuilds_the_history_as_if_it_came_in_order(spark, lake, first_pass, late):
    _, recon, after_day_4 = first_pass
    in_order = _history(spark, lake.table_path("silver", f"resources_{REGISTRY}"), after_day_4)
    assert _history(spark, _table(late)) == in_order
    # Rebuilt in one commit (an overwrite, which says why), then its snapshot date set.
    last, rebuilt = DeltaTable.forPath(spark, _table(late)).history(2).collect()
    assert last.operation == "SET TBLPROPERTIES"
    assert (rebuilt.operation, rebuilt.operationParameters["mode"]) == ("WRITE", "Overwrite")
    assert rebuilt.userMetadata == (
        f"SCD2 rebuild from bronze.resources_{REGISTRY}: the snapshot of {DAYS[2]} is older "
        f"than the newest one applied, of {DAYS[3]}"
    )
    # Day 3's batch reconciles as it did in order, and no scratch table is left behind.
    assert (
        reconciliation(spark, late)[(f"resources_{REGISTRY}", DAYS[2])]
        == recon[(f"resources_{REGISTRY}", DAYS[2])]
    )
    assert not (Path(late.lake) / "state" / "scd2_rebuild" / f"resources_{REGISTRY}").exists()


def test_a_late_snapshot_whose_rebuild_lacks_a_bronze_snapshot_is_refused(spark, late):
    from pyspark.sql import functions as F

    table = f"resources_{REGISTRY}"
    bronze = DeltaTable.forPath(spark, late.table_path("bronze", table))
    before = _history(spark, _table(late))
    version = table_version(spark, _table(late))
    state = spark.read.format("delta").load(late.table_path("state", SNAPSHOTS_TABLE))
    applied = sorted(state.where(F.col("table_name") == table).collect(), key=repr)
    # Bronze retention removes the oldest snapshot; then the day before it is delivered.
    bronze.delete(F.col("batch_date") == F.lit(DAYS[0]))
    earlier = DAYS[0] - timedelta(days=1)
    resources_sim.simulate_day(earlier, late, registries=(REGISTRY,))

    with pytest.raises(SnapshotOrderError) as refused:
        ingest_resources.run(spark, late, earlier, (REGISTRY,))
    message = str(refused.value)
    assert (
        f"silver.{table}: the snapshot of {earlier} is older than the newest one applied, of {DAYS[3]}"
        in message
    )
    assert f"rebuilt from its 5 snapshots in date order ({earlier} to {DAYS[3]})" in message
    assert f"bronze.{table} no longer holds the snapshot(s) of {DAYS[0]} " in message
    assert f"silver.{table} was left as it was" in message
    assert f"restore those snapshots to bronze.{table}" in message
    assert table_version(spark, _table(late)) == version
    assert _history(spark, _table(late)) == before
    state = spark.read.format("delta").load(late.table_path("state", SNAPSHOTS_TABLE))
    assert sorted(state.where(F.col("table_name") == table).collect(), key=repr) == applied

    # Day 1 again, its bronze snapshot gone: nothing to reprocess, and nothing changes.
    rerun = ingest_resources.run(spark, late, DAYS[0], (REGISTRY,))
    assert rerun.tables == []
    assert f"bronze no longer holds the snapshot of {DAYS[0]} of {REGISTRY}" in rerun.note
    assert table_version(spark, _table(late)) == version

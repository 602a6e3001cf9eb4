"""SCD2 on hand-made snapshots, then the registry ingest on a few simulated days.

Expected versions are written out by hand (first part) or computed with pandas from the
simulator's own snapshots (second part), independently of the merge under test.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import pandas as pd
import pytest

from civiclake.contracts.catalog import silver_schema
from civiclake.contracts.resources import REGISTRIES
from civiclake.ingest.raw_exports import RECEIPT, read_receipt
from civiclake.ingest.registry_extracts import snapshot_dir, snapshot_file
from civiclake.lake.scd2 import SnapshotOrderError, scd2_merge, scd2_snapshot_date
from civiclake.lake.writes import table_version
from civiclake.settings import Settings
from simulators.resources import simulate_day, snapshot
from spark_jobs import ingest_resources
from tests.integration.lake_state import assert_no_raw_values, reconciliation_row

pytestmark = pytest.mark.integration

D1, D2, D3 = date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)
SCHEMA = "id string, name string, size int, note string"


def table_rows(spark, path):
    df = spark.read.format("delta").load(path)
    return sorted(
        (r.id, r.name, r.size, r.note, r.valid_from, r.valid_to, r.is_current, r.is_deleted)
        for r in df.collect()
    )


def apply(spark, path, rows, day, held=None):
    held_df = None if held is None else spark.createDataFrame([(k,) for k in held], "id string")
    return scd2_merge(
        spark, spark.createDataFrame(rows, SCHEMA), path, ["id"], ["name", "size"], day, held_keys_df=held_df
    )


def test_scd2_insert_change_delete_reappear_hold_and_order(spark, tmp_path):
    path = str(tmp_path / "scd2_people")
    counts = apply(spark, path, [("A", "x", 1, "n1"), ("B", "y", 2, "n1"), ("C", "z", 3, "n1")], D1)
    assert counts == {"opened": 3, "changed": 0, "deleted": 0, "unchanged": 0}

    # A unchanged (only the untracked note differs), B changed, C gone, D new.
    day2 = [("A", "x", 1, "n2"), ("B", "y", 5, "n2"), ("D", "w", 4, "n2")]
    assert apply(spark, path, day2, D2) == {"opened": 1, "changed": 1, "deleted": 1, "unchanged": 1}
    after_day2 = [
        ("A", "x", 1, "n1", D1, None, True, False),
        ("B", "y", 2, "n1", D1, D2, False, False),
        ("B", "y", 5, "n2", D2, None, True, False),
        ("C", "z", 3, "n1", D1, D2, False, True),
        ("D", "w", 4, "n2", D2, None, True, False),
    ]
    assert table_rows(spark, path) == after_day2

    # The same snapshot again: nothing changes.
    assert apply(spark, path, day2, D2) == {"opened": 0, "changed": 0, "deleted": 0, "unchanged": 3}
    assert table_rows(spark, path) == after_day2

    # C reappears; B is held back (quarantined upstream) so it is neither changed nor
    # deleted; D is gone.
    assert apply(spark, path, [("A", "x", 1, "n3"), ("C", "z", 3, "n3")], D3, held=["B"]) == {
        "opened": 1,
        "changed": 0,
        "deleted": 1,
        "unchanged": 1,
    }
    assert table_rows(spark, path) == [
        ("A", "x", 1, "n1", D1, None, True, False),
        ("B", "y", 2, "n1", D1, D2, False, False),
        ("B", "y", 5, "n2", D2, None, True, False),
        ("C", "z", 3, "n1", D1, D2, False, True),
        ("C", "z", 3, "n3", D3, None, True, False),
        ("D", "w", 4, "n2", D2, D3, False, True),
    ]

    with pytest.raises(SnapshotOrderError, match="2026-03-03.*2026-03-02 is older"):
        apply(spark, path, day2, D2)
    assert scd2_snapshot_date(spark, path) == D3


# ------------------------------------------------------------- registry ingest on simulated days

REGISTRY_SUBSET = ("households", "cameras")
R1 = date(2026, 9, 1)
DAYS = [R1, R1 + timedelta(days=1), R1 + timedelta(days=2)]


@pytest.fixture(scope="module")
def small(settings, tmp_path_factory) -> Settings:
    return Settings(
        data_dir=tmp_path_factory.mktemp("resources"),
        jars_dir=settings.jars_dir,
        pg_sources_db=settings.pg_sources_db,
        sim_scale=0.002,
    )


def _corrupt_last_households_extract(small: Settings, day: date) -> dict[str, str]:
    """Adds three bad rows to the day's households extract (and its manifest)."""
    path = snapshot_file(small, "households", day)
    frame = pd.read_parquet(path)
    victim, other = frame.iloc[0].copy(), frame.iloc[1].copy()
    unknown = victim.copy()
    unknown["household_id"], unknown["community_code"] = "HHBAD-COMMUNITY", "440309999999"
    future = other.copy()
    future["household_id"], future["registered_on"] = "HHBAD-FUTURE", day + timedelta(days=3)
    clash = victim.copy()  # the same id with a different size: which one is right is unknown
    clash["household_size"] = int(victim["household_size"]) + 1
    bad = pd.DataFrame([unknown, future, clash]).astype(frame.dtypes.to_dict())
    pd.concat([frame, bad, frame.iloc[[1]]], ignore_index=True).to_parquet(path, index=False)
    manifest_path = snapshot_dir(small, day) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["rows"]["households"] += 4
    manifest_path.write_text(json.dumps(manifest))
    return {
        "HHBAD-COMMUNITY": "unknown community_code",
        "HHBAD-FUTURE": "date after the snapshot date",
        victim["household_id"]: "one household_id with different rows in the extract",
    }


@pytest.fixture(scope="module")
def ingested(spark, small):
    results = {}
    expected_reasons = None
    for day in DAYS:
        simulate_day(day, small, registries=REGISTRY_SUBSET)
        if day == DAYS[-1]:
            expected_reasons = _corrupt_last_households_extract(small, day)
        tables = ingest_resources.run(spark, small, day, REGISTRY_SUBSET).tables
        results[day] = {r.table.removeprefix("resources_"): r for r in tables}
    return results, expected_reasons


def _expected_versions(small: Settings, registry: str) -> int:
    """Versions after DAYS, from the snapshots: first keys + later new or changed rows."""
    contract = REGISTRIES[registry]
    # Tokens change exactly when the raw values do, so raw columns stand in for them.
    columns = [
        next((c for c in contract.pii if contract.field(c).stored_name == t), t)
        for t in contract.scd2_tracked
    ]
    versions, previous = 0, None
    for day in DAYS:
        frame = snapshot(registry, day, small).set_index(contract.key[0])[columns]
        if previous is None:
            versions += len(frame)
        else:
            joined = frame.join(previous, rsuffix="_before", how="left")
            new = ~frame.index.isin(previous.index)
            changed = ~new & (
                joined[columns].astype(str).to_numpy()
                != joined[[f"{c}_before" for c in columns]].astype(str).to_numpy()
            ).any(axis=1)
            versions += int(new.sum() + changed.sum())
        previous = frame
    return versions


def test_registry_ingest_keeps_history_and_reconciles(spark, small, ingested):
    results, _ = ingested
    for registry in ("cameras",):
        last = results[DAYS[-1]][registry]
        assert last.source_rows == len(snapshot(registry, DAYS[-1], small))
        assert last.quarantined_rows == 0 and last.duplicate_rows == 0
        assert last.history.current_rows == last.source_rows
        assert last.silver_total == _expected_versions(small, registry)
    first = results[DAYS[0]]["households"]
    assert first.history.opened == first.source_rows == first.history.current_rows


def test_silver_schemas_of_the_contracts_match_the_ingest(small, ingested):
    """The schema the contract gives each registry's silver table (the one an absent table
    the marts read is created with) is the one the ingest writes."""
    import pyarrow as pa
    from deltalake import DeltaTable

    for registry in REGISTRY_SUBSET:
        table = REGISTRIES[registry].table
        written = pa.schema(DeltaTable(small.table_path("silver", table)).schema().to_arrow())
        assert written.equals(silver_schema(table)), (table, written)


def test_bad_registry_rows_are_quarantined_and_held(spark, small, ingested):
    results, reasons = ingested
    last = results[DAYS[-1]]["households"]
    clean = len(snapshot("households", DAYS[-1], small))
    assert last.source_rows == clean + 4
    # The clashing id appears twice (both quarantined); the exact copy is a duplicate.
    assert (last.quarantined_rows, last.duplicate_rows, last.silver_rows) == (4, 1, clean - 1)
    quarantine = (
        spark.read.format("delta")
        .load(small.table_path("silver", "resources_households_quarantine"))
        .where(f"batch_date = '{DAYS[-1]}'")
        .collect()
    )
    assert {(r.household_id, r.quarantine_reason) for r in quarantine} == set(reasons.items())
    victim = next(k for k, v in reasons.items() if v.startswith("one household_id"))
    silver = spark.read.format("delta").load(small.table_path("silver", "resources_households"))
    held = silver.where(f"household_id = '{victim}' and is_current").collect()
    assert len(held) == 1 and not held[0].is_deleted  # held as it was, not deleted
    recon = (
        spark.read.format("delta")
        .load(small.table_path("state", "reconciliation"))
        .where(f"table_name = 'resources_households' and batch_date = '{DAYS[-1]}'")
        .collect()[0]
    )
    assert (recon.source_rows, recon.silver_rows, recon.quarantined_rows, recon.duplicate_rows) == (
        clean + 4,
        clean - 1,
        4,
        1,
    )


def test_rerunning_a_registry_day_is_a_no_op(spark, small, ingested):
    """The newest day again, then an earlier one after it: the same snapshots, so no MERGE,
    no new table version, the same rows and the same reconciliation."""
    path = small.table_path("silver", "resources_cameras")
    before = sorted(map(tuple, spark.read.format("delta").load(path).collect()))
    version = table_version(spark, path)
    for day in (DAYS[-1], DAYS[0]):
        recorded = reconciliation_row(spark, small, "resources_cameras", day)
        (again,) = ingest_resources.run(spark, small, day, ("cameras",)).tables
        assert not again.extracted
        assert (again.history.opened, again.history.changed, again.history.deleted) == (0, 0, 0)
        assert again.history.unchanged == again.silver_rows == again.source_rows
        assert reconciliation_row(spark, small, "resources_cameras", day) == recorded
    assert table_version(spark, path) == version
    assert sorted(map(tuple, spark.read.format("delta").load(path).collect())) == before


def test_registry_extracts_are_removed_once_ingested_and_not_delivered_again(small, ingested):
    """Retention 0: each day's extract is gone after its ingest, its receipt kept (and private);
    reruns reprocess bronze (test above), and the simulator does not deliver the day again."""
    root = small.data_dir / "sources"
    assert [p for p in [root, *root.rglob("*")] if p.stat().st_mode & 0o077] == []
    for day in DAYS:
        receipt = read_receipt(snapshot_dir(small, day))
        assert [p.name for p in snapshot_dir(small, day).iterdir()] == [RECEIPT]
        assert sorted(receipt.files) == ["cameras.parquet", "households.parquet", "manifest.json"]
    assert simulate_day(DAYS[0], small, registries=REGISTRY_SUBSET) == {}
    assert [p.name for p in snapshot_dir(small, DAYS[0]).iterdir()] == [RECEIPT]


def test_no_raw_personal_data_in_the_registry_lake(small, ingested):
    phones_and_ids, names = set(), set()
    for day in DAYS:
        for registry in ("households",):
            frame = snapshot(registry, day, small)
            for column, kind in REGISTRIES[registry].pii.items():
                (names if kind == "name" else phones_and_ids).update(frame[column])
    assert_no_raw_values(small.data_dir / "lake", phones_and_ids, names)

"""Retention per layer on a small lake of its own: landing exports removed only once their batch
is ingested (and old enough), bronze partitions past the horizon deleted and newer ones kept,
OPTIMIZE only where small files pile up, VACUUM keeping exactly the history it is told, and
time travel past it refused with a clear error."""

from __future__ import annotations

import json
import os
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from civiclake.ingest import landing_retention, raw_exports
from civiclake.lake import retention
from civiclake.lake.retention import HistoryVacuumedError, LakeTable
from civiclake.lake.runs import record_reconciliation
from civiclake.lake.writes import STATS_COLUMNS_PROPERTY
from civiclake.settings import Settings

pytestmark = pytest.mark.integration

RUN = date(2026, 11, 29)


@pytest.fixture(scope="module")
def own(settings, tmp_path_factory) -> Settings:
    return Settings(
        **{
            **settings.model_dump(),
            "data_dir": tmp_path_factory.mktemp("retention"),
            "raw_export_retention_days": 3,
            "bronze_retention_days": 30,
            "delta_history_retention_days": 7,
            "optimize_min_small_files": 4,
        }
    )


def _deliver(folder: Path, names: dict[str, bytes]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in names.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
        paths.append(folder / name)
    return paths


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_landing_exports_go_only_once_their_batch_is_ingested_and_old_enough(spark, own):
    party = own.landing / "party"
    # 11-20 ingested; 11-21 never ingested; 11-27 ingested but not yet 3 days old on 11-29.
    ingested = _deliver(
        party / "2026-11-20", {"党员信息_20261120.xlsx": b"x1", "活动签到_20261120.csv": b"x2"}
    )
    raw_exports.write_receipt(party / "2026-11-20", date(2026, 11, 20), ingested)
    _deliver(party / "2026-11-21", {"党员信息_20261121.xlsx": b"x3"})
    recent = _deliver(party / "2026-11-27", {"党员信息_20261127.xlsx": b"x4"})
    raw_exports.write_receipt(party / "2026-11-27", date(2026, 11, 27), recent)
    # A file the ingest of 11-20 never read (it arrived after): kept, it was not ingested.
    _deliver(party / "2026-11-20", {"活动签到_20261120_补.csv": b"late"})
    extract = _deliver(
        Path(own.data_dir) / "sources" / "resources" / "2026-11-22",
        {"households.parquet": b"p", "manifest.json": b"{}"},
    )
    raw_exports.write_receipt(extract[0].parent, date(2026, 11, 22), extract)
    # Camera recordings of 11-20: hour 10 reconciled in the lake, hour 11 not (its ingest failed).
    cameras = own.landing / "cameras" / "2026-11-20"
    _deliver(cameras, {"10/cam01_1000.mp4": b"v1", "10/manifest.csv": b"m", "11/cam01_1100.mp4": b"v2"})
    record_reconciliation(
        spark,
        own,
        "camera_clips/10",
        date(2026, 11, 20),
        source_rows=1,
        silver_rows=1,
        quarantined=0,
        duplicates=0,
    )

    actions = landing_retention.apply_landing_retention(spark, own, RUN)

    assert _files(party / "2026-11-20") == [raw_exports.RECEIPT, "活动签到_20261120_补.csv"]
    assert _files(party / "2026-11-21") == ["党员信息_20261121.xlsx"]
    assert _files(party / "2026-11-27") == [raw_exports.RECEIPT, "党员信息_20261127.xlsx"]
    assert _files(extract[0].parent) == [raw_exports.RECEIPT]
    assert _files(cameras) == ["11/cam01_1100.mp4", raw_exports.RECEIPT]
    # The day's receipt names what was removed, so the camera simulator does not deliver it again.
    receipt = raw_exports.read_receipt(cameras)
    assert sorted(receipt.files) == ["10/cam01_1000.mp4", "10/manifest.csv"] and raw_exports.ingested_before(
        cameras
    )
    removed = {a.target: (a.files_before, a.files_after) for a in actions}
    assert removed == {
        str(party): (7, 5),  # 5 exports + 2 receipts before; 11-20's 2 ingested exports gone
        str(extract[0].parent.parent): (3, 1),
        str(cameras): (3, 2),  # the receipt added, hour 10's two files gone
    }
    # A day on, 11-27 is 3 days old too; nothing else changes, and the rest stays.
    later = landing_retention.apply_landing_retention(spark, own, date(2026, 11, 30))
    assert _files(party / "2026-11-27") == [raw_exports.RECEIPT]
    assert [a.target for a in later] == [str(party)]
    assert _files(party / "2026-11-21") == ["党员信息_20261121.xlsx"]


def _write(
    spark, path: str, rows: list[tuple], schema: str, files: int, partition: str | None = None, mode="append"
):
    writer = spark.createDataFrame(rows, schema).repartition(files).write.format("delta").mode(mode)
    if partition:
        writer = writer.partitionBy(partition)
    writer.save(path)


def test_bronze_partitions_past_the_horizon_go_and_newer_ones_stay(spark, own):
    from deltalake import DeltaTable

    horizon = RUN - timedelta(days=own.bronze_retention_days)  # 2026-10-30: kept
    rows_per_day = {horizon - timedelta(days=2): 3, horizon - timedelta(days=1): 2, horizon: 4, RUN: 5}
    rows = [
        (f"R{day:%m%d}{n}", "phone_" + "0" * 32, day)
        for day, count in rows_per_day.items()
        for n in range(count)
    ]
    path = own.table_path("bronze", "party_members")
    _write(spark, path, rows, "member_id string, member_phone_token string, batch_date date", 1, "batch_date")

    actions = retention.apply_bronze_retention(spark, own, RUN)

    left = DeltaTable(path).to_pyarrow_table().to_pandas().groupby("batch_date").size().to_dict()
    assert left == {horizon: 4, RUN: 5}
    (action,) = actions
    assert (action.target, action.rows) == ("bronze.party_members", 3 + 2)
    assert (
        action.detail
        == f"2 partition(s) before {horizon} deleted ({horizon - timedelta(days=2)} to {horizon - timedelta(days=1)})"
    )
    assert retention.apply_bronze_retention(spark, own, RUN) == []  # a second run finds nothing to do


def test_optimize_compacts_where_small_files_pile_up_and_leaves_the_rest(spark, own):
    from deltalake import DeltaTable

    piled = own.table_path("silver", "piled")
    schema = "id bigint, batch_date date"
    _write(spark, piled, [(n, date(2026, 11, 28)) for n in range(12)], schema, 6, "batch_date")
    _write(spark, piled, [(n, date(2026, 11, 27)) for n in range(4)], schema, 2, "batch_date")
    small = own.table_path("silver", "small")
    _write(spark, small, [(n,) for n in range(9)], "id bigint", 3)
    tables = [LakeTable("silver", "piled", piled), LakeTable("silver", "small", small)]
    before = {t.name: retention.file_layout(t) for t in tables}
    assert {k: len(v) for k, v in before["piled"].items()} == {
        "batch_date=2026-11-27": 2,
        "batch_date=2026-11-28": 6,
    }
    small_version = DeltaTable(small).version()

    actions = retention.optimize_where_it_pays(spark, own, tables)

    after = {t.name: retention.file_layout(t) for t in tables}
    assert {k: len(v) for k, v in after["piled"].items()} == {
        "batch_date=2026-11-27": 2,
        "batch_date=2026-11-28": 1,
    }
    assert [(a.target, a.files_before, a.files_after) for a in actions] == [
        ("silver.piled[batch_date=2026-11-28]", 6, 1)
    ]
    assert len(after["small"][""]) == 3 and DeltaTable(small).version() == small_version
    assert sorted(DeltaTable(piled).to_pyarrow_table().column("id").to_pylist()) == sorted(
        [*range(12), *range(4)]
    )


def _age_history(path: str, version: int, days: int) -> None:
    """Makes the files version ``version`` removed look ``days`` old to VACUUM: the remove
    actions' deletion time in that commit, the files' modification time and the commits' own
    times up to it (the commit's checksum sidecar goes with the edit)."""
    log_dir = Path(path) / "_delta_log"
    commit = log_dir / f"{version:020d}.json"
    old_ms = int((time.time() - days * 86400) * 1000)
    actions = [json.loads(line) for line in commit.read_text().splitlines() if line]
    for action in actions:
        if "remove" in action:
            action["remove"]["deletionTimestamp"] = old_ms
            os.utime(Path(path) / action["remove"]["path"], (old_ms / 1000, old_ms / 1000))
    commit.write_text("\n".join(json.dumps(a) for a in actions) + "\n")
    (log_dir / f".{commit.name}.crc").unlink(missing_ok=True)
    for earlier in range(version + 1):
        at = old_ms / 1000 - (version - earlier)
        os.utime(log_dir / f"{earlier:020d}.json", (at, at))


def test_vacuum_keeps_the_history_it_is_told_and_time_travel_past_it_is_refused(spark, own):
    from deltalake import DeltaTable

    path = own.table_path("silver", "visits")
    schema = "visit_id string, household_id_token string, description string, visits bigint"
    _write(spark, path, [("V1", "id_" + "a" * 32, "走访 [phone_" + "b" * 32 + "]", 1)], schema, 1)
    _write(spark, path, [("V1", "id_" + "a" * 32, "走访", 2)], schema, 1, mode="overwrite")
    table = LakeTable("silver", "visits", path)

    # Properties first, as the maintenance run sets them: personal columns without statistics.
    assert retention.apply_table_properties(spark, own, [table])
    config = DeltaTable(path).metadata().configuration
    assert config[STATS_COLUMNS_PROPERTY] == "visit_id,visits"
    assert config["delta.deletedFileRetentionDuration"] == "interval 7 days"
    assert retention.apply_table_properties(spark, own, [table]) == []  # the second time: nothing to set

    # Within the 7 days: nothing goes, and version 0 still reads.
    assert retention.vacuum_lake(spark, own, [table]) == []
    assert spark.read.format("delta").option("versionAsOf", 0).load(path).first().visits == 1
    retention.require_version_readable(own, table, 0)

    # Eight days on: the file only version 0 needed is deleted, the current one stays.
    _age_history(path, 1, days=8)
    spark._jvm.org.apache.spark.sql.delta.DeltaLog.clearCache()
    (action,) = retention.vacuum_lake(spark, own, [table])
    assert (action.files_before, action.files_after) == (2, 1)
    assert spark.read.format("delta").load(path).first().visits == 2
    with pytest.raises(Exception, match="(?i)file|exist"):
        spark.read.format("delta").option("versionAsOf", 0).load(path).collect()
    with pytest.raises(HistoryVacuumedError) as refused:
        retention.require_version_readable(own, table, 0)
    message = str(refused.value)
    assert "silver.visits version 0" in message and "VACUUM deleted 1 of the 1 data files" in message
    assert "CIVICLAKE_DELTA_HISTORY_RETENTION_DAYS" in message
    retention.require_version_readable(own, table, 1)


def test_every_action_is_recorded(spark, own):
    actions = [retention.Action("bronze", "bronze.x", "2 partition(s) deleted", rows=5)]
    retention.record_actions(spark, own, RUN, actions)
    rows = spark.read.format("delta").load(own.table_path("state", retention.MAINTENANCE_TABLE)).collect()
    assert [(r.run_date, r.step, r.target, r.rows) for r in rows] == [(RUN, "bronze", "bronze.x", 5)]

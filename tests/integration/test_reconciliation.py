"""Reconciliation counts each term on its own: silver as the Delta commit of the MERGE landed
it, quarantine as written, duplicates from the rows, so ``source = silver + quarantine +
duplicates`` can fail.

Expected numbers come from hand-made rows, from the table's own history (Delta's operation
metrics of the commit) and from silver's contents, not from the job's counts.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from delta.tables import DeltaMergeBuilder

from civiclake.contracts.party import MEMBERS
from civiclake.ingest.delta import load_table
from civiclake.lake import writes
from civiclake.lake.scd2 import scd2_merge
from civiclake.settings import Settings
from simulators import party as party_sim
from tests.integration.lake_state import reconciliation_row

pytestmark = pytest.mark.integration

SCHEMA = "case_id string, status string, updated_at timestamp, batch_date date"
T0, T1, T2 = datetime(2026, 9, 1, 8), datetime(2026, 9, 2, 8), datetime(2026, 9, 3, 8)
B1, B2 = date(2026, 9, 1), date(2026, 9, 2)
DAY = date(2026, 9, 14)
NEXT = DAY + timedelta(days=1)


def latest_version(spark, path) -> int:
    return spark.sql(f"describe history delta.`{path}` limit 1").first().version


def commits(spark, path, after: int) -> list:
    """The table's commits after version ``after``, oldest first."""
    history = spark.sql(f"describe history delta.`{path}`").where(f"version > {after}")
    return sorted(history.select("version", "operation", "operationMetrics").collect())


@pytest.mark.parametrize("split", [False, True])
def test_merge_counts_what_its_own_commit_landed(spark, tmp_path, monkeypatch, split):
    path = str(tmp_path / "silver")
    spark.createDataFrame(
        [
            ("A", "created", T1, B1),
            ("B", "closed", T2, B1),
            ("C", "created", T1, B1),
            ("E", "created", T1, B1),
            ("F", "created", T1, B2),
        ],
        SCHEMA,
    ).write.format("delta").save(path)
    batch = spark.createDataFrame(
        [
            ("A", "closed", T2, B2),  # newer: updated
            ("B", "dispatched", T1, B2),  # older than silver's: held
            ("C", "created", T1, B2),  # the version silver holds, same content (a replay): held
            ("E", "dispatched", T1, B2),  # the same version with other content: updated
            ("F", "created", T1, B2),  # this batch's own row (a rerun): updated again
            ("G", "created", T1, B2),  # new: inserted
        ],
        SCHEMA,
    )
    # Another writer commits right after the MERGE: the counts stay those of the MERGE's commit.
    execute = DeltaMergeBuilder.execute

    def execute_then_another_writer(self):
        result = execute(self)
        other = spark.createDataFrame([("Z", "created", T0, B1)], SCHEMA)
        other.write.format("delta").mode("append").save(path)
        return result

    monkeypatch.setattr(DeltaMergeBuilder, "execute", execute_then_another_writer)
    monkeypatch.setattr(writes, "SPLIT_NEW_KEYS_FROM_ROWS", 2 if split else 10**9)
    landed = writes.merge_upsert(
        spark, batch, path, ["case_id"], newer_than="updated_at", rows=6, batch_date=B2
    )

    assert (landed.inserted, landed.updated, landed.held, landed.rows) == (1, 3, 2, 4)
    made = commits(spark, path, after=0)
    merge = next(c for c in made if c.version == landed.version)
    assert merge.operation == "MERGE" and made[-1].version > landed.version  # not the latest
    metrics = {k: int(v) for k, v in merge.operationMetrics.items()}
    appended = [int(c.operationMetrics["numOutputRows"]) for c in made if c.version < landed.version]
    assert (metrics["numSourceRows"], metrics["numTargetRowsMatchedUpdated"]) == (4 - sum(appended), 3)
    assert metrics["numTargetRowsInserted"] + sum(appended) == 1
    got = sorted(tuple(r)[:3] for r in spark.read.format("delta").load(path).collect())
    assert got == [
        ("A", "closed", T2),
        ("B", "closed", T2),
        ("C", "created", T1),
        ("E", "dispatched", T1),
        ("F", "created", T1),
        ("G", "created", T1),
        ("Z", "created", T0),
    ]


def test_scd2_counts_come_from_the_merge_commit(spark, tmp_path):
    path = str(tmp_path / "scd2")
    schema = "id string, name string"
    scd2_merge(
        spark, spark.createDataFrame([("A", "x"), ("B", "y"), ("C", "z")], schema), path, ["id"], ["name"], B1
    )
    before = latest_version(spark, path)
    counts = scd2_merge(
        spark, spark.createDataFrame([("A", "x"), ("B", "w"), ("D", "v")], schema), path, ["id"], ["name"], B2
    )
    assert counts == {"opened": 1, "changed": 1, "deleted": 1, "unchanged": 1}
    # The MERGE, then the snapshot-date property: the MERGE's commit is not the latest.
    made = commits(spark, path, after=before)
    assert [c.operation for c in made] == ["MERGE", "SET TBLPROPERTIES"]
    metrics = {k: int(v) for k, v in made[0].operationMetrics.items()}
    assert (
        metrics["numTargetRowsInserted"],
        metrics["numTargetRowsMatchedUpdated"],
        metrics["numTargetRowsNotMatchedBySourceUpdated"],
    ) == (2, 1, 1)


# --- the file-export ingest (party members: the full register, every day) -----------------


@pytest.fixture(scope="module")
def party(settings, tmp_path_factory) -> Settings:
    # Its own lake and landing, and the raw exports kept, so that a day can be replayed.
    return Settings(
        **{
            **settings.model_dump(),
            "data_dir": tmp_path_factory.mktemp("reconciliation"),
            "sim_scale": 0.002,
            "raw_export_retention_days": 30,
        }
    )


@pytest.fixture(scope="module")
def members(spark, party):
    contract = MEMBERS
    for day in (DAY, NEXT):
        party_sim.simulate_day(day, party)
    first = load_table(spark, party, contract, DAY)
    following = load_table(spark, party, contract, NEXT)
    return contract, first, following


def test_replaying_an_older_day_counts_what_the_merge_landed(spark, party, members):
    contract, first, following = members
    silver_path = party.table_path("silver", contract.table)
    before = latest_version(spark, silver_path)
    replay = load_table(spark, party, contract, DAY)

    # What Delta says the replay landed, from the table's history.
    landed = sum(
        int(c.operationMetrics["numTargetRowsInserted"]) + int(c.operationMetrics["numTargetRowsUpdated"])
        for c in commits(spark, silver_path, after=before)
        if c.operation == "MERGE"
    )
    # NEXT's full register holds (almost) every member of DAY: silver keeps NEXT's version of
    # those, and DAY's rows of the others, which the replay rewrites.
    rewritten = spark.read.format("delta").load(silver_path).where(f"batch_date = '{DAY}'").count()
    key = ", ".join(contract.key)
    bronze_day = spark.sql(
        f"""select count(*) from delta.`{party.table_path("bronze", contract.table)}` b
            join delta.`{silver_path}` s using ({key})
            where b.batch_date = '{DAY}' and b._quarantine_reason is null and not b._duplicate
              and s.batch_date = '{NEXT}'"""
    ).first()[0]
    copies = spark.sql(
        f"""select count(*) from delta.`{party.table_path("bronze", contract.table)}`
            where batch_date = '{DAY}' and _duplicate"""
    ).first()[0]
    r = reconciliation_row(spark, party, contract.table, DAY)
    assert bronze_day > 0
    assert r.silver_rows == replay.silver_rows == landed == rewritten == first.silver_rows - bronze_day
    assert r.duplicate_rows == replay.duplicate_rows == copies + bronze_day
    assert r.quarantined_rows == first.quarantined_rows
    assert r.source_rows == r.silver_rows + r.quarantined_rows + r.duplicate_rows == first.source_rows


def test_a_row_the_merge_did_not_land_fails_the_batch_loudly(spark, party, members, monkeypatch):
    contract, _, following = members
    silver_path = party.table_path("silver", contract.table)
    victim = spark.read.format("delta").load(silver_path).where(f"batch_date = '{NEXT}'").first()
    key = contract.key[0]
    # Between the job's read of silver and its MERGE, another writer commits a newer
    # version of one key: the MERGE leaves that row alone.
    execute = DeltaMergeBuilder.execute
    interfered = []

    def another_writer_then_execute(self):
        if not interfered:
            interfered.append(victim[key])
            spark.sql(
                f"update delta.`{silver_path}` set batch_date = date'{NEXT + timedelta(days=1)}' "
                f"where {key} = '{victim[key]}'"
            )
        return execute(self)

    monkeypatch.setattr(DeltaMergeBuilder, "execute", another_writer_then_execute)
    with pytest.raises(RuntimeError, match="does not reconcile") as failure:
        load_table(spark, party, contract, NEXT)
    message = str(failure.value)
    assert interfered
    expected = (
        f"{contract.table} batch {NEXT} does not reconcile: {following.source_rows} source rows, but "
        f"{following.silver_rows - 1} landed in silver + {following.quarantined_rows} quarantined + "
        f"{following.duplicate_rows} duplicates = {following.source_rows - 1} (+1 rows unaccounted for)"
    )
    assert message.startswith(expected), message
    # The record of the batch is still the run that added up.
    r = reconciliation_row(spark, party, contract.table, NEXT)
    assert (r.source_rows, r.silver_rows) == (following.source_rows, following.silver_rows)

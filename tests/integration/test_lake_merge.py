"""civiclake.lake.writes.merge_upsert on hand-made rows: both ways (one MERGE, or new keys
appended and the others MERGEd) give the same table."""

from __future__ import annotations

from datetime import datetime

import pytest

from civiclake.lake import writes

pytestmark = pytest.mark.integration

SCHEMA = "case_id string, status string, updated_at timestamp"
T0, T1, T2 = datetime(2026, 11, 1, 8), datetime(2026, 11, 2, 8), datetime(2026, 11, 3, 8)


@pytest.mark.parametrize("split", [False, True])
def test_upsert_updates_inserts_and_never_rolls_back(spark, tmp_path, monkeypatch, split):
    path = str(tmp_path / "silver")
    spark.createDataFrame(
        [("A", "created", T1), ("B", "created", T1), ("Z", "created", T0)], SCHEMA
    ).write.format("delta").save(path)
    batch = spark.createDataFrame(
        [
            ("A", "closed", T2),  # newer: replaces
            ("B", "dispatched", T0),  # older than silver: ignored
            ("C", "created", T2),  # new key
            ("D", "created", T2),  # new key
        ],
        SCHEMA,
    )
    monkeypatch.setattr(writes, "SPLIT_NEW_KEYS_FROM_ROWS", 2 if split else 10**9)
    writes.merge_upsert(spark, batch, path, ["case_id"], newer_than="updated_at", rows=4)
    expected = [
        ("A", "closed", T2),
        ("B", "created", T1),
        ("C", "created", T2),
        ("D", "created", T2),
        ("Z", "created", T0),
    ]
    got = sorted(tuple(r) for r in spark.read.format("delta").load(path).collect())
    assert got == expected
    # Applying the same batch again changes nothing (as a rerun after a crash would).
    writes.merge_upsert(spark, batch, path, ["case_id"], newer_than="updated_at", rows=4)
    assert sorted(tuple(r) for r in spark.read.format("delta").load(path).collect()) == expected
    history = spark.sql(f"describe history delta.`{path}`").select("operation").collect()
    operations = [r.operation for r in history]
    # The table's creation, plus (split) the append of the new keys C and D.
    assert operations.count("WRITE") == (2 if split else 1), operations

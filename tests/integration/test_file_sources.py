"""Party-building and people-services exports through Spark: one small simulated day.

The day's files are simulated, a truncated workbook is dropped beside them, and both
jobs run twice. Counts are checked against what the simulator says it wrote.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from civiclake.contracts import party, services
from civiclake.ingest.delta import landing_folder
from civiclake.ingest.raw_exports import RECEIPT
from civiclake.settings import Settings
from simulators import party as party_sim
from simulators import resources as resources_sim
from simulators import services as services_sim

pytestmark = pytest.mark.integration

DAY = date(2026, 11, 25)
SOURCES = {"party": party.CONTRACTS, "services": services.CONTRACTS}
TRUNCATED = "党员信息_20261125_补充.xlsx"


@pytest.fixture(scope="module")
def small(settings) -> Settings:
    return Settings(**{**settings.model_dump(), "sim_scale": 0.002})


@pytest.fixture(scope="module")
def loaded(spark, small):
    from spark_jobs import ingest_exports

    written = {"party": party_sim.simulate_day(DAY, small), "services": services_sim.simulate_day(DAY, small)}
    folder = landing_folder(small, "party", DAY)
    members = (folder / "党员信息_20261125.xlsx").read_bytes()
    (folder / TRUNCATED).write_bytes(members[: len(members) // 2])
    first = {family: ingest_exports.run(spark, small, DAY, family) for family in ("party", "services")}
    return written, first


def _silver(spark, settings, table):
    df = spark.read.format("delta").load(settings.table_path("silver", table))
    return sorted(tuple(r) for r in df.collect())


def test_reconciliation_adds_up_per_table_and_matches_the_files(spark, small, loaded):
    from pyspark.sql import functions as F

    written, first = loaded
    recon = {
        r.table_name: r
        for r in spark.read.format("delta")
        .load(small.table_path("state", "reconciliation"))
        .where(F.col("batch_date") == F.lit(DAY))
        .collect()
    }
    for source, contracts in SOURCES.items():
        for contract in contracts:
            r = recon[contract.table]
            rows_in_files = sum(
                n
                for name, n in written[source].items()
                if name.startswith(contract.source.pattern.split("*")[0])
            )
            assert r.source_rows == rows_in_files > 0, contract.table
            assert r.source_rows == r.silver_rows + r.quarantined_rows + r.duplicate_rows
            silver = spark.read.format("delta").load(small.table_path("silver", contract.table))
            assert silver.where(F.col("batch_date") == F.lit(DAY)).count() == r.silver_rows, contract.table
            quarantine = spark.read.format("delta").load(
                small.table_path("silver", f"{contract.table}_quarantine")
            )
            assert quarantine.where(F.col("batch_date") == F.lit(DAY)).count() == r.quarantined_rows
            assert quarantine.where(F.col("quarantine_reason").isNull()).count() == 0


def test_silver_schemas_of_the_contracts_match_the_ingest(small, loaded):
    import pyarrow as pa
    from deltalake import DeltaTable

    from civiclake.contracts.catalog import silver_schema

    for table in [c.table for contracts in SOURCES.values() for c in contracts]:
        written = pa.schema(DeltaTable(small.table_path("silver", table)).schema().to_arrow())
        assert written.equals(silver_schema(table)), (table, written)


def test_truncated_workbook_fails_alone_and_is_in_the_manifest(spark, small, loaded):
    _, first = loaded
    (error,) = first["party"].failed_files
    assert TRUNCATED in error and "not a readable .xlsx" in error
    manifest = {
        r.file_name: r
        for r in spark.read.format("delta").load(small.table_path("state", "file_manifest")).collect()
    }
    assert manifest[TRUNCATED].status == "failed" and manifest[TRUNCATED].rows == 0
    assert manifest["党员信息_20261125.xlsx"].status == "loaded"
    assert manifest["党员信息_20261125.xlsx"].rows > 100
    assert manifest["福利券_20261125.csv"].encoding == "gbk"
    assert manifest["福利券_20261125.csv"].new_columns == "发放批次"


def test_rerunning_the_day_leaves_silver_and_bronze_identical(spark, small, loaded):
    from spark_jobs import ingest_exports

    tables = [c.table for contracts in SOURCES.values() for c in contracts]
    before = {t: _silver(spark, small, t) for t in tables}
    bronze_before = {
        t: spark.read.format("delta").load(small.table_path("bronze", t)).count() for t in tables
    }
    ingest_exports.run(spark, small, DAY, "party")
    ingest_exports.run(spark, small, DAY, "services")
    for table in tables:
        assert _silver(spark, small, table) == before[table], table
        assert (
            spark.read.format("delta").load(small.table_path("bronze", table)).count() == bronze_before[table]
        )


def test_silver_passes_its_quality_suites(spark, small, loaded):
    from quality.gate import enforce
    from quality.suites import SUITES

    # Every suite is built by one function from its contract (tests/unit/test_party_quality.py
    # checks what it catches); here the register with soft deletes and tokens, and a GBK
    # export with a new column, against real silver (Great Expectations on Spark is slow).
    for table in ("party_members", "services_coupons"):
        df = spark.read.format("delta").load(small.table_path("silver", table))
        assert enforce(df, SUITES[table]()).success


def test_no_raw_id_number_phone_or_name_anywhere_in_the_lake(small, loaded):
    people = party_sim.residents(small)
    raw = [p.id_number.encode() for p in people] + [p.mobile.encode() for p in people]
    # Two-character names also occur inside ordinary words; three-character ones do not.
    raw += [p.name.encode() for p in people if len(p.name) >= 3]
    # care visits name the registry's households: their heads' numbers, phones and names
    heads = resources_sim.snapshot("households", DAY, small)
    raw += [str(v).encode() for v in [*heads["head_id_number"], *heads["head_phone"]] if v]
    raw += [str(n).encode() for n in heads["head_name"] if isinstance(n, str) and len(n) >= 3]
    files = [p for p in Path(small.lake).rglob("*") if p.is_file()]
    assert files
    for path in files:
        content = path.read_bytes()
        leaked = [value for value in raw if value in content]
        assert not leaked, f"raw personal data in {path}"


def test_raw_exports_are_private_and_removed_once_their_batch_is_ingested(spark, small, loaded):
    """Services loaded cleanly: only its receipt is left. Party has a failed file: the batch
    waits for the corrected export with its files kept, but private (the ingest narrowed the
    truncated copy this module dropped there with default rights)."""
    from spark_jobs import ingest_exports

    landing = small.data_dir / "landing"
    paths = [landing, *landing.rglob("*")]
    assert [p for p in paths if p.stat().st_mode & 0o077] == []
    kept = {p.name for p in landing_folder(small, "party", DAY).iterdir()}
    assert TRUNCATED in kept and RECEIPT not in kept

    services = landing_folder(small, "services", DAY)
    assert [p.name for p in services.iterdir()] == [RECEIPT]
    assert services_sim.simulate_day(DAY, small) == {}  # the simulator does not deliver it again
    again = ingest_exports.run(spark, small, DAY, "services")
    assert again.tables == [] and "nothing to load" in again.note

"""Basic-resource registries: daily full extracts → Delta bronze → SCD2 history in silver.

For a logical date D and each registry (households, buildings, legal entities, cameras,
public-service vehicles, teams, departments) the job
1. reads the registry's extract of D (Parquet + manifest, see
   ``civiclake.ingest.registry_extracts``), checks it is complete against the manifest and
   replaces personal data by HMAC tokens; the tokenised extract is written once to bronze
   as partition ``batch_date = D`` (a rerun reprocesses bronze, as received);
2. checks every row and sends failures to ``resources_<registry>_quarantine`` with a
   reason (unknown community/street code, coordinates outside the jurisdiction, dates
   after D, one id with two different rows in the extract); exact copies of a row count
   as duplicates; a bad ID-number check character is only flagged (``*_id_valid``);
3. applies the remaining rows to ``silver.resources_<registry>`` with
   ``civiclake.lake.scd2.apply_snapshot`` (new versions for new and changed rows, soft deletes
   for rows gone from the extract; quarantined ids are held as they were);
4. stores the reconciliation: extract rows = silver + quarantine + duplicates, silver as the
   versions the MERGE's Delta commit opened plus the rows it found unchanged.

Days may come in any order (a backfill, a rerun, a day delivered late): a snapshot applied
before with the same content changes nothing; one older than the newest applied snapshot
rebuilds the registry's history from every snapshot bronze holds, replayed in date order
through the same checks, and replaces the table in one commit. When bronze no longer holds a
snapshot the rebuild needs (bronze retention), the day fails with
``civiclake.lake.scd2.SnapshotOrderError`` naming the table and the dates, and silver stays
as it was. A rerun of a day whose bronze partition retention removed has nothing to
reprocess: it changes nothing and says so.

Once every registry of the day's manifest is in bronze, the extract gets its ingest receipt
and its raw files are removed as ``raw_export_retention_days`` says
(``civiclake.ingest.raw_exports``); a rerun reprocesses bronze and never needs them.
"""

from __future__ import annotations

import logging
from datetime import date
from functools import reduce
from operator import or_
from pathlib import Path

from civiclake.contracts.resources import FAMILY, REGISTRIES, REGISTRY_NAMES
from civiclake.geography import load_geography
from civiclake.ingest import raw_exports
from civiclake.ingest.extract import Extraction, land_batch
from civiclake.ingest.quarantine import outside, quarantine, with_reason
from civiclake.ingest.registry_extracts import (
    MANIFEST,
    read_manifest,
    snapshot_dir,
    snapshot_file,
    sources_root,
)
from civiclake.ingest.results import History, IngestResult, TableResult, record_batch
from civiclake.ingest.tokens import tokenise_columns
from civiclake.jurisdiction import load_jurisdiction
from civiclake.lake.runs import WINDOWS_TABLE, recorded_window, state_rows
from civiclake.lake.scd2 import Snapshot, SnapshotArchive, apply_snapshot
from civiclake.lake.writes import row_hash, table_exists
from civiclake.settings import Settings

log = logging.getLogger(__name__)

# Columns validate() adds to find copies and keys with two rows; not kept in quarantine.
_COPY_COLUMNS = ("_content_hash", "_versions_of_key", "_copy")


class ExtractIncompleteError(RuntimeError):
    """An extract file does not hold the rows its manifest announces."""


def source_table(registry: str) -> str:
    """The name a registry's batches are recorded under."""
    return f"{FAMILY}.{registry}"


def _extract(spark, settings: Settings, registry: str, day: date) -> Extraction:
    manifest = read_manifest(settings, day)
    announced = manifest.get("rows", {}).get(registry)
    path = snapshot_file(settings, registry, day)
    if announced is None or not path.exists():
        raise ExtractIncompleteError(
            f"the registry extract of {day} has no {registry} file ({path}); the manifest lists "
            f"{sorted(manifest.get('rows', {}))}. Ask for the extract to be delivered again."
        )
    raw = spark.read.parquet(str(path))
    rows = raw.count()
    if rows != announced:
        raise ExtractIncompleteError(
            f"{path} holds {rows} rows but the manifest of {day} announces {announced}: the extract "
            "is truncated or was replaced; it is not loaded. Deliver the extract again."
        )
    # A full extract has no window start.
    tokenised = tokenise_columns(raw, REGISTRIES[registry], settings.require_pii_key())
    return Extraction(None, tokenised, f"file:{path}")


def validate(spark, settings: Settings, batch, registry: str, day: date):
    """Adds ``quarantine_reason`` (null for a good row) and ``_copy`` (1 for the row kept)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    contract = REGISTRIES[registry]
    key = contract.key[0]
    geography = load_geography()
    box = load_jurisdiction(settings.jurisdiction).box
    columns = batch.columns
    content = [c for c in columns if not c.startswith("_") and c != "batch_date"]
    by_key = Window.partitionBy(key)
    checked = (
        batch.withColumn("_content_hash", row_hash(sorted(content)))
        .withColumn("_versions_of_key", F.size(F.collect_set("_content_hash").over(by_key)))
        .withColumn("_copy", F.row_number().over(by_key.orderBy("_content_hash")))
    )
    checks = [(F.col(key).isNull() | (F.trim(key) == ""), f"missing {key}")]
    checks.append((F.col("_versions_of_key") > 1, f"one {key} with different rows in the extract"))
    if "community_code" in columns:
        known = F.col("community_code").isin(*sorted(geography.communities))
        # Street-level teams have no community; every other registry row needs one.
        allowed_null = F.lit(contract.field("community_code").nullable)
        checks.append(
            (
                (F.col("community_code").isNull() & ~allowed_null)
                | (F.col("community_code").isNotNull() & ~known),
                "unknown community_code",
            )
        )
    if "street_code" in columns:
        checks.append(
            (
                ~F.coalesce(F.col("street_code").isin(*sorted(geography.streets)), F.lit(False)),
                "unknown street_code",
            )
        )
    if "lon" in columns:
        missing = F.col("lon").isNull() | F.col("lat").isNull()
        checks.append((missing | outside(box), "coordinates outside the jurisdiction"))
    day_literal = F.lit(day).cast("date")
    checks.append(
        (
            reduce(or_, [F.col(column) > day_literal for column in contract.not_after_batch]),
            "date after the snapshot date",
        )
    )
    return with_reason(checked, checks)


def _snapshot(checked, registry: str, day: date) -> Snapshot:
    """The rows of a checked extract that go to silver, and the keys quarantine holds back."""
    contract = REGISTRIES[registry]
    key = contract.key[0]
    good = checked.where("quarantine_reason is null and _copy = 1").select(*contract.merge_columns())
    held = checked.where(f"quarantine_reason is not null and {key} is not null").select(key)
    return Snapshot(day, good, held)


def bronze_snapshots(spark, settings: Settings, registry: str) -> SnapshotArchive:
    """The registry's extracts as bronze holds them, checked as on their first run: what an
    SCD2 rebuild replays."""
    from pyspark.sql import functions as F

    table = REGISTRIES[registry].table
    path = settings.table_path("bronze", table)

    def dates() -> set[date]:
        if not table_exists(spark, path):
            return set()
        found = spark.read.format("delta").load(path).select("batch_date").distinct().collect()
        return {row.batch_date for row in found}

    def snapshot(day: date) -> Snapshot:
        rows = spark.read.format("delta").load(path).where(F.col("batch_date") == F.lit(day))
        return _snapshot(validate(spark, settings, rows, registry, day), registry, day)

    return SnapshotArchive(f"bronze.{table}", dates, snapshot)


def _extracted_rows(spark, settings: Settings, registry: str, day: date) -> int | None:
    """Rows the first run of ``day`` extracted into bronze, as it recorded them."""
    where = f"source_table = '{source_table(registry)}' and batch_date = '{day}'"
    rows = state_rows(spark, settings, WINDOWS_TABLE, where)
    found = [] if rows is None else rows.select("rows_extracted").collect()
    return found[0].rows_extracted if found else None


def ingest_registry(spark, settings: Settings, registry: str, logical_date: date) -> TableResult | None:
    """The registry's snapshot of ``logical_date`` into silver; None when a rerun finds that
    bronze retention removed the day's snapshot (nothing to reprocess, nothing changed)."""
    contract = REGISTRIES[registry]
    silver_path = settings.table_path("silver", contract.table)
    batch = land_batch(
        spark,
        settings,
        source_table(registry),
        contract.table,
        logical_date,
        lambda _: _extract(spark, settings, registry, logical_date),
    )
    checked = validate(spark, settings, batch.rows(spark), registry, logical_date).cache()
    source_rows = checked.count()
    if not batch.extracted and source_rows == 0 and _extracted_rows(spark, settings, registry, logical_date):
        checked.unpersist()
        log.warning(
            "ingest resources %s %s: bronze.%s no longer holds the snapshot of %s (bronze retention "
            "removed it); nothing to reprocess, silver.%s keeps the history it has",
            registry,
            logical_date,
            contract.table,
            logical_date,
            contract.table,
        )
        return None
    batch.record_window(spark, settings, source_rows)

    kept = [c for c in checked.columns if c not in _COPY_COLUMNS]
    quarantined = quarantine(checked, settings, contract.table, logical_date, columns=kept)
    # Exact copies of a good row of the extract: known duplicates.
    duplicates = checked.where("quarantine_reason is null and _copy > 1").count()
    applied = apply_snapshot(
        spark,
        settings,
        contract.table,
        _snapshot(checked, registry, logical_date),
        keys=list(contract.key),
        tracked_columns=list(contract.scd2_tracked),
        archive=bronze_snapshots(spark, settings, registry),
    )
    counts = applied.counts
    silver = spark.read.format("delta").load(silver_path)
    result = TableResult(
        table=contract.table,
        batch_date=str(logical_date),
        extracted=batch.extracted,
        source_rows=source_rows,
        # The snapshot's rows in silver: versions the MERGE's commit opened (new and changed
        # keys) and rows that match the current version silver already held.
        silver_rows=counts["opened"] + counts["changed"] + counts["unchanged"],
        quarantined_rows=quarantined.written,
        duplicate_rows=duplicates,
        quarantine_reasons=quarantined.reasons(),
        silver_total=silver.count(),
        history=History(**counts, current_rows=silver.where("is_current").count()),
    )
    record_batch(spark, settings, result)
    checked.unpersist()
    log.info("ingest resources %s %s (%s): %s", registry, logical_date, applied.action, result.summary())
    return result


def retire_extract(spark, settings: Settings, day: date, done: tuple[str, ...]) -> None:
    """Writes the receipt of ``day``'s extract once every registry of its manifest is in bronze
    (``done`` now, or recorded by an earlier run), then removes what retention no longer keeps."""
    folder = snapshot_dir(settings, day)
    if (folder / MANIFEST).exists():
        announced = sorted(read_manifest(settings, day).get("rows", {}))
        waiting = [
            r
            for r in announced
            if r not in done and recorded_window(spark, settings, source_table(r), day) is None
        ]
        if waiting:
            log.info("registry extract %s kept: %s not ingested yet", day, ", ".join(waiting))
        else:
            files = [folder / MANIFEST] + [snapshot_file(settings, r, day) for r in announced]
            raw_exports.write_receipt(folder, day, [f for f in files if f.exists()])
    raw_exports.prune(sources_root(settings), day, settings.raw_export_retention_days)


def run(
    spark, settings: Settings, logical_date: date, registries: tuple[str, ...] = REGISTRY_NAMES
) -> IngestResult:
    unknown = [r for r in registries if r not in REGISTRIES]
    if unknown:
        raise KeyError(f"unknown registries {unknown}; known: {', '.join(REGISTRY_NAMES)}")
    if snapshot_dir(settings, logical_date).is_dir():
        raw_exports.secure_batch(Path(settings.data_dir) / "sources", "resources", logical_date.isoformat())
    results = {registry: ingest_registry(spark, settings, registry, logical_date) for registry in registries}
    retire_extract(spark, settings, logical_date, tuple(registries))
    gone = [registry for registry, result in results.items() if result is None]
    note = None
    if gone:
        note = (
            f"bronze no longer holds the snapshot of {logical_date} of {', '.join(gone)} (bronze "
            "retention removed it): nothing to reprocess; silver keeps the history it has"
        )
    return IngestResult(FAMILY, str(logical_date), [r for r in results.values() if r is not None], note)


def main(logical_date: str) -> IngestResult:
    from civiclake.settings import get_settings
    from civiclake.spark import spark_session

    settings = get_settings()
    spark = spark_session(settings, f"ingest_resources_{logical_date}")
    return run(spark, settings, date.fromisoformat(logical_date))

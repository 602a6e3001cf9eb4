"""Loads one batch of file exports into Delta: bronze, quarantine, silver, reconciliation.

For a batch folder ``<data_dir>/landing/<source>/<date>/`` and each export contract:
1. read and check every file (``files``, ``validate``); personal data becomes tokens in
   the driver, before Spark sees a row;
2. replace bronze partition ``batch_date = D`` with every row of the readable files,
   as received (text), with batch metadata (``_extracted_at`` is the file's modification
   time — when the export landed — never the clock) and the validation verdict (an ID number's
   check digit can only be verified before it is tokenised, so the verdict is taken at
   extraction and travels with the row);
3. replace the quarantine partition with the rejected rows and their reasons;
4. MERGE the good rows, typed, into silver on the business key (a record marked deleted
   stays, with ``is_deleted``); an older batch replayed never rolls a row back;
5. store the reconciliation source = silver + quarantine + duplicates — silver as the
   MERGE's Delta commit landed it, quarantine as written, duplicates as exact copies in the
   batch plus rows whose key silver holds from a later batch — and a manifest of the
   batch's files (loaded, empty or failed with the error);
6. when no file failed, write the batch's ingest receipt and remove the raw exports that
   ``raw_export_retention_days`` no longer keeps (``civiclake.ingest.raw_exports``).
Rerunning a date rereads the same files and replaces the same partitions; once its files
are removed, a rerun changes nothing and says so.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from pathlib import Path

from civiclake.contracts.base import SourceContract
from civiclake.geography import load_geography
from civiclake.ingest import raw_exports
from civiclake.ingest.files import FileRead, read_batch
from civiclake.ingest.quarantine import REASON, quarantine
from civiclake.ingest.results import Files, IngestResult, TableResult, record_batch
from civiclake.ingest.validate import check_batch, tokenised_record
from civiclake.jurisdiction import load_jurisdiction
from civiclake.lake.runs import record_file_manifest
from civiclake.lake.writes import merge_upsert, overwrite_partition
from civiclake.settings import Settings

log = logging.getLogger(__name__)

META_COLUMNS = (
    "_source",
    "_batch_id",
    "_file_name",
    "_row_number",
    "_encoding",
    "_extracted_at",
    "_extra_columns",
    "_quarantine_reason",
    "_duplicate",
)


def landing_folder(settings: Settings, source: str, batch_date: date) -> Path:
    return settings.landing / source / batch_date.isoformat()


def bronze_schema(contract: SourceContract):
    from pyspark.sql import types as T

    fields = [T.StructField(f.stored_name, T.StringType(), True) for f in contract.fields]
    fields += [
        T.StructField("_source", T.StringType(), False),
        T.StructField("_batch_id", T.StringType(), False),
        T.StructField("_file_name", T.StringType(), False),
        T.StructField("_row_number", T.LongType(), False),
        T.StructField("_encoding", T.StringType(), True),
        T.StructField("_extracted_at", T.TimestampType(), False),
        T.StructField("_extra_columns", T.StringType(), True),
        T.StructField("_quarantine_reason", T.StringType(), True),
        T.StructField("_duplicate", T.BooleanType(), False),
        T.StructField("batch_date", T.DateType(), False),
    ]
    return T.StructType(fields)


def bronze_rows(
    reads: list[FileRead], contract: SourceContract, checked, settings: Settings, batch_date: date
) -> list[tuple]:
    key = settings.require_pii_key()
    encodings = {r.file_name: r.encoding for r in reads}
    landed = {r.file_name: datetime.fromtimestamp(int(r.path.stat().st_mtime)) for r in reads}
    batch_id = f"{contract.family}:{contract.table}:{batch_date}"
    rows = []
    for row in checked:
        record = tokenised_record(row, contract, key)
        rows.append(
            (
                *(record[f.stored_name] for f in contract.fields),
                f"file:{contract.family}/{contract.source.title}",
                batch_id,
                row.file_name,
                row.row_number,
                encodings.get(row.file_name),
                landed[row.file_name],
                record["_extra_columns"],
                row.reason,
                row.duplicate,
                batch_date,
            )
        )
    return rows


def typed_silver(good, contract: SourceContract):
    """Bronze text → typed silver columns, with the street of the community and the delete flag."""
    from pyspark.sql import functions as F

    geography = load_geography()
    types = contract.silver_types()
    df = good
    for f in contract.fields:
        df = df.withColumn(f.stored_name, F.col(f.stored_name).cast(types[f.stored_name]))
    if contract.community_field:
        streets = F.create_map(
            *[
                F.lit(x)
                for code, area in sorted(geography.communities.items())
                for x in (code, area.parent_code)
            ]
        )
        df = df.withColumn("district_code", F.lit(geography.district.code)).withColumn(
            "street_code", streets[F.col(contract.community_field)]
        )
    deleted = (
        F.coalesce(F.col(contract.deleted_field), F.lit(False)) if contract.deleted_field else F.lit(False)
    )
    df = df.withColumn("is_deleted", deleted).withColumn("source_file", F.col("_file_name"))
    return df.select(*[F.col(c).cast(types[c]).alias(c) for c in contract.silver_columns()])


def load_table(spark, settings: Settings, contract: SourceContract, batch_date: date) -> TableResult:
    from pyspark.sql import functions as F

    folder = landing_folder(settings, contract.family, batch_date)
    reads = read_batch(folder, contract)
    checked = check_batch(
        reads, contract, batch_date, load_geography(), load_jurisdiction(settings.jurisdiction)
    )
    rows = bronze_rows(reads, contract, checked, settings, batch_date)
    schema = bronze_schema(contract)
    bronze_path = settings.table_path("bronze", contract.table)
    bronze_batch = spark.createDataFrame(rows, schema)
    overwrite_partition(bronze_batch, bronze_path, "batch_date", batch_date)

    # Quarantine and silver come from the same rows bronze now holds for the batch.
    quarantined = quarantine(
        bronze_batch.withColumnRenamed("_quarantine_reason", REASON), settings, contract.table, batch_date
    )
    good = bronze_batch.where(F.col("_quarantine_reason").isNull() & ~F.col("_duplicate"))
    silver = typed_silver(good, contract)
    # A key silver holds from a later batch (an older batch replayed) is a known duplicate.
    landed = merge_upsert(
        spark,
        silver,
        settings.table_path("silver", contract.table),
        list(contract.key),
        newer_than="batch_date",
        batch_date=batch_date,
    )

    # Reasons by kind, as the checks found them (a row may fail several fields).
    reasons: dict[str, int] = {}
    for r in checked:
        for kind in r.reason_kinds:
            reasons[kind] = reasons.get(kind, 0) + 1
    # Each term counted on its own: silver as the MERGE's commit landed it, quarantine as
    # written, duplicates as the rows checked (copies in the batch) and the MERGE held back.
    result = TableResult(
        table=contract.table,
        batch_date=str(batch_date),
        extracted=True,
        source_rows=len(checked),
        silver_rows=landed.rows,
        quarantined_rows=quarantined.written,
        duplicate_rows=sum(1 for r in checked if r.duplicate) + landed.held,
        quarantine_reasons=dict(sorted(reasons.items())),
        files=Files.of(reads),
    )
    record_batch(spark, settings, result)
    log.info(
        "%s %s: %d files (%d failed, %d empty), rows in %d → silver %d, quarantined %d, duplicates %d",
        contract.table,
        batch_date,
        result.files.count,
        len(result.files.failed),
        len(result.files.empty),
        result.source_rows,
        result.silver_rows,
        result.quarantined_rows,
        result.duplicate_rows,
    )
    return result


def load_batch(spark, settings: Settings, source: str, contracts, batch_date: date) -> IngestResult:
    folder = landing_folder(settings, source, batch_date)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"no landing folder {folder} for {source} on {batch_date}: run "
            f"`civiclake simulate {source} --date {batch_date}` or deliver the exports there"
        )
    raw_exports.secure_batch(settings.landing, source, batch_date.isoformat())
    arrived = [path for c in contracts for path in folder.glob(c.source.pattern)]
    removed = raw_exports.removed_batch(folder, arrived)
    if removed is not None:
        note = f"{removed.describe()}: nothing to load; the lake keeps what that ingest wrote"
        log.info("ingest %s %s: %s", source, batch_date, note)
        result = IngestResult(source, str(batch_date), [], note)
    else:
        tables = [load_table(spark, settings, c, batch_date) for c in contracts]
        reads = [r for t in tables for r in t.files.reads]
        record_file_manifest(spark, settings, source, batch_date, reads)
        result = IngestResult(source, str(batch_date), tables)
        # A batch with a failed file is not done: its files wait for the corrected export.
        if not result.failed_files:
            raw_exports.write_receipt(folder, batch_date, [r.path for r in reads])
    raw_exports.prune(settings.landing / source, batch_date, settings.raw_export_retention_days)
    return result

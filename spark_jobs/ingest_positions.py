"""The position feed's day: hourly CSV files → Delta bronze → quarantine → silver
``resource_positions`` (MERGE on resource_id, reported_at) → reconciliation.

Reads ``<data_dir>/landing/positions/<D>/<HH>.csv`` with the shared file reader and the
shared batch machinery of the file exports (``civiclake.ingest``: receipt, retention,
manifest, bronze as received, the quarantine partition, reconciliation). What is the
feed's own: each row is checked against the basic-resource registries as they stood on D
(the SCD2 versions of ``silver.resources_vehicles`` and ``silver.resources_teams`` valid
that day) and against the geography, which also gives silver the area of each point
(``civiclake.ingest.positions``). Rows are checked in the driver: a day at district scale
is tens of thousands of rows (``BENCHMARKS.md``).

Rerunning a date rereads the same files and replaces the same partitions; an older batch
replayed never rolls a report back (``merge_upsert`` with ``newer_than``).
"""

from __future__ import annotations

import logging
from datetime import date, datetime

from civiclake.contracts.positions import FAMILY, POSITIONS
from civiclake.contracts.resources import TEAMS, VEHICLES
from civiclake.geography import load_geography
from civiclake.ingest import raw_exports
from civiclake.ingest.delta import bronze_rows, bronze_schema, landing_folder
from civiclake.ingest.files import read_batch
from civiclake.ingest.positions import CheckedPosition, check_positions, reason_counts
from civiclake.ingest.quarantine import REASON, quarantine
from civiclake.ingest.results import Files, IngestResult, TableResult, record_batch
from civiclake.jurisdiction import load_jurisdiction
from civiclake.lake.runs import record_file_manifest
from civiclake.lake.writes import merge_upsert, overwrite_partition, table_exists
from civiclake.settings import Settings

log = logging.getLogger(__name__)


class ResourceRegistryMissingError(RuntimeError):
    """The vehicle or team registry is not in the lake: no report's terminal can be checked."""


def registered_resources(spark, settings: Settings, day: date) -> dict[str, str]:
    """Resource id → ``vehicle`` or ``team`` of every vehicle and team registered on ``day``
    (the SCD2 version valid that day: valid_from ≤ day < valid_to)."""
    from pyspark.sql import functions as F

    on_day = F.lit(day).cast("date")
    registry: dict[str, str] = {}
    for contract, kind in ((VEHICLES, "vehicle"), (TEAMS, "team")):
        path = settings.table_path("silver", contract.table)
        if not table_exists(spark, path):
            raise ResourceRegistryMissingError(
                f"silver.{contract.table} is not in the lake ({path}): without the registries no "
                f"report's terminal can be checked. Run `civiclake ingest resources --date {day}` first."
            )
        rows = (
            spark.read.format("delta")
            .load(path)
            .where(
                (F.col("valid_from") <= on_day) & (F.col("valid_to").isNull() | (F.col("valid_to") > on_day))
            )
            .select(contract.key[0])
            .distinct()
            .collect()
        )
        registry.update({row[0]: kind for row in rows})
    return registry


def _number(text: str | None) -> float | None:
    return None if text is None else float(text)


def silver_rows(checked: list[CheckedPosition], batch_date: date) -> list[tuple]:
    """The good reports, typed, with the area of their point, in silver's column order."""
    rows = []
    for position in checked:
        if not position.good:
            continue
        values, place = position.row.values, position.location
        rows.append(
            (
                values["resource_id"],
                values["resource_kind"],
                datetime.fromisoformat(values["reported_at"]),
                float(values["lon"]),
                float(values["lat"]),
                _number(values["speed_kmh"]),
                _number(values["heading_deg"]),
                place.district_code,
                place.street_code,
                place.community_code,
                place.grid_code,
                False,
                position.row.file_name,
                batch_date,
            )
        )
    return rows


def silver_schema() -> str:
    types = POSITIONS.silver_types()
    return ", ".join(f"`{c}` {types[c]}" for c in POSITIONS.silver_columns())


def load_day(spark, settings: Settings, day: date) -> TableResult:
    registry = registered_resources(spark, settings, day)
    reads = read_batch(landing_folder(settings, FAMILY, day), POSITIONS)
    checked = check_positions(
        reads, day, registry, load_geography(), load_jurisdiction(settings.jurisdiction)
    )
    bronze = spark.createDataFrame(
        bronze_rows(reads, POSITIONS, [c.row for c in checked], settings, day), bronze_schema(POSITIONS)
    )
    overwrite_partition(bronze, settings.table_path("bronze", POSITIONS.table), "batch_date", day)
    quarantined = quarantine(
        bronze.withColumnRenamed("_quarantine_reason", REASON),
        settings,
        POSITIONS.table,
        day,
    )
    good = silver_rows(checked, day)
    landed = merge_upsert(
        spark,
        spark.createDataFrame(good, silver_schema()),
        settings.table_path("silver", POSITIONS.table),
        list(POSITIONS.key),
        newer_than="batch_date",
        rows=len(good),
        batch_date=day,
    )
    result = TableResult(
        table=POSITIONS.table,
        batch_date=str(day),
        extracted=True,
        source_rows=len(checked),
        silver_rows=landed.rows,
        quarantined_rows=quarantined.written,
        duplicate_rows=sum(1 for c in checked if c.row.duplicate) + landed.held,
        quarantine_reasons=reason_counts(checked),
        files=Files.of(reads),
    )
    record_batch(spark, settings, result)
    record_file_manifest(spark, settings, FAMILY, day, reads)
    return result


def run(spark, settings: Settings, logical_date: date) -> IngestResult:
    folder = landing_folder(settings, FAMILY, logical_date)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"no landing folder {folder} for {FAMILY} on {logical_date}: run "
            f"`civiclake simulate {FAMILY} --date {logical_date}` or deliver the hourly files there"
        )
    raw_exports.secure_batch(settings.landing, FAMILY, logical_date.isoformat())
    removed = raw_exports.removed_batch(folder, folder.glob(POSITIONS.source.pattern))
    if removed is not None:
        note = f"{removed.describe()}: nothing to load; the lake keeps what that ingest wrote"
        result = IngestResult(FAMILY, str(logical_date), [], note)
    else:
        table = load_day(spark, settings, logical_date)
        result = IngestResult(FAMILY, str(logical_date), [table])
        # A day with a failed file is not done: its files wait for the corrected export.
        if not result.failed_files:
            raw_exports.write_receipt(folder, logical_date, [r.path for r in table.files.reads])
    raw_exports.prune(settings.landing / FAMILY, logical_date, settings.raw_export_retention_days)
    log.info("ingest %s %s: %s", FAMILY, logical_date, result.summary() or result.note)
    return result


def main(logical_date: str) -> IngestResult:
    from civiclake.settings import get_settings
    from civiclake.spark import spark_session

    settings = get_settings()
    spark = spark_session(settings, f"ingest_{FAMILY}_{logical_date}")
    return run(spark, settings, date.fromisoformat(logical_date))

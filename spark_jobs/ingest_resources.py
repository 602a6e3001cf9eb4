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
   ``civiclake.lake.scd2.scd2_merge`` (new versions for new and changed rows, soft deletes for
   rows gone from the extract; quarantined ids are held as they were);
4. stores the reconciliation: extract rows = silver + quarantine + duplicates, silver as the
   versions the MERGE's Delta commit opened plus the rows it found unchanged.

Once every registry of the day's manifest is in bronze, the extract gets its ingest receipt
and its raw files are removed as ``raw_export_retention_days`` says
(``civiclake.ingest.raw_exports``); a rerun reprocesses bronze and never needs them.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from functools import reduce
from operator import or_
from pathlib import Path

from civiclake.contracts.resources import REGISTRIES, REGISTRY_NAMES
from civiclake.geography import load_geography
from civiclake.ingest import raw_exports
from civiclake.ingest.registry_extracts import (
    MANIFEST,
    read_manifest,
    snapshot_dir,
    snapshot_file,
    sources_root,
)
from civiclake.jurisdiction import load_jurisdiction
from civiclake.lake.runs import record_reconciliation, record_window, recorded_window
from civiclake.lake.scd2 import scd2_merge
from civiclake.lake.writes import overwrite_partition, row_hash
from civiclake.pii import is_valid_id_number, tokenise
from civiclake.settings import Settings

log = logging.getLogger(__name__)


class ExtractIncompleteError(RuntimeError):
    """An extract file does not hold the rows its manifest announces."""


@dataclass(frozen=True)
class RegistryResult:
    registry: str
    batch_date: str
    extracted: bool
    source_rows: int
    silver_rows: int
    quarantined_rows: int
    duplicate_rows: int
    opened: int
    changed: int
    deleted: int
    unchanged: int
    current_rows: int
    versions_total: int


def token_column(column: str) -> str:
    """``head_id_number`` → ``head_id_token``, ``head_phone`` → ``head_phone_token``."""
    return f"{column.removesuffix('_number')}_token"


def tokenise_columns(df, pii: dict[str, str], key: bytes):
    """Replaces each raw personal column by its token (and ID numbers also by a validity flag).

    Runs in the Python workers (``mapInPandas``) with the same ``civiclake.pii.tokenise``
    as every other job, so a resident gets the same token in every table.
    """
    from pyspark.sql import types as T

    if not pii:
        return df
    fields = [f for f in df.schema.fields if f.name not in pii]
    for column, kind in pii.items():
        if kind == "id_number":
            fields.append(T.StructField(f"{column.removesuffix('_number')}_valid", T.BooleanType(), True))
        fields.append(T.StructField(token_column(column), T.StringType(), True))

    def apply(batches):
        for pdf in batches:
            for column, kind in pii.items():
                if kind == "id_number":
                    pdf[f"{column.removesuffix('_number')}_valid"] = pdf[column].map(
                        lambda v: None if v is None else is_valid_id_number(v)
                    )
                pdf[token_column(column)] = pdf[column].map(lambda v, kind=kind: tokenise(v, kind, key))
            yield pdf.drop(columns=list(pii))

    return df.mapInPandas(apply, T.StructType(fields))


def silver_name(registry: str) -> str:
    return REGISTRIES[registry].table


def _extract(spark, settings: Settings, registry: str, day: date):
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
    return tokenise_columns(raw, REGISTRIES[registry].pii, settings.require_pii_key()), str(path)


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
    reasons = [(F.col(key).isNull() | (F.trim(key) == ""), f"missing {key}")]
    reasons.append((F.col("_versions_of_key") > 1, f"one {key} with different rows in the extract"))
    if "community_code" in columns:
        known = F.col("community_code").isin(*sorted(geography.communities))
        # Street-level teams have no community; every other registry row needs one.
        allowed_null = F.lit(contract.field("community_code").nullable)
        reasons.append(
            (
                (F.col("community_code").isNull() & ~allowed_null)
                | (F.col("community_code").isNotNull() & ~known),
                "unknown community_code",
            )
        )
    if "street_code" in columns:
        reasons.append(
            (
                ~F.coalesce(F.col("street_code").isin(*sorted(geography.streets)), F.lit(False)),
                "unknown street_code",
            )
        )
    if "lon" in columns:
        reasons.append(
            (
                F.col("lon").isNull()
                | F.col("lat").isNull()
                | (F.col("lon") < box.min_lon)
                | (F.col("lon") > box.max_lon)
                | (F.col("lat") < box.min_lat)
                | (F.col("lat") > box.max_lat),
                "coordinates outside the jurisdiction",
            )
        )
    day_literal = F.lit(day).cast("date")
    reasons.append(
        (
            reduce(or_, [F.col(column) > day_literal for column in contract.not_after_batch]),
            "date after the snapshot date",
        )
    )
    reason = F.lit(None).cast("string")
    for condition, text in reversed(reasons):
        reason = F.when(condition, F.lit(text)).otherwise(reason)
    return checked.withColumn("quarantine_reason", reason)


def ingest_registry(spark, settings: Settings, registry: str, logical_date: date) -> RegistryResult:
    from pyspark.sql import functions as F

    contract = REGISTRIES[registry]
    key = contract.key[0]
    source_name = f"resources.{registry}"
    bronze_path = settings.table_path("bronze", silver_name(registry))
    silver_path = settings.table_path("silver", silver_name(registry))
    extracted = recorded_window(spark, settings, source_name, logical_date) is None
    if extracted:
        tokenised, source_path = _extract(spark, settings, registry, logical_date)
        batch = (
            tokenised.withColumn("_batch_id", F.lit(f"{source_name}:{logical_date}"))
            .withColumn("_source", F.lit(f"file:{source_path}"))
            .withColumn("batch_date", F.lit(logical_date).cast("date"))
        )
        overwrite_partition(batch, bronze_path, "batch_date", logical_date)
    else:
        log.info("%s %s was extracted before; reprocessing it from bronze", registry, logical_date)
    bronze = spark.read.format("delta").load(bronze_path).where(F.col("batch_date") == F.lit(logical_date))
    checked = validate(spark, settings, bronze, registry, logical_date).cache()
    source_rows = checked.count()
    if extracted:
        end = datetime.combine(logical_date + timedelta(days=1), time())
        record_window(spark, settings, source_name, logical_date, None, end, source_rows)

    quarantine = checked.where("quarantine_reason is not null").drop(
        "_content_hash", "_versions_of_key", "_copy"
    )
    quarantined = overwrite_partition(
        quarantine,
        settings.table_path("silver", f"{silver_name(registry)}_quarantine"),
        "batch_date",
        logical_date,
    )
    good = checked.where("quarantine_reason is null and _copy = 1").select(*contract.merge_columns())
    # Exact copies of a good row of the extract: known duplicates.
    duplicates = checked.where("quarantine_reason is null and _copy > 1").count()
    held = checked.where(f"quarantine_reason is not null and {key} is not null").select(key)
    counts = scd2_merge(
        spark,
        good,
        silver_path,
        keys=[key],
        tracked_columns=list(contract.scd2_tracked),
        valid_from=logical_date,
        held_keys_df=held,
    )
    # The snapshot's rows in silver: versions the MERGE's commit opened (new and changed
    # keys) and rows that match the current version silver already held.
    silver_rows = counts["opened"] + counts["changed"] + counts["unchanged"]
    record_reconciliation(
        spark,
        settings,
        silver_name(registry),
        logical_date,
        source_rows=source_rows,
        silver_rows=silver_rows,
        quarantined=quarantined,
        duplicates=duplicates,
    )
    checked.unpersist()
    silver = spark.read.format("delta").load(silver_path)
    result = RegistryResult(
        registry=registry,
        batch_date=str(logical_date),
        extracted=extracted,
        source_rows=source_rows,
        silver_rows=silver_rows,
        quarantined_rows=quarantined,
        duplicate_rows=duplicates,
        **counts,
        current_rows=silver.where("is_current").count(),
        versions_total=silver.count(),
    )
    log.info("ingest resources %s %s: %s", registry, logical_date, asdict(result))
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
            if r not in done and recorded_window(spark, settings, f"resources.{r}", day) is None
        ]
        if waiting:
            log.info("registry extract %s kept: %s not ingested yet", day, ", ".join(waiting))
        else:
            files = [folder / MANIFEST] + [snapshot_file(settings, r, day) for r in announced]
            raw_exports.write_receipt(folder, day, [f for f in files if f.exists()])
    raw_exports.prune(sources_root(settings), day, settings.raw_export_retention_days)


def run(
    spark, settings: Settings, logical_date: date, registries: tuple[str, ...] = REGISTRY_NAMES
) -> list[RegistryResult]:
    unknown = [r for r in registries if r not in REGISTRIES]
    if unknown:
        raise KeyError(f"unknown registries {unknown}; known: {', '.join(REGISTRY_NAMES)}")
    if snapshot_dir(settings, logical_date).is_dir():
        raw_exports.secure_batch(Path(settings.data_dir) / "sources", "resources", logical_date.isoformat())
    results = [ingest_registry(spark, settings, registry, logical_date) for registry in registries]
    retire_extract(spark, settings, logical_date, tuple(registries))
    return results


def main(logical_date: str) -> list[RegistryResult]:
    from civiclake.settings import get_settings
    from civiclake.spark import spark_session

    settings = get_settings()
    spark = spark_session(settings, f"ingest_resources_{logical_date}")
    return run(spark, settings, date.fromisoformat(logical_date))

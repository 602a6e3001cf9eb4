"""The registry of the platform's trained case classifiers: a state table of the lake,
one row per version, written by the weekly training and read by the scoring job.

A version is named after the day it was trained for (``v20261125``): it has seen the cases
reported before that day only, so scoring that day's cases with it is honest.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from civiclake.lake.runs import state_path, state_rows, upsert_state
from civiclake.lake.writes import table_exists
from civiclake.settings import Settings
from models.case_classifier.train import ModelCard

MODEL_NAME = "case_classifier"
REGISTRY = "model_registry"
REGISTRY_SCHEMA = (
    "model_name string not null, version string not null, trained_before date not null, "
    "path string not null, threshold double not null, accuracy double not null, macro_f1 double not null, "
    "coverage_at_threshold double not null, corrections_used bigint"
)


def model_version(logical_date: date) -> str:
    return f"v{logical_date:%Y%m%d}"


def version_date(version: str) -> date:
    """The date a version was trained before (inverse of :func:`model_version`)."""
    return datetime.strptime(version, "v%Y%m%d").date()


def register(
    spark, settings: Settings, card: ModelCard, directory: Path, trained_before: date, corrections_used: int
) -> None:
    """Records the model saved in ``directory`` (replacing the row of the same version)."""
    row = (
        MODEL_NAME,
        card.version,
        trained_before,
        str(directory),
        card.threshold,
        card.metrics["accuracy"],
        card.metrics["macro_f1"],
        card.metrics["coverage_at_threshold"],
        corrections_used,
    )
    _add_missing_columns(spark, state_path(settings, REGISTRY), {"corrections_used": "bigint"})
    upsert_state(spark, settings, REGISTRY, REGISTRY_SCHEMA, [row], ["model_name", "version"])


def _add_missing_columns(spark, path: str, columns: dict[str, str]) -> None:
    """Adds nullable columns a registry written by an earlier version of the training lacks."""
    if not table_exists(spark, path):
        return
    present = set(spark.read.format("delta").load(path).columns)
    missing = [f"`{name}` {kind}" for name, kind in columns.items() if name not in present]
    if missing:
        spark.sql(f"ALTER TABLE delta.`{path}` ADD COLUMNS ({', '.join(missing)})")


def latest_registered(spark, settings: Settings, on_or_before: date):
    """(version, path) of the newest registered model trained on data before ``on_or_before``."""
    from pyspark.sql import functions as F

    registered = state_rows(
        spark,
        settings,
        REGISTRY,
        (F.col("model_name") == MODEL_NAME) & (F.col("trained_before") <= F.lit(on_or_before)),
    )
    if registered is None:
        return None
    rows = registered.orderBy(F.col("trained_before").desc()).limit(1).collect()
    return (rows[0].version, rows[0].path) if rows else None

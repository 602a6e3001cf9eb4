"""Trains the case classifier on the silver cases reported before a logical date and registers it.

The model trained for day D has seen nothing of D, so scoring D's cases with it is honest.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import date, datetime, time

from civiclake import lake
from civiclake.settings import Settings
from models.case_classifier import train as trainer

log = logging.getLogger(__name__)

MODEL_NAME = "case_classifier"
REGISTRY = "model_registry"


def model_version(logical_date: date) -> str:
    return f"v{logical_date:%Y%m%d}"


def run(spark, settings: Settings, logical_date: date) -> trainer.ModelCard:
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    cutoff = datetime.combine(logical_date, time())
    history = (
        spark.read.format("delta")
        .load(settings.table_path("silver", "governance_cases"))
        .where(F.col("reported_at") < F.lit(cutoff))
        .select("case_id", "description", "category")
        .orderBy("case_id")  # a fixed order: the same history trains the same model
        .toPandas()
    )
    version = model_version(logical_date)
    pipeline, card = trainer.train(
        history,
        "description",
        "category",
        name=MODEL_NAME,
        version=version,
        seed=settings.seed,
        target_precision=settings.dispatch_target_precision,
        data_description=f"silver.governance_cases reported before {cutoff:%Y-%m-%d %H:%M} "
        f"({len(history)} cases)",
    )
    directory = settings.model_store / MODEL_NAME / version
    trainer.save(pipeline, card, directory)
    schema = T.StructType(
        [
            T.StructField("model_name", T.StringType(), False),
            T.StructField("version", T.StringType(), False),
            T.StructField("trained_before", T.DateType(), False),
            T.StructField("path", T.StringType(), False),
            T.StructField("threshold", T.DoubleType(), False),
            T.StructField("accuracy", T.DoubleType(), False),
            T.StructField("macro_f1", T.DoubleType(), False),
            T.StructField("coverage_at_threshold", T.DoubleType(), False),
        ]
    )
    row = (
        MODEL_NAME,
        version,
        logical_date,
        str(directory),
        card.threshold,
        card.metrics["accuracy"],
        card.metrics["macro_f1"],
        card.metrics["coverage_at_threshold"],
    )
    lake.merge_upsert(
        spark,
        spark.createDataFrame([row], schema),
        lake.state_path(settings, REGISTRY),
        ["model_name", "version"],
    )
    log.info("trained %s %s: %s", MODEL_NAME, version, asdict(card)["metrics"])
    return card


def latest_registered(spark, settings: Settings, on_or_before: date):
    """(version, path) of the newest registered model trained on data before ``on_or_before``."""
    from pyspark.sql import functions as F

    path = lake.state_path(settings, REGISTRY)
    if not lake.table_exists(spark, path):
        return None
    rows = (
        spark.read.format("delta")
        .load(path)
        .where((F.col("model_name") == MODEL_NAME) & (F.col("trained_before") <= F.lit(on_or_before)))
        .orderBy(F.col("trained_before").desc())
        .limit(1)
        .collect()
    )
    return (rows[0].version, rows[0].path) if rows else None

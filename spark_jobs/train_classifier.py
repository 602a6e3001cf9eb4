"""Trains the case classifier on the silver cases reported before a logical date and registers it.

The model trained for day D has seen nothing of D, so scoring D's cases with it is honest.
It reads the case text and, beside it, the channel, street and hour of report. Where a
reviewer corrected a case's category before D (silver.case_label_corrections), the
corrected category is the label instead of the source's; a reviewed case of another
channel (in the case funnel, silver.cases) joins the history with its reviewer's label.
The card counts them. The files of the setting ``classifier_unlabelled_texts`` (the district's
past texts without labels) join the labelled texts in fitting the vectoriser.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import date, datetime, time

from civiclake.lake.writes import table_exists
from civiclake.settings import PROJECT_ROOT, Settings
from models.case_classifier import train as trainer
from models.case_classifier.files import read_unlabelled_texts, unlabelled_paths
from models.case_classifier.metadata import PLATFORM_METADATA, add_report_hour
from models.case_classifier.registry import MODEL_NAME, model_version, register

log = logging.getLogger(__name__)

CORRECTIONS = "case_label_corrections"
FUNNEL = "cases"  # every channel's cases (spark_jobs/case_funnel.py)


def _history(spark, path: str, cutoff: datetime, *conditions):
    """The cases of a silver table reported before ``cutoff`` (and matching ``conditions``), with
    the columns training reads."""
    from pyspark.sql import functions as F

    condition = F.col("reported_at") < F.lit(cutoff)
    for extra in conditions:
        condition &= extra
    return (
        spark.read.format("delta")
        .load(path)
        .where(condition)
        .select(
            "case_id",
            "description",
            "category",
            "channel",
            "street_code",
            # The source's wall clock (the lake keeps it as the UTC instant of the same digits).
            F.to_utc_timestamp("reported_at", spark.conf.get("spark.sql.session.timeZone")).alias(
                "reported_at"
            ),
        )
    )


def run(spark, settings: Settings, logical_date: date) -> trainer.ModelCard:
    from pyspark.sql import functions as F

    cutoff = datetime.combine(logical_date, time())
    cases = _history(spark, settings.table_path("silver", "governance_cases"), cutoff)
    corrections_path = settings.table_path("silver", CORRECTIONS)
    if table_exists(spark, corrections_path):
        # Only decisions taken before the cutoff: the model for D knows nothing of D.
        corrected = (
            spark.read.format("delta")
            .load(corrections_path)
            .where(F.col("reviewed_at") < F.lit(cutoff))
            .select("case_id", "corrected_category")
        )
        cases = cases.join(corrected, "case_id", "left")
        # A reviewed case of another channel (an Open311 request) is labelled by its reviewer;
        # a camera case is not: its text is the platform's own, not a resident's words.
        funnel_path = settings.table_path("silver", FUNNEL)
        if table_exists(spark, funnel_path):
            reviewed_elsewhere = _history(
                spark, funnel_path, cutoff, ~F.col("source_system").isin("governance", "camera")
            ).join(corrected, "case_id")
            cases = cases.unionByName(reviewed_elsewhere)
    else:
        cases = cases.withColumn("corrected_category", F.lit(None).cast("string"))
    # A fixed order: the same history trains the same model.
    history = add_report_hour(cases.orderBy("case_id").toPandas())
    has_correction = history["corrected_category"].notna()
    corrections_used = {
        "used": int(has_correction.sum()),
        "changed_label": int((has_correction & (history["corrected_category"] != history["category"])).sum()),
    }
    history["label"] = history["corrected_category"].where(has_correction, history["category"])
    version = model_version(logical_date)
    unlabelled = unlabelled_paths(settings.classifier_unlabelled_texts, PROJECT_ROOT)
    unlabelled_texts = read_unlabelled_texts(unlabelled, settings.classifier_unlabelled_text_column)
    pipeline, card = trainer.train(
        history,
        "description",
        "label",
        name=MODEL_NAME,
        version=version,
        seed=settings.seed,
        target_precision=settings.dispatch_target_precision,
        data_description="silver.governance_cases (and reviewed cases of other channels) reported "
        f"before {cutoff:%Y-%m-%d %H:%M} "
        f"({len(history)} cases); label: the reviewer's corrected category where one was recorded "
        f"before then ({corrections_used['used']} cases), else the source's category",
        metadata_columns=PLATFORM_METADATA,
        label_corrections=corrections_used,
        unlabelled_texts=unlabelled_texts,
        unlabelled_source=", ".join(p.name for p in unlabelled),
        reviewed=has_correction,
    )
    directory = settings.model_store / MODEL_NAME / version
    trainer.save(pipeline, card, directory)
    register(spark, settings, card, directory, logical_date, corrections_used["used"])
    log.info("trained %s %s: %s", MODEL_NAME, version, asdict(card)["metrics"])
    return card

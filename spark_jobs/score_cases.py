"""Scores the cases reported on a logical date and decides their dispatch.

A case whose calibrated confidence reaches the registered model's threshold is routed
automatically to the category's department; the rest go to the review queue. The model
is loaded once per Python worker (mapInPandas), from a registered version only.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta

from civiclake import lake
from civiclake.catalogue import CATEGORY_BY_CODE
from civiclake.settings import Settings
from spark_jobs.train_classifier import latest_registered

log = logging.getLogger(__name__)

OUTPUT = "case_dispatch"
OUTPUT_SCHEMA = (
    "case_id string, predicted_category string, confidence double, decision string, "
    "routed_department string, model_version string, batch_date date"
)


class NoRegisteredModelError(RuntimeError):
    pass


def _scorer(model_dir: str, version: str, threshold: float, batch_date: date):
    departments = {code: c.department for code, c in CATEGORY_BY_CODE.items()}

    def score(batches):
        from pathlib import Path

        from models.case_classifier.train import load

        pipeline, _ = load(Path(model_dir))
        for pdf in batches:
            if pdf.empty:
                continue
            proba = pipeline.predict_proba(pdf["description"].astype(str))
            predicted = pipeline.classes_[proba.argmax(axis=1)]
            confidence = proba.max(axis=1)
            out = pdf[["case_id"]].copy()
            out["predicted_category"] = predicted
            out["confidence"] = confidence.astype(float)
            out["decision"] = ["auto" if c >= threshold else "review" for c in confidence]
            out["routed_department"] = [
                departments.get(p) if d == "auto" else None
                for p, d in zip(predicted, out["decision"], strict=True)
            ]
            out["model_version"] = version
            out["batch_date"] = batch_date
            yield out

    return score


def run(spark, settings: Settings, logical_date: date) -> dict[str, int]:
    from pyspark.sql import functions as F

    from models.case_classifier.train import load

    registered = latest_registered(spark, settings, logical_date)
    if registered is None:
        raise NoRegisteredModelError(
            f"no case_classifier registered for {logical_date}: run `civiclake classifier train "
            f"--date {logical_date}` first"
        )
    version, model_dir = registered
    from pathlib import Path

    _, card = load(Path(model_dir))
    start = datetime.combine(logical_date, time())
    cases = (
        spark.read.format("delta")
        .load(settings.table_path("silver", "governance_cases"))
        .where(
            (F.col("reported_at") >= F.lit(start)) & (F.col("reported_at") < F.lit(start + timedelta(days=1)))
        )
        .select("case_id", "description")
    )
    scored = cases.mapInPandas(
        _scorer(model_dir, version, card.threshold, logical_date), OUTPUT_SCHEMA
    ).cache()
    lake.merge_upsert(spark, scored, settings.table_path("silver", OUTPUT), ["case_id"])
    counts = {r.decision: r["count"] for r in scored.groupBy("decision").count().collect()}
    scored.unpersist()
    result = {
        "scored": sum(counts.values()),
        "auto": counts.get("auto", 0),
        "review": counts.get("review", 0),
    }
    log.info("scored cases of %s with %s (threshold %.3f): %s", logical_date, version, card.threshold, result)
    return result

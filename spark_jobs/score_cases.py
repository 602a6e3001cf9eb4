"""Scores the cases reported on a logical date and decides their dispatch.

The day's cases are those of the case funnel (``silver.cases``, built by
spark_jobs/case_funnel.py) in the district's jurisdiction, from every channel; another
jurisdiction's Open311 rows are never dispatched here. For each case of the day: where
staff chose its category in the source system (``category_trusted``: the city system's
patrols, 12345 operators and cameras) that category is taken as it is (confidence 1.0,
auto, model_version ``source``); otherwise the registered classifier predicts it with a
calibrated confidence (auto at or above the model's threshold, else review) and keeps
its top three categories with their probabilities for the review queue
(``suggestions``, JSON). A camera event whose class's model card keeps the gate closed
(category not trusted) goes to review with the event's category as the prediction: its
text is the platform's own description of the event, nothing for the text classifier. A confident case of the same category within 100 m and 72 h of
a still-open case of any channel is linked to it (``duplicate_of``, the earliest;
dispatch_mode ``duplicate``) instead of being dispatched again, so a patrol's report and
a resident's appeal about the same pothole become one case either way round; the
routing rules (civiclake/reference/dispatch/routing_rules.yaml) give its department and
team. A case about a manhole cover (``asset_id``, governance or city) routes with the
cover's owner department as silver ``city_manhole_covers`` holds it when the day is scored
(the day's city ingest ran before): a known owner gets the case (the rule
``manhole_owner_known``), an unknown one leaves it to the street's squad (先修后定). The model
is loaded once per Python worker (mapInPandas), from a registered version only.

Earlier cases whose routing inputs changed since they were routed — a reviewer's
correction, a new community or grid in silver — are routed again in the same run; the
others keep their route. Everything is a function of the lake's state, so rerunning a
day leaves silver.case_dispatch as one run did.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from pathlib import Path

from civiclake.cases import funnel
from civiclake.dispatch.duplicates import DEFAULT_RADIUS_M, DEFAULT_WINDOW
from civiclake.dispatch.rules import load_rules
from civiclake.lake.writes import merge_upsert, table_exists
from civiclake.settings import Settings
from civiclake.spark import local_checkpoint
from models.case_classifier.registry import latest_registered

log = logging.getLogger(__name__)

OUTPUT = "case_dispatch"
CORRECTIONS = "case_label_corrections"
# Columns dbt reads first (stg_dispatch__case_decisions), then the dispatch decision and the
# inputs the route was computed from.
OUTPUT_SCHEMA = (
    "case_id string, predicted_category string, confidence double, decision string, "
    "routed_department string, model_version string, batch_date date, "
    "department string, team string, rule_id string, duplicate_of string, dispatch_mode string, "
    "route_input_category string, route_input_community_code string, route_input_grid_code string, "
    "route_input_department string, route_input_reviewed boolean, suggestions string, "
    "route_input_asset_owner string"
)
OUTPUT_COLUMNS = [c.split()[0] for c in OUTPUT_SCHEMA.split(", ")]
SCORE_SCHEMA = (
    "case_id string, predicted_category string, confidence double, decision string, "
    "model_version string, batch_date date, suggestions string"
)
# The model_version of a case whose category its source system's staff chose.
SOURCE_VERSION = "source"
# The model_version of a camera event sent to review with its class's category.
CAMERA_REVIEW_VERSION = "camera"
SUGGESTIONS = 3  # categories shown to a reviewer, most probable first
CASE_COLUMNS = (
    "case_id",
    "description",
    "channel",
    "category",
    "category_trusted",
    "street_code",
    "community_code",
    "grid_code",
    "lon",
    "lat",
    "asset_id",
    "reported_at",
    "closed_at",
)
# The manhole-cover register in silver (city management): the owner a cover case routes to.
COVERS = "city_manhole_covers"


class NoRegisteredModelError(RuntimeError):
    pass


def _scorer(model_dir: str, version: str, batch_date: date):
    def score(batches):
        import numpy as np

        from models.case_classifier.metadata import add_report_hour, model_inputs
        from models.case_classifier.suggestions import top_suggestions
        from models.case_classifier.train import load

        pipeline, card = load(Path(model_dir))
        for pdf in batches:
            if pdf.empty:
                continue
            # The source's category where its staff chose one; the model for the others.
            trusted = (
                pdf["category_trusted"].fillna(False).astype(bool) & pdf["category"].notna()
            ).to_numpy()
            # An untrusted camera event: a reviewer confirms its class's category.
            camera = (pdf["channel"] == funnel.CAMERA_CHANNEL).to_numpy() & ~trusted
            classify = ~(trusted | camera)
            out = pdf[["case_id"]].copy()
            out["predicted_category"] = pdf["category"].where(trusted | camera, None)
            out["confidence"] = np.where(trusted, 1.0, np.nan)
            out["decision"] = np.where(trusted, "auto", np.where(camera, "review", None))
            out["model_version"] = np.where(
                trusted, SOURCE_VERSION, np.where(camera, CAMERA_REVIEW_VERSION, version)
            )
            out["suggestions"] = None
            if classify.any():
                cases = pdf[classify].copy()
                cases[card.text_column] = cases[card.text_column].fillna("")  # a case may come without text
                proba = pipeline.predict_proba(
                    model_inputs(add_report_hour(cases), card.text_column, card.metadata_columns)
                )
                confidence = proba.max(axis=1)
                out.loc[classify, "predicted_category"] = pipeline.classes_[proba.argmax(axis=1)]
                out.loc[classify, "confidence"] = confidence.astype(float)
                out.loc[classify, "decision"] = [
                    "auto" if c >= card.threshold else "review" for c in confidence
                ]
                out.loc[classify, "suggestions"] = top_suggestions(proba, pipeline.classes_, SUGGESTIONS)
            out["batch_date"] = batch_date
            yield out

    return score


def _duplicate_finder(radius_m: float, window: timedelta):
    def find(pdf):
        import pandas as pd

        from civiclake.dispatch.duplicates import find_duplicates

        new = pdf[pdf["is_new"]]
        linked = find_duplicates(new, pdf[~pdf["is_new"]], radius_m=radius_m, window=window)
        return pd.DataFrame({"case_id": new["case_id"], "duplicate_of": linked})

    return find


def _decider(rules_path: str | None, *, only_changed: bool):
    def decide_batches(batches):
        from civiclake.dispatch.decide import decide, needs_rerouting
        from civiclake.dispatch.rules import load_rules

        rules = load_rules(rules_path)
        for pdf in batches:
            if only_changed:
                pdf = pdf[needs_rerouting(pdf)]
            if pdf.empty:
                continue
            yield decide(pdf, rules)[OUTPUT_COLUMNS]

    return decide_batches


def _wall_clock(spark, column: str):
    """The source's wall-clock time of ``column``, as pandas will see it inside mapInPandas.

    Ingestion keeps the source's ``timestamp without time zone`` as the UTC instant of the
    same digits; should a session show instants in another zone than UTC, hour and weekday
    rules must still read the digits the source recorded.
    """
    from pyspark.sql import functions as F

    return F.to_utc_timestamp(F.col(column), spark.conf.get("spark.sql.session.timeZone"))


def _corrections(spark, settings: Settings):
    """Reviewers' decisions (empty when none were recorded yet)."""
    path = settings.table_path("silver", CORRECTIONS)
    if table_exists(spark, path):
        return (
            spark.read.format("delta")
            .load(path)
            .select("case_id", "corrected_category", "corrected_department")
        )
    return spark.createDataFrame([], "case_id string, corrected_category string, corrected_department string")


def _cover_owners(spark, settings: Settings):
    """asset_id → asset_owner (the cover's owner department) of the covers whose owner is known;
    empty where the city family was never ingested."""
    from pyspark.sql import functions as F

    path = settings.table_path("silver", COVERS)
    if not table_exists(spark, path):
        return spark.createDataFrame([], "asset_id string, asset_owner string")
    return (
        spark.read.format("delta")
        .load(path)
        .where(F.col("owner_department").isNotNull() & (F.trim("owner_department") != ""))
        .select("asset_id", F.col("owner_department").alias("asset_owner"))
    )


class NoCaseFunnelError(RuntimeError):
    pass


def _district_cases(spark, settings: Settings):
    """The case funnel's cases of the district's own jurisdiction (the ones it dispatches)."""
    from pyspark.sql import functions as F

    path = settings.table_path("silver", funnel.TABLE)
    if not table_exists(spark, path):
        raise NoCaseFunnelError(
            f"silver.{funnel.TABLE} does not exist at {path}: run `civiclake cases build --date D` "
            "before scoring the day"
        )
    return (
        spark.read.format("delta")
        .load(path)
        .where(F.col("jurisdiction") == F.lit(funnel.DISTRICT_JURISDICTION))
    )


def _add_missing_columns(spark, path: str) -> None:
    """A case_dispatch table written before the dispatch columns (or the review queue's
    suggestions) existed gets them (empty)."""
    if not table_exists(spark, path):
        return
    present = set(spark.read.format("delta").load(path).columns)
    types = dict(c.split() for c in OUTPUT_SCHEMA.split(", "))
    missing = [f"`{c}` {types[c]}" for c in OUTPUT_COLUMNS if c not in present]
    if missing:
        spark.sql(f"ALTER TABLE delta.`{path}` ADD COLUMNS ({', '.join(missing)})")


def run(
    spark,
    settings: Settings,
    logical_date: date,
    *,
    rules_path: str | None = None,
    radius_m: float = DEFAULT_RADIUS_M,
    window: timedelta = DEFAULT_WINDOW,
) -> dict[str, int]:
    from pyspark.sql import functions as F

    from models.case_classifier.train import load

    registered = latest_registered(spark, settings, logical_date)
    if registered is None:
        raise NoRegisteredModelError(
            f"no case_classifier registered for {logical_date}: run `civiclake classifier train "
            f"--date {logical_date}` first"
        )
    version, model_dir = registered
    _, card = load(Path(model_dir))
    load_rules(rules_path)  # a bad rules file fails here, on the driver, with its message
    output_path = settings.table_path("silver", OUTPUT)
    _add_missing_columns(spark, output_path)

    start = datetime.combine(logical_date, time())
    end = start + timedelta(days=1)
    silver = _district_cases(spark, settings)
    corrections = _corrections(spark, settings)
    owners = local_checkpoint(_cover_owners(spark, settings))
    day_cases = silver.where(
        (F.col("reported_at") >= F.lit(start)) & (F.col("reported_at") < F.lit(end))
    ).select(*CASE_COLUMNS)
    scored = day_cases.withColumn("reported_at", _wall_clock(spark, "reported_at")).mapInPandas(
        _scorer(model_dir, version, logical_date), SCORE_SCHEMA
    )
    day = local_checkpoint(  # score once: the steps below read it twice
        scored.join(day_cases.drop("description", "category", "category_trusted"), "case_id")
        .join(corrections, "case_id", "left")
        .join(owners, "asset_id", "left")
    )

    # Duplicates: the day's confident cases against each other and the open cases of the window before.
    trusted = F.col("corrected_category").isNotNull() | (F.col("decision") == "auto")
    new = day.where(trusted).select(
        "case_id",
        F.coalesce("corrected_category", "predicted_category").alias("category"),
        "lon",
        "lat",
        "reported_at",
        "closed_at",
        F.lit(True).alias("is_new"),
    )
    earlier = silver.where(
        (F.col("reported_at") >= F.lit(start - window)) & (F.col("reported_at") < F.lit(start))
    ).select("case_id", "category", "lon", "lat", "reported_at", "closed_at")
    if table_exists(spark, output_path):
        routed_before = (
            spark.read.format("delta").load(output_path).select("case_id", "predicted_category", "decision")
        )
        earlier = earlier.join(routed_before, "case_id", "left")
    else:
        earlier = earlier.withColumn("predicted_category", F.lit(None).cast("string")).withColumn(
            "decision", F.lit(None).cast("string")
        )
    # An earlier case's category: its reviewer's, else a confident prediction, else (never
    # scored, e.g. history) the source's; a case still waiting in review is left out.
    earlier = earlier.join(corrections.select("case_id", "corrected_category"), "case_id", "left").select(
        "case_id",
        F.coalesce(
            "corrected_category",
            F.when(F.col("decision") == "auto", F.col("predicted_category")),
            F.when(F.col("decision").isNull(), F.col("category")),
        ).alias("category"),
        "lon",
        "lat",
        "reported_at",
        "closed_at",
        F.lit(False).alias("is_new"),
    )
    candidates = new.unionByName(earlier).where(F.col("category").isNotNull())
    duplicates = candidates.groupBy("category").applyInPandas(
        _duplicate_finder(radius_m, window), "case_id string, duplicate_of string"
    )
    day_decided = local_checkpoint(
        day.join(duplicates, "case_id", "left")
        .withColumn("reported_at", _wall_clock(spark, "reported_at"))
        .mapInPandas(_decider(rules_path, only_changed=False), OUTPUT_SCHEMA)
    )

    # Earlier cases whose category, place or reviewer's department changed since their route.
    rerouted = None
    if table_exists(spark, output_path):
        current = silver.select(
            "case_id",
            "street_code",
            "community_code",
            "grid_code",
            _wall_clock(spark, "reported_at").alias("reported_at"),
            "asset_id",
        ).join(owners, "asset_id", "left")
        stored = (
            spark.read.format("delta")
            .load(output_path)
            .where(F.col("batch_date") != F.lit(logical_date))
            .drop("department", "team", "rule_id", "dispatch_mode", "routed_department")
        )
        rerouted = local_checkpoint(
            stored.join(current, "case_id")
            .join(corrections, "case_id", "left")
            .mapInPandas(_decider(rules_path, only_changed=True), OUTPUT_SCHEMA)
        )

    result_rows = day_decided if rerouted is None else day_decided.unionByName(rerouted)
    merge_upsert(spark, result_rows, output_path, ["case_id"])
    counts = {r.dispatch_mode: r["count"] for r in day_decided.groupBy("dispatch_mode").count().collect()}
    result = {
        "scored": sum(counts.values()),
        "auto": counts.get("auto", 0),
        "review": counts.get("review", 0),
        "duplicate": counts.get("duplicate", 0),
        "rerouted": 0 if rerouted is None else rerouted.count(),
        # Of the scored: categories taken from the source system's staff, not the model.
        "source_category": day_decided.where(F.col("model_version") == SOURCE_VERSION).count(),
    }
    log.info(
        "dispatched cases of %s with %s (threshold %.3f): %s", logical_date, version, card.threshold, result
    )
    return result

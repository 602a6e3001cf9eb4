"""Scoring throughput: the Spark batch job's path against single-process scikit-learn, same cases.

Both sides run the very scorer of ``spark_jobs/score_cases.py`` (``_scorer``: load the
registered model once, predict_proba on a pandas batch, threshold, route):

* sklearn: one Python process feeds it the cases in pandas batches of
  ``spark.sql.execution.arrow.maxRecordsPerBatch`` (10,000) rows;
* spark: ``mapInPandas`` over the cases cached in Spark (``local[*]`` by default: one
  Python worker per core, the model loaded once per partition), written to the no-op sink.

The model is the default pipeline trained on 30 days of simulated cases before the scored
ones. Startup of the Spark session and the first (warm-up) job are left out of the timings.

    .venvs/core/bin/python bench/bench_classifier_scoring.py --rows 200000
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from civiclake.geography import load_geography
from civiclake.settings import PROJECT_ROOT, Settings
from models.case_classifier import train as trainer
from simulators.governance import cases_reported_on
from spark_jobs.score_cases import OUTPUT_SCHEMA, _scorer

REAL_DATA = PROJECT_ROOT.parent / "shared" / "data" / "gov_messages_tipdm2020" / "messages_labeled.csv"
BATCH_ROWS = 10_000
FIRST_SCORED_DAY = date(2026, 1, 1)


def simulated_cases(settings: Settings, start: date, rows: int, days: int = 0) -> pd.DataFrame:
    """Cases of consecutive days from ``start``: at least ``days`` days, at most ``rows`` rows once reached."""
    geography = load_geography()
    frames, total, day = [], 0, start
    while total < rows or (day - start).days < days:
        plans = cases_reported_on(day, settings, geography)
        frames.append(
            pd.DataFrame(
                {
                    "case_id": [p.case_id for p in plans],
                    "description": [p.description for p in plans],
                    "category": [p.category for p in plans],
                }
            )
        )
        total += len(plans)
        day += timedelta(days=1)
    frame = pd.concat(frames, ignore_index=True)
    return frame if days else frame.head(rows)


def real_cases(rows: int | None) -> pd.DataFrame:
    """The labelled real messages (all of them when ``rows`` is None, else repeated up to ``rows``)."""
    if not REAL_DATA.exists():
        raise SystemExit(f"--texts real needs {REAL_DATA} (the staged ../shared/data folder)")
    frame = pd.read_csv(REAL_DATA, dtype=str)[["detail", "label_l1"]].dropna()
    frame = frame.rename(columns={"detail": "description", "label_l1": "category"})
    if rows is None:
        return frame
    repeated = pd.concat([frame] * (rows // len(frame) + 1), ignore_index=True).head(rows)
    repeated.insert(0, "case_id", [f"R{i:08d}" for i in range(len(repeated))])
    return repeated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="cases to score [200000]")
    parser.add_argument(
        "--texts", choices=["sim", "real"], default="sim", help="simulated (short) or real (long) texts"
    )
    parser.add_argument(
        "--partitions", type=int, default=None, help="Spark partitions [Spark's default parallelism]"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    with tempfile.TemporaryDirectory(prefix="bench-classifier-") as tmp:
        settings = Settings(data_dir=Path(tmp), jars_dir=PROJECT_ROOT / "var" / "jars")
        if args.texts == "sim":
            history = simulated_cases(settings, FIRST_SCORED_DAY - timedelta(days=30), 1, days=30)
            cases = simulated_cases(settings, FIRST_SCORED_DAY, args.rows)
        else:
            history = real_cases(None)
            cases = real_cases(args.rows)
        started = time.perf_counter()
        pipeline, card = trainer.train(
            history, "description", "category", version="bench", seed=settings.seed
        )
        model_dir = trainer.save(pipeline, card, Path(tmp) / "model")
        train_s = time.perf_counter() - started
        cases = cases[["case_id", "description"]]
        mean_chars = cases["description"].str.len().mean()

        # Single process: the scorer fed pandas batches in this interpreter.
        score = _scorer(str(model_dir), card.version, card.threshold, FIRST_SCORED_DAY)
        started = time.perf_counter()
        batches = (cases.iloc[i : i + BATCH_ROWS] for i in range(0, len(cases), BATCH_ROWS))
        sklearn_rows = sum(len(out) for out in score(batches))
        sklearn_s = time.perf_counter() - started

        from civiclake.spark import spark_session

        spark = spark_session(settings, "bench-classifier-scoring")
        partitions = args.partitions or spark.sparkContext.defaultParallelism
        frame = spark.createDataFrame(cases).repartition(partitions).cache()
        frame.count()
        scored = frame.mapInPandas(
            _scorer(str(model_dir), card.version, card.threshold, FIRST_SCORED_DAY), OUTPUT_SCHEMA
        )
        frame.limit(1000).mapInPandas(
            _scorer(str(model_dir), card.version, card.threshold, FIRST_SCORED_DAY), OUTPUT_SCHEMA
        ).write.format("noop").mode("overwrite").save()  # warm-up: Python workers started
        started = time.perf_counter()
        scored.write.format("noop").mode("overwrite").save()
        spark_s = time.perf_counter() - started
        spark_rows = frame.count()
        spark.stop()

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores; Spark master {settings.spark_master}, {partitions} partitions"
    )
    print(
        f"model: {card.model} trained on {card.training_rows} rows in {train_s:.1f} s; {len(cases)} cases to score, mean {mean_chars:.0f} characters ({args.texts})"
    )
    print(f"{'path':<34}{'rows':>10}{'seconds':>10}{'rows/s':>12}")
    print(
        f"{'scikit-learn, one process':<34}{sklearn_rows:>10}{sklearn_s:>10.1f}{sklearn_rows / sklearn_s:>12.0f}"
    )
    print(
        f"{'Spark mapInPandas (score_cases)':<34}{spark_rows:>10}{spark_s:>10.1f}{spark_rows / spark_s:>12.0f}"
    )
    print(f"ratio Spark / single process: {(spark_rows / spark_s) / (sklearn_rows / sklearn_s):.2f}x")


if __name__ == "__main__":
    main()

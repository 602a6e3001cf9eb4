"""The platform's classifier training on a district's history: the SVM solved in its dual
(civiclake) against scikit-learn's ``dual="auto"``, side by side in one run.

The history is the governance simulator's cases over ``--days`` days (600 a day by default:
about 34,000 cases for 58 days, the demo's history), with the channel, street and hour of
report beside the text, trained as the daily DAG's ``classifier_train`` trains it
(``models.case_classifier.train.train`` with the platform's metadata columns). With more rows
than n-gram columns, ``auto`` solves the primal. Both runs see the same split and must reach
the same C; the accuracy of each is printed.

    .venvs/core/bin/python bench/bench_classifier_training.py --days 58
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from datetime import date, timedelta
from unittest import mock

import pandas as pd
from sklearn.svm import LinearSVC

from civiclake.geography import load_geography
from civiclake.settings import Settings
from models.case_classifier import pipeline
from models.case_classifier import train as trainer
from models.case_classifier.metadata import PLATFORM_METADATA, add_report_hour
from simulators.governance import cases_reported_on

LAST_DAY = date(2026, 11, 24)


def history(settings: Settings, days: int) -> pd.DataFrame:
    geography = load_geography()
    rows = [
        (
            plan.description,
            plan.category,
            plan.channel,
            geography.street_of(plan.community_code),
            plan.reported_at,
        )
        for n in range(days)
        for plan in cases_reported_on(LAST_DAY - timedelta(days=n), settings, geography)
    ]
    columns = ["description", "category", "channel", "street_code", "reported_at"]
    return add_report_hour(pd.DataFrame(rows, columns=columns))


def scikit_learn_default(c: float, seed: int = 0) -> LinearSVC:
    return LinearSVC(C=c, class_weight="balanced", random_state=seed)  # dual="auto"


def timed_training(frame: pd.DataFrame, seed: int) -> tuple[float, trainer.ModelCard]:
    started = time.perf_counter()
    _, card = trainer.train(frame, "description", "category", seed=seed, metadata_columns=PLATFORM_METADATA)
    return time.perf_counter() - started, card


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=58)
    args = parser.parse_args()
    settings = Settings()
    frame = history(settings, args.days)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores; history: {len(frame)} cases, {args.days} days"
    )
    pipeline.jieba_words("龙华区")  # jieba loads its dictionary once per process: not in either time
    dual_seconds, dual = timed_training(frame, settings.seed)
    # Both modules hold the function: the classifier's (pipeline) and the choice of C's (train).
    with (
        mock.patch.object(pipeline, "linear_svm", scikit_learn_default),
        mock.patch.object(trainer, "linear_svm", scikit_learn_default),
    ):
        auto_seconds, auto = timed_training(frame, settings.seed)
    for name, seconds, card in (("dual (civiclake)", dual_seconds, dual), ('"auto"', auto_seconds, auto)):
        m = card.metrics
        print(
            f"{name:>17}: {seconds:6.1f} s, C {card.chosen_c}, accuracy {m['accuracy']:.4f}, "
            f"automatic {m['coverage_at_threshold']:.3f} at precision {m['precision_at_threshold']:.3f}"
        )
    print(f"auto / dual: {auto_seconds / dual_seconds:.2f}x")


if __name__ == "__main__":
    main()

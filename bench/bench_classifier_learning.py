"""Learning curve and active learning of the case classifier on real messages.

How do accuracy, macro-F1 and the share dispatched automatically at ≥ 97% precision grow
with the number of labels, and does labelling in the review queue's order (most uncertain
first, near-identical texts spread out, 20% random picks) get there with fewer labels than
labelling in random order?

For each seed: the stratified split of `civiclake classifier train` (seed-dependent); its
training + validation rows (2,397) are the pool a reviewer labels from, its test rows
(424) are never labelled, never used for a threshold and only measured. The vectoriser of
the default model (character 1-3-grams and jieba word 1-2-grams) is fitted once on the pool's
texts and the board's 4,097 unlabelled messages: a district has those texts before any
label. Then, label budget by label budget:

* random: the first n rows of a seeded random order of the pool;
* queue: the same seeded random start of ``--start`` rows, then rounds of ``--batch`` rows
  taken from the top of the review queue's order (civiclake.review.order.order_queue, 20%
  random picks) for the model trained on the labels so far, up to the largest budget below
  the whole pool (the whole pool is the same labels in either order).

At each budget the calibrated SVM is fitted on the labels (C fixed by ``--c``: choosing it
by cross-validation at every point would triple the run) and the threshold is chosen for 97%
precision on its 5-fold out-of-fold predictions of the labels drawn at random: in random
order all of them; in the queue's order the random start and the queue's random picks,
since the value picks are the hardest cases on purpose and would make the threshold
pessimistic. Accuracy, macro-F1, coverage and precision are measured on the test rows.

    nice -n 19 .venvs/core/bin/python bench/bench_classifier_learning.py [--seeds 3] [--out FILE]
"""

from __future__ import annotations

import argparse
import logging
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score

from civiclake.review.order import RANDOM, order_queue, uncertainty
from civiclake.settings import PROJECT_ROOT
from models.case_classifier import train as trainer
from models.case_classifier.files import read_unlabelled_texts
from models.case_classifier.pipeline import DEFAULT_MODEL, build_classifier, build_vectoriser

FOLDER = PROJECT_ROOT.parent / "shared" / "data" / "gov_messages_tipdm2020"
LABELLED = FOLDER / "messages_labeled.csv"
UNLABELLED = (FOLDER / "hot_messages.csv", FOLDER / "messages_with_replies.csv")
TARGET_PRECISION = 0.97
RANDOM_SHARE = 0.2


def fit_and_measure(
    x_pool, y_pool, labelled: np.ndarray, drawn: np.ndarray, x_test, y_test, *, seed: int, c: float
) -> dict:
    """The model on the labelled rows of the pool; the threshold from the out-of-fold
    predictions of those of them drawn at random (``drawn``, one flag per labelled row);
    metrics on the test rows."""
    labels = pd.Series(y_pool[labelled])
    features = x_pool[labelled]
    folds = trainer._folds(labels, trainer.CALIBRATION_FOLDS)
    model = build_classifier(seed, model=DEFAULT_MODEL, calibration_folds=folds, c=c).fit(features, labels)
    proba, classes = trainer.out_of_fold_proba(features, labels, model=DEFAULT_MODEL, seed=seed, c=c)
    correct = classes[proba.argmax(axis=1)] == labels.to_numpy()
    threshold = trainer.choose_threshold(proba.max(axis=1)[drawn], correct[drawn], TARGET_PRECISION)
    test_proba = model.predict_proba(x_test)
    predicted = model.classes_[test_proba.argmax(axis=1)]
    coverage, precision = trainer.coverage_and_precision(
        test_proba.max(axis=1), predicted == y_test, threshold
    )
    return {
        "accuracy": accuracy_score(y_test, predicted),
        "macro_f1": f1_score(y_test, predicted, average="macro"),
        "coverage": coverage,
        "precision": precision,
    }


def queue_order(x_pool, y_pool, texts, *, start: int, budgets: list[int], batch: int, seed: int, c: float):
    """The pool's rows in the order a reviewer working the review queue labels them, and for
    each whether it was drawn at random from the whole pool (the start and the queue's random
    picks; not the rest after the queue stops, which the value picks have left the easiest)."""
    rng = np.random.default_rng(seed)
    order = list(rng.permutation(len(y_pool))[:start])
    drawn = [True] * len(order)
    in_order = np.zeros(len(y_pool), dtype=bool)
    in_order[order] = True
    # The whole pool is the same labels in any order: the queue works up to the largest smaller budget.
    goal = max([b for b in budgets if b < len(y_pool)], default=start)
    round_ = 0
    while len(order) < goal:
        labels = pd.Series(y_pool[order])
        folds = trainer._folds(labels, trainer.CALIBRATION_FOLDS)
        model = build_classifier(seed, model=DEFAULT_MODEL, calibration_folds=folds, c=c).fit(
            x_pool[order], labels
        )
        rest = np.flatnonzero(~in_order)
        proba = model.predict_proba(x_pool[rest])
        top2 = -np.sort(-proba, axis=1)[:, :2]
        picks = order_queue(
            [uncertainty(row) for row in top2],
            [texts[i] for i in rest],
            random_share=RANDOM_SHARE,
            seed=[seed, round_],
            limit=min(batch, goal - len(order)),
        )
        chosen = [int(rest[p.index]) for p in picks]
        order += chosen
        drawn += [p.pick == RANDOM for p in picks]
        in_order[chosen] = True
        round_ += 1
    rest = np.flatnonzero(~in_order)
    return np.array(order + list(rest[rng.permutation(len(rest))])), np.array(drawn + [False] * len(rest))


def run(seeds: list[int], budgets: list[int], *, start: int, batch: int, c: float) -> pd.DataFrame:
    frame = pd.read_csv(LABELLED, dtype=str, keep_default_na=False, na_values=[""])
    labelled_texts = set(frame["detail"])
    unlabelled = [t for t in read_unlabelled_texts(UNLABELLED, "detail") if t not in labelled_texts]
    rows = []
    for seed in seeds:
        started = time.perf_counter()
        parts = trainer.split(frame, "detail", "label_l1", seed)
        pool_texts = pd.concat([parts.x_train, parts.x_val])
        y_pool = pd.concat([parts.y_train, parts.y_val]).to_numpy()
        vectoriser = build_vectoriser(DEFAULT_MODEL)
        x_all = vectoriser.fit_transform(pd.concat([pool_texts, pd.Series(unlabelled)], ignore_index=True))
        x_pool = x_all[: len(pool_texts)].tocsr()
        x_test = vectoriser.transform(parts.x_test)
        y_test = parts.y_test.to_numpy()
        pool_budgets = [b for b in budgets if b <= len(y_pool)]
        orders = {
            "random": (
                np.random.default_rng(seed).permutation(len(y_pool)),
                np.ones(len(y_pool), dtype=bool),
            ),
            "queue": queue_order(
                x_pool,
                y_pool,
                list(pool_texts),
                start=start,
                budgets=pool_budgets,
                batch=batch,
                seed=seed,
                c=c,
            ),
        }
        for name, (order, drawn) in orders.items():
            for budget in pool_budgets:
                measured = fit_and_measure(
                    x_pool, y_pool, order[:budget], drawn[:budget], x_test, y_test, seed=seed, c=c
                )
                rows.append({"seed": seed, "order": name, "labels": budget, **measured})
        logging.info("seed %s done in %.0f s", seed, time.perf_counter() - started)
    return pd.DataFrame(rows)


def table(results: pd.DataFrame) -> str:
    grouped = results.groupby(["labels", "order"])
    mean, std = grouped.mean(numeric_only=True), grouped.std(numeric_only=True).fillna(0.0)
    lines = [
        "| labels | order | accuracy | macro-F1 | automatic share | precision of automatic |",
        "| ---: | --- | --- | --- | --- | --- |",
    ]
    for labels, order in mean.index:
        m, s = mean.loc[(labels, order)], std.loc[(labels, order)]
        lines.append(
            f"| {labels} | {order} | {m['accuracy']:.4f} ± {s['accuracy']:.4f} | "
            f"{m['macro_f1']:.4f} ± {s['macro_f1']:.4f} | {m['coverage']:.1%} ± {s['coverage']:.1%} | "
            f"{m['precision']:.4f} ± {s['precision']:.4f} |"
        )
    return "\n".join(lines)


def labels_needed(labels, scores, target: float) -> float:
    """Labels at which a learning curve reaches ``target``, extrapolated from a power law of the
    error (1 − score = a·labels^b, fitted in log-log to the measured points). Real curves bend
    towards a floor of errors no label count removes, so this is a lower estimate."""
    slope, intercept = np.polyfit(np.log(np.asarray(labels, float)), np.log(1 - np.asarray(scores, float)), 1)
    return float(np.exp((np.log(1 - target) - intercept) / slope))


def extrapolation(results: pd.DataFrame) -> str:
    """The labels each order needs for the issue's targets, from its mean curve."""
    mean = results.groupby(["order", "labels"]).mean(numeric_only=True)
    lines = ["| order | accuracy 0.90 | accuracy 0.92 | macro-F1 0.89 |", "| --- | ---: | ---: | ---: |"]
    for order in sorted(mean.index.get_level_values("order").unique()):
        curve = mean.loc[order]
        needed = [
            labels_needed(curve.index, curve[metric], target)
            for metric, target in (("accuracy", 0.90), ("accuracy", 0.92), ("macro_f1", 0.89))
        ]
        lines.append(f"| {order} | " + " | ".join(f"{n:,.0f}" for n in needed) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="how many seeds (splits and orders) [3]")
    parser.add_argument(
        "--budgets", default="300,600,1000,1600,2397", help="label counts measured [300,600,1000,1600,2397]"
    )
    parser.add_argument("--start", type=int, default=300, help="random labels before the queue takes over")
    parser.add_argument("--batch", type=int, default=200, help="labels per round of the queue [200]")
    parser.add_argument("--c", type=float, default=1.0, help="the SVM's C [1.0]")
    parser.add_argument("--out", type=Path, help="also write the table (Markdown) to this file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not LABELLED.exists():
        raise SystemExit(f"real message data not found at {LABELLED} (the staged ../shared/data folder)")
    budgets = sorted(int(b) for b in args.budgets.split(","))
    seeds = [20261126 + i for i in range(args.seeds)]
    started = time.perf_counter()
    results = run(seeds, budgets, start=args.start, batch=args.batch, c=args.c)
    seconds = time.perf_counter() - started
    text = "\n".join(
        [
            f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} "
            f"({platform.processor() or platform.machine()}), {seconds:.0f} s; seeds {seeds}; "
            f"queue: {args.start} random labels then rounds of {args.batch} "
            f"({RANDOM_SHARE:.0%} random picks); C = {args.c}; threshold on the out-of-fold predictions "
            "of the labels drawn at random; test split: 424 messages per seed "
            "(mean ± standard deviation over seeds).",
            "",
            table(results),
            "",
            "Labels needed, extrapolated from each order's mean curve (power law of the error; a lower estimate):",
            "",
            extrapolation(results),
        ]
    )
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

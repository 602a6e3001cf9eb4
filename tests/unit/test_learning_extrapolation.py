"""The learning bench's estimate of the labels a target needs (bench/bench_classifier_learning.py)."""

import pandas as pd
import pytest

from bench.bench_classifier_learning import extrapolation, labels_needed

# An exact power law of the error, 1 − accuracy = 2 / √labels: 100 → 0.80, 400 → 0.90, 1,600 → 0.95.
LABELS = [100, 400, 900]
ACCURACY = [0.80, 0.90, 1 - 2 / 30]


def test_an_exact_power_law_is_extended_to_the_target_by_hand():
    assert labels_needed(LABELS, ACCURACY, 0.95) == pytest.approx(1600)
    assert labels_needed(LABELS, ACCURACY, 0.90) == pytest.approx(400)


def test_each_order_gets_its_own_estimate():
    # macro-F1: 1 − F1 = 2/√labels in the queue's order (as its accuracy), 3/√labels in random order.
    rows = [
        {"order": order, "labels": n, "accuracy": a, "macro_f1": 1 - k / n**0.5}
        for order, k in (("queue", 2), ("random", 3))
        for n, a in zip(LABELS, ACCURACY, strict=True)
    ]
    lines = extrapolation(pd.DataFrame(rows)).splitlines()
    # accuracy 0.90: 400; 0.92: (2/0.08)² = 625; macro-F1 0.89: (2/0.11)² ≈ 331 and (3/0.11)² ≈ 744.
    assert lines[2:] == ["| queue | 400 | 625 | 331 |", "| random | 400 | 625 | 744 |"]

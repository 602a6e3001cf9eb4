"""Metric floor of the case classifier on real Chinese government messages (a quality check, not a timing).

Trains the default pipeline on ../shared/data/gov_messages_tipdm2020/messages_labeled.csv
with the fixed seed and split of `civiclake classifier train` and checks the test-split
numbers stay at or above floors set a little below those measured (docs/BENCHMARKS.md):
a change that makes the model worse on real data fails here.
"""

from __future__ import annotations

import pandas as pd
import pytest

from civiclake.settings import PROJECT_ROOT
from models.case_classifier import train as trainer

pytestmark = pytest.mark.integration

DATA = PROJECT_ROOT.parent / "shared" / "data" / "gov_messages_tipdm2020" / "messages_labeled.csv"
SEED = 20261126

# Measured 2026-11-26 with this seed: accuracy 0.8821, macro-F1 0.8743, coverage 0.597 at
# precision 0.988 (threshold chosen on validation for 97%). The baseline on the same split:
# 0.8656 / 0.8496 / 0.521.
FLOORS = {"accuracy": 0.86, "macro_f1": 0.85, "coverage_at_threshold": 0.55, "precision_at_threshold": 0.96}


@pytest.fixture(scope="module")
def card():
    if not DATA.exists():
        pytest.skip(f"real message data not found at {DATA} (the staged ../shared/data folder is absent)")
    frame = pd.read_csv(DATA, dtype=str, keep_default_na=False, na_values=[""])
    _, card = trainer.train(frame, "detail", "label_l1", seed=SEED, target_precision=0.97)
    return card


def test_metrics_stay_above_the_floor(card):
    measured = {k: card.metrics[k] for k in FLOORS}
    below = {k: (round(v, 4), FLOORS[k]) for k, v in measured.items() if v < FLOORS[k]}
    assert not below, f"below the floor (measured, floor): {below}; all: {card.metrics}"


def test_every_class_is_learnt(card):
    assert len(card.classes) == 7
    weak = {c: round(f, 3) for c, f in card.per_class_f1.items() if f < 0.75}
    assert not weak, f"classes with test F1 under 0.75: {weak}"


def test_the_split_is_the_documented_one(card):
    assert (card.training_rows, card.validation_rows, card.test_rows) == (1974, 423, 424)

"""Metric floor of the case classifier on real Chinese government messages (a quality check, not a timing).

Trains the default pipeline on ../shared/data/gov_messages_tipdm2020/messages_labeled.csv
with the fixed seed and split of `civiclake classifier train`, its vectoriser fitted also on
the same board's unlabelled messages (hot_messages.csv and messages_with_replies.csv, less
the texts that are in the labelled file), and checks the test-split numbers stay at or above
floors set a little below those measured: a change that makes the model worse on real data
fails here. The test split plays no part in training, in the choice of C or in the threshold.
"""

from __future__ import annotations

import pandas as pd
import pytest

from civiclake.settings import PROJECT_ROOT
from models.case_classifier import train as trainer
from models.case_classifier.files import read_unlabelled_texts

pytestmark = pytest.mark.integration

FOLDER = PROJECT_ROOT.parent / "shared" / "data" / "gov_messages_tipdm2020"
DATA = FOLDER / "messages_labeled.csv"
UNLABELLED = (FOLDER / "hot_messages.csv", FOLDER / "messages_with_replies.csv")
SEED = 20261126

# Measured 2026-12-07 with this seed (char + word n-grams, vocabulary also from the 4,097
# unlabelled texts, fitted on train + validation, threshold on their out-of-fold predictions):
# accuracy 0.8892, macro-F1 0.8799, coverage 0.660 at precision 0.989. The character-only model
# of 2026-11-26 (fitted on train, threshold on validation) on the same test split:
# 0.8821 / 0.8743 / 0.597 at 0.988.
FLOORS = {"accuracy": 0.875, "macro_f1": 0.865, "coverage_at_threshold": 0.62, "precision_at_threshold": 0.97}


@pytest.fixture(scope="module")
def card():
    if not DATA.exists():
        pytest.skip(f"real message data not found at {DATA} (the staged ../shared/data folder is absent)")
    frame = pd.read_csv(DATA, dtype=str, keep_default_na=False, na_values=[""])
    unlabelled = read_unlabelled_texts(UNLABELLED, "detail")
    _, card = trainer.train(
        frame, "detail", "label_l1", seed=SEED, target_precision=0.97, unlabelled_texts=unlabelled
    )
    return card


def test_metrics_stay_above_the_floor(card):
    measured = {k: card.metrics[k] for k in FLOORS}
    below = {k: (round(v, 4), FLOORS[k]) for k, v in measured.items() if v < FLOORS[k]}
    assert not below, f"below the floor (measured, floor): {below}; all: {card.metrics}"


def test_every_class_is_learnt(card):
    assert len(card.classes) == 7
    weak = {c: round(f, 3) for c, f in card.per_class_f1.items() if f < 0.78}
    assert not weak, f"classes with test F1 under 0.78: {weak}"


def test_the_split_is_the_documented_one_and_the_unlabelled_texts_are_used(card):
    assert (card.training_rows, card.validation_rows, card.test_rows) == (1974, 423, 424)
    # 4,284 rows in the two files; 4,182 distinct texts, 85 of them also labelled.
    assert card.unlabelled_texts == 4097
    assert card.protocol == "cross_validation" and card.chosen_c in (0.3, 1.0, 3.0)

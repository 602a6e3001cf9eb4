"""What scoring needs of the classifier for the funnel's cases: the review queue's top
suggestions, and channels the model never saw in training."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from models.case_classifier import train as trainer
from models.case_classifier.metadata import add_report_hour, model_inputs
from models.case_classifier.suggestions import top_suggestions


def test_top_suggestions_most_probable_first_rounded():
    proba = np.array([[0.1, 0.41234, 0.3, 0.18766], [0.25, 0.25, 0.25, 0.25]])
    got = [json.loads(s) for s in top_suggestions(proba, ["a", "noise", "c", "d"])]
    assert got[0] == [
        {"category": "noise", "probability": 0.4123},
        {"category": "c", "probability": 0.3},
        {"category": "d", "probability": 0.1877},
    ]
    # Ties keep the model's class order.
    assert [s["category"] for s in got[1]] == ["a", "noise", "c"]
    assert top_suggestions(proba[:, :2], ["a", "b"], count=3) == [
        '[{"category":"b","probability":0.4123},{"category":"a","probability":0.1}]',
        '[{"category":"a","probability":0.25},{"category":"b","probability":0.25}]',
    ]
    with pytest.raises(ValueError, match="do not match 3 classes"):
        top_suggestions(proba, ["a", "b", "c"])


def test_a_channel_never_seen_in_training_is_ignored_not_an_error(tmp_path):
    rows = []
    for i in range(30):
        rows.append(
            {
                "description": f"井盖不见了{i}号路口",
                "channel": "grid_patrol",
                "street_code": "s1",
                "label": "manhole",
            }
        )
        rows.append(
            {
                "description": f"广场舞太吵{i}点还在跳",
                "channel": "hotline_12345",
                "street_code": "s2",
                "label": "noise",
            }
        )
    frame = pd.DataFrame(rows)
    frame["reported_at"] = pd.Timestamp("2026-06-09 10:00")
    frame = add_report_hour(frame)
    columns = ["channel", "street_code", "report_hour"]
    pipeline, card = trainer.train(frame, "description", "label", seed=1, metadata_columns=columns)
    loaded, card = trainer.load(trainer.save(pipeline, card, tmp_path / "m"))
    new = add_report_hour(
        pd.DataFrame(
            {
                "description": ["井盖不见了3号路口", "广场舞太吵9点还在跳"],
                # The funnel's channels the governance history never had.
                "channel": ["camera", "open311"],
                "street_code": ["s9", None],
                "reported_at": [pd.Timestamp("2026-06-10 03:00"), pd.NaT],
            }
        )
    )
    inputs = model_inputs(new, card.text_column, card.metadata_columns)
    assert list(loaded.predict(inputs)) == ["manhole", "noise"]
    # An unseen value contributes nothing: the same as a missing one.
    blank = inputs.assign(channel="", street_code="", report_hour="")
    assert np.allclose(loaded.predict_proba(inputs), loaded.predict_proba(blank))

import numpy as np
import pandas as pd
import pytest
import skops.io as sio

from models.case_classifier import train as trainer


def test_threshold_reaches_the_target_precision_on_a_hand_made_case():
    confidence = np.array([0.99, 0.95, 0.90, 0.80, 0.70, 0.60])
    correct = np.array([True, True, True, False, True, False])
    # Top 3 are all right (precision 1.0); adding 0.80 drops it to 0.75.
    assert trainer.choose_threshold(confidence, correct, 0.97) == pytest.approx(0.90)
    # At 0.75 the top four qualify (3/4), and the top five (4/5 = 0.8) too.
    assert trainer.choose_threshold(confidence, correct, 0.75) == pytest.approx(0.70)
    assert trainer.choose_threshold(np.array([0.9]), np.array([False]), 0.97) == 1.0
    coverage, precision = trainer.coverage_and_precision(confidence, correct, 0.90)
    assert coverage == pytest.approx(0.5) and precision == pytest.approx(1.0)


def test_ties_are_not_split():
    confidence = np.array([0.9, 0.9, 0.5])
    correct = np.array([True, False, True])
    # Both 0.9 cases go together: precision 0.5 < 0.97, so nothing qualifies.
    assert trainer.choose_threshold(confidence, correct, 0.97) == 1.0


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    rows = []
    for i in range(60):
        rows.append({"text": f"井盖不见了{i % 7}号路口很危险", "label": "manhole"})
        rows.append({"text": f"楼下广场舞音响太吵{i % 5}点还在跳", "label": "noise"})
        rows.append({"text": f"垃圾桶满了{i % 3}天没人收臭", "label": "garbage"})
    pipeline, card = trainer.train(pd.DataFrame(rows), "text", "label", version="t1", seed=3)
    directory = trainer.save(pipeline, card, tmp_path_factory.mktemp("model"))
    return pipeline, card, directory


def test_round_trip_through_skops(tiny_model):
    pipeline, card, directory = tiny_model
    loaded, loaded_card = trainer.load(directory)
    texts = pd.Series(["路口井盖没了", "广场舞太吵", "垃圾没人收"])
    assert list(loaded.predict(texts)) == ["manhole", "noise", "garbage"]
    np.testing.assert_allclose(loaded.predict_proba(texts), pipeline.predict_proba(texts))
    assert loaded_card == card
    assert card.metrics["accuracy"] == 1.0
    assert (directory / "card.md").read_text(encoding="utf-8").startswith("# Model card: case_classifier t1")


def test_a_model_file_with_foreign_types_is_refused(tmp_path, tiny_model):
    _, _, directory = tiny_model
    from collections import Counter

    foreign = tmp_path / "m"
    foreign.mkdir()
    sio.dump(Counter(a=1), foreign / trainer.MODEL_FILE)
    (foreign / trainer.CARD_FILE).write_text((directory / trainer.CARD_FILE).read_text())
    with pytest.raises(trainer.UntrustedModelError, match="collections.Counter"):
        trainer.load(foreign)

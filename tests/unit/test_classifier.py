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


def test_unlabelled_texts_shape_the_vocabulary_but_not_the_labels(tmp_path):
    rows = []
    for i in range(30):
        rows.append({"text": f"井盖不见了{i % 7}号路口很危险", "label": "manhole"})
        rows.append({"text": f"楼下广场舞音响太吵{i % 5}点还在跳", "label": "noise"})
    frame = pd.DataFrame(rows)
    # Twice each (min_df=2), and one text that is also labelled: that one is left out.
    unlabelled = ["路灯坏了晚上很黑", "路灯坏了晚上很黑", "小区路灯坏了", frame["text"][0]]
    pipeline, card = trainer.train(frame, "text", "label", seed=5, unlabelled_texts=unlabelled)
    _, without = trainer.train(frame, "text", "label", seed=5)
    assert card.unlabelled_texts == 2 and without.unlabelled_texts == 0
    features = pipeline.named_steps["tfidf"].estimator
    char = dict(features.transformer_list)["char"]
    word = dict(features.transformer_list)["word"]
    assert "路灯" in char.vocabulary_ and "路灯" in word.vocabulary_
    assert card.classes == ["manhole", "noise"]
    # Refitting the pipeline refits the classifier only: the vocabulary stays the one of all texts.
    pipeline.fit(frame["text"], frame["label"])
    assert "路灯" in dict(pipeline.named_steps["tfidf"].estimator.transformer_list)["char"].vocabulary_
    directory = trainer.save(pipeline, card, tmp_path / "m")
    loaded, loaded_card = trainer.load(directory)
    assert loaded_card.unlabelled_texts == 2 and loaded_card.protocol == "cross_validation"
    text = (directory / "card.md").read_text(encoding="utf-8")
    assert "Unlabelled texts the vectoriser was fitted on beside the labelled ones: 2" in text
    assert "out-of-fold predictions" in text


def test_c_is_the_best_of_the_cross_validated_grid():
    rows = []
    for i in range(40):
        rows.append({"text": f"井盖不见了{i % 7}号路口{'很' * (i % 3)}危险", "label": "manhole"})
        rows.append({"text": f"楼下广场舞音响太吵{i % 5}点还在跳", "label": "noise"})
        rows.append({"text": f"垃圾桶满了{i % 3}天没人收{'臭' * (i % 4)}", "label": "garbage"})
    _, card = trainer.train(pd.DataFrame(rows), "text", "label", seed=2)
    assert set(card.c_search) == {"0.3", "1.0", "3.0"}
    best = max(card.c_search.values())
    assert card.c_search[str(card.chosen_c)] == best
    # Ties go to the smallest C.
    assert card.chosen_c == min(float(c) for c, v in card.c_search.items() if v == best)


def test_a_large_training_set_chooses_on_a_stratified_sample_and_fits_on_every_row(monkeypatch):
    monkeypatch.setattr(trainer, "CV_MAX_ROWS", 60)
    texts = [f"井盖不见了{i}号路口" for i in range(90)] + [f"广场舞太吵{i}点" for i in range(30)]
    labels = pd.Series(["manhole"] * 90 + ["noise"] * 30)
    fitted = trainer.fit_model(pd.Series(texts), labels, seed=3, out_of_fold=True)
    # The choices saw 60 rows, the classes in their shares (3:1); the model saw all 120.
    assert len(fitted.oof_proba) == len(fitted.oof_labels) == 60
    assert fitted.oof_labels.value_counts().to_dict() == {"manhole": 45, "noise": 15}
    assert (
        len(fitted.pipeline.named_steps["clf"].calibrated_classifiers_[0].estimator.coef_[0])
        == (fitted.pipeline.named_steps["tfidf"].transform(["x"]).shape[1])
    )
    assert fitted.pipeline.predict(["井盖不见了7号路口"])[0] == "manhole"
    small = trainer.fit_model(
        pd.Series(texts[:50] + texts[90:100]), labels.iloc[list(range(50)) + list(range(90, 100))]
    )
    assert small.oof_labels is None  # no out-of-fold predictions asked for
    assert trainer._cv_rows(labels.iloc[:40], seed=3).tolist() == list(range(40))


def test_reviewed_labels_are_counted_by_split():
    rows = [{"text": f"井盖不见了{i}号路口", "label": "manhole"} for i in range(20)]
    rows += [{"text": f"广场舞太吵{i}点", "label": "noise"} for i in range(20)]
    frame = pd.DataFrame(rows)
    reviewed = pd.Series([i % 4 == 0 for i in range(len(frame))], index=frame.index)
    _, card = trainer.train(frame, "text", "label", seed=1, reviewed=reviewed)
    assert card.reviewed_labels["training"] + card.reviewed_labels["test"] == int(reviewed.sum())
    assert card.reviewed_labels["test"] <= card.test_rows
    assert "Reviewed labels (a reviewer's answer) the model was trained with: " in trainer.render_card(card)

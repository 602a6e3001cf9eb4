"""Training, threshold choice, model card and the safe (skops) model files.

A model directory holds ``model.skops`` (the fitted pipeline), ``card.json`` (metrics,
threshold, data) and ``card.md`` (the same for people). Loading refuses any
type that skops does not trust by default, so a model file cannot run foreign code.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import skops.io as sio
from sklearn.metrics import accuracy_score, f1_score, precision_score
from sklearn.model_selection import train_test_split

from models.case_classifier.pipeline import build_pipeline

MODEL_FILE = "model.skops"
CARD_FILE = "card.json"


@dataclass
class ModelCard:
    name: str
    version: str
    text_column: str
    label_column: str
    training_rows: int
    validation_rows: int
    test_rows: int
    classes: list[str]
    target_precision: float
    threshold: float
    metrics: dict[str, float]
    per_class_f1: dict[str, float]
    data_description: str = ""
    extra: dict = field(default_factory=dict)


def choose_threshold(confidence: np.ndarray, correct: np.ndarray, target_precision: float) -> float:
    """Smallest confidence at which the predictions above it are right at least ``target_precision``.

    Returns 1.0 (send nothing automatically) when no threshold reaches the target.
    """
    order = np.argsort(-confidence, kind="stable")
    conf_sorted, correct_sorted = confidence[order], correct[order].astype(float)
    precision_at_k = np.cumsum(correct_sorted) / np.arange(1, len(correct_sorted) + 1)
    # Only cut between distinct confidences; take the largest k that meets the target.
    distinct = np.r_[conf_sorted[1:] < conf_sorted[:-1], True]
    ok = np.where(distinct & (precision_at_k >= target_precision))[0]
    if len(ok) == 0:
        return 1.0
    return float(conf_sorted[ok[-1]])


def coverage_and_precision(
    confidence: np.ndarray, correct: np.ndarray, threshold: float
) -> tuple[float, float]:
    sent = confidence >= threshold
    coverage = float(sent.mean()) if len(sent) else 0.0
    precision = float(correct[sent].mean()) if sent.any() else 1.0
    return coverage, precision


def train(
    frame: pd.DataFrame,
    text_column: str,
    label_column: str,
    *,
    name: str = "case_classifier",
    version: str = "dev",
    seed: int = 20261126,
    target_precision: float = 0.97,
    data_description: str = "",
):
    """Fits on a stratified 70/15/15 split; the threshold is chosen on validation, reported on test."""
    data = frame[[text_column, label_column]].dropna()
    data = data[data[text_column].astype(str).str.strip() != ""]
    texts, labels = data[text_column].astype(str), data[label_column].astype(str)
    x_train, x_rest, y_train, y_rest = train_test_split(
        texts, labels, test_size=0.3, random_state=seed, stratify=labels
    )
    x_val, x_test, y_val, y_test = train_test_split(
        x_rest, y_rest, test_size=0.5, random_state=seed, stratify=y_rest
    )
    pipeline = build_pipeline(seed).fit(x_train, y_train)

    def confidence_and_correct(x, y):
        proba = pipeline.predict_proba(x)
        predicted = pipeline.classes_[proba.argmax(axis=1)]
        return proba.max(axis=1), predicted == y.to_numpy(), predicted

    val_conf, val_correct, _ = confidence_and_correct(x_val, y_val)
    threshold = choose_threshold(val_conf, val_correct, target_precision)
    test_conf, test_correct, test_pred = confidence_and_correct(x_test, y_test)
    coverage, precision = coverage_and_precision(test_conf, test_correct, threshold)
    classes = [str(c) for c in pipeline.classes_]
    card = ModelCard(
        name=name,
        version=version,
        text_column=text_column,
        label_column=label_column,
        training_rows=len(x_train),
        validation_rows=len(x_val),
        test_rows=len(x_test),
        classes=classes,
        target_precision=target_precision,
        threshold=threshold,
        metrics={
            "accuracy": float(accuracy_score(y_test, test_pred)),
            "macro_f1": float(f1_score(y_test, test_pred, average="macro")),
            "coverage_at_threshold": coverage,
            "precision_at_threshold": precision,
            "macro_precision": float(precision_score(y_test, test_pred, average="macro", zero_division=0)),
        },
        per_class_f1={
            c: float(f) for c, f in zip(classes, f1_score(y_test, test_pred, average=None, labels=classes), strict=True)
        },
        data_description=data_description,
    )
    return pipeline, card


def save(pipeline, card: ModelCard, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    sio.dump(pipeline, directory / MODEL_FILE)
    (directory / CARD_FILE).write_text(
        json.dumps(asdict(card), ensure_ascii=False, indent=2), encoding="utf-8"
    )
    (directory / "card.md").write_text(render_card(card), encoding="utf-8")
    return directory


class UntrustedModelError(RuntimeError):
    pass


def load(directory: Path):
    """The pipeline and card of a model directory, refusing files with unexpected types."""
    path = directory / MODEL_FILE
    if not path.exists():
        raise FileNotFoundError(f"no model file {path}: train a model first (civiclake classifier train)")
    # A fitted pipeline holds only scikit-learn, NumPy and SciPy types, which skops trusts
    # by default; anything else in the file is refused, never executed.
    untrusted = sio.get_untrusted_types(file=path)
    if untrusted:
        raise UntrustedModelError(f"{path} holds types a case classifier never has: {sorted(untrusted)}")
    pipeline = sio.load(path)
    card = ModelCard(**json.loads((directory / CARD_FILE).read_text(encoding="utf-8")))
    return pipeline, card


def render_card(card: ModelCard) -> str:
    m = card.metrics
    lines = [
        f"# Model card: {card.name} {card.version}",
        "",
        f"Character n-gram TF-IDF + logistic regression; text column `{card.text_column}`, "
        f"label column `{card.label_column}`.",
        "",
        f"Data: {card.data_description or 'not described'}",
        f"Split (stratified, fixed seed): {card.training_rows} train / {card.validation_rows} "
        f"validation / {card.test_rows} test.",
        "",
        "| metric (test split) | value |",
        "| --- | --- |",
        f"| accuracy | {m['accuracy']:.4f} |",
        f"| macro F1 | {m['macro_f1']:.4f} |",
        f"| confidence threshold (chosen on validation for {card.target_precision:.0%} precision) "
        f"| {card.threshold:.4f} |",
        f"| share dispatched automatically at that threshold (coverage) | {m['coverage_at_threshold']:.4f} |",
        f"| precision of the automatically dispatched | {m['precision_at_threshold']:.4f} |",
        "",
        "| class | F1 |",
        "| --- | --- |",
        *[f"| {c} | {f:.4f} |" for c, f in sorted(card.per_class_f1.items())],
        "",
    ]
    return "\n".join(lines)

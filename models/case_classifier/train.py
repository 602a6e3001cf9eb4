"""Training, threshold choice, model card and the safe (skops) model files.

A model directory holds ``model.skops`` (the fitted pipeline), ``card.json`` (metrics,
threshold, data) and ``card.md`` (the same for people). Loading refuses any
type that skops does not trust by default, so a model file cannot run foreign code.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import skops.io as sio
from scipy import sparse
from sklearn.compose import ColumnTransformer
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
    precision_score,
)
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from models.case_classifier import metadata as meta
from models.case_classifier.pipeline import (
    BASELINE_MODEL,
    C_GRID,
    CALIBRATION_FOLDS,
    DEFAULT_MODEL,
    MODELS,
    build_classifier,
    build_vectoriser,
    linear_svm,
)

log = logging.getLogger(__name__)

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
    # Cards written before these fields existed load with these defaults.
    model: str = BASELINE_MODEL
    seed: int | None = None
    train_seconds: float | None = None
    per_class_precision: dict[str, float] = field(default_factory=dict)
    per_class_recall: dict[str, float] = field(default_factory=dict)
    per_class_support: dict[str, int] = field(default_factory=dict)
    # Rows: true class, columns: predicted class, both in the order of ``classes`` (test split).
    confusion_matrix: list[list[int]] = field(default_factory=list)
    # Labels left out of training because they had too few rows for a stratified split.
    dropped_classes: dict[str, int] = field(default_factory=dict)
    # Another model fitted and evaluated on exactly the same split, for comparison.
    comparison: dict | None = None
    notes: str = ""
    # Columns read beside the text (one-hot); empty for a text-only model.
    metadata_columns: list[str] = field(default_factory=list)
    # Reviewers' corrections used as labels: {"used": n, "changed_label": k} (platform training).
    label_corrections: dict[str, int] = field(default_factory=dict)
    # How the threshold was chosen: "validation" (on the validation split, cards written before
    # "cross_validation") or "cross_validation" (on out-of-fold predictions of training +
    # validation, the model then fitted on both). Either way the test split is never seen.
    protocol: str = "validation"
    # Rows of training + validation whose label a reviewer gave (the model learnt from them),
    # and of the test split; None: not known (a district's own file).
    reviewed_labels: dict[str, int] | None = None
    # Unlabelled texts the vectoriser was fitted on beside the labelled ones, and where from.
    unlabelled_texts: int = 0
    unlabelled_source: str = ""
    # The SVM's C chosen by cross-validation on training data, and the mean fold accuracy per C.
    chosen_c: float | None = None
    c_search: dict[str, float] = field(default_factory=dict)


class TrainingDataError(ValueError):
    """The labelled data cannot train a classifier (missing columns, too few rows or classes)."""


MIN_ROWS_PER_CLASS = 7  # enough for every class to reach all three parts of a 70/15/15 split


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


@dataclass
class Split:
    # Texts (a Series), or frames of text and metadata columns.
    x_train: pd.Series | pd.DataFrame
    x_val: pd.Series | pd.DataFrame
    x_test: pd.Series | pd.DataFrame
    y_train: pd.Series
    y_val: pd.Series
    y_test: pd.Series
    dropped_classes: dict[str, int]


def labelled_rows(
    frame: pd.DataFrame, text_column: str, label_column: str, metadata_columns: tuple[str, ...] = ()
) -> tuple[pd.Series | pd.DataFrame, pd.Series]:
    """Texts and labels as strings, without rows whose text or label is missing or blank.

    With ``metadata_columns`` the inputs are a frame of the text and those columns
    (:func:`models.case_classifier.metadata.feature_frame`) instead of the texts alone.
    """
    if text_column in metadata_columns or label_column in metadata_columns:
        raise TrainingDataError(
            f"metadata columns {list(metadata_columns)} must not include the text or label column"
        )
    missing = [c for c in (text_column, label_column, *metadata_columns) if c not in frame.columns]
    if missing:
        raise TrainingDataError(
            f"column(s) {missing} not in the training data; its columns are {list(frame.columns)}"
        )
    data = frame[[text_column, label_column]].dropna()
    texts, labels = data[text_column].astype(str), data[label_column].astype(str).str.strip()
    keep = (texts.str.strip() != "") & (labels != "")
    texts, labels = texts[keep], labels[keep]
    if metadata_columns:
        return meta.feature_frame(frame.loc[texts.index], text_column, metadata_columns), labels
    return texts, labels


def split(
    frame: pd.DataFrame,
    text_column: str,
    label_column: str,
    seed: int,
    metadata_columns: tuple[str, ...] = (),
) -> Split:
    """The stratified 70/15/15 train/validation/test split every model of a comparison shares.

    The rows chosen depend only on the labels and the seed, so a model with metadata
    columns and a text-only one are split alike.
    """
    texts, labels = labelled_rows(frame, text_column, label_column, metadata_columns)
    counts = labels.value_counts()
    small = {str(k): int(v) for k, v in counts[counts < MIN_ROWS_PER_CLASS].items()}
    if small:
        log.warning(
            "labels with fewer than %d rows are left out of training (their cases go to review): %s",
            MIN_ROWS_PER_CLASS,
            small,
        )
        keep = ~labels.isin(small)
        texts, labels = texts[keep], labels[keep]
    if labels.nunique() < 2:
        raise TrainingDataError(
            f"need at least 2 labels with {MIN_ROWS_PER_CLASS}+ rows each in column {label_column!r}, "
            f"found {labels.nunique()} ({len(labels)} usable rows; labels left out: {small or 'none'})"
        )
    try:
        x_train, x_rest, y_train, y_rest = train_test_split(
            texts, labels, test_size=0.3, random_state=seed, stratify=labels
        )
        x_val, x_test, y_val, y_test = train_test_split(
            x_rest, y_rest, test_size=0.5, random_state=seed, stratify=y_rest
        )
    except ValueError as error:
        raise TrainingDataError(
            f"cannot split {len(labels)} rows of {labels.nunique()} labels into stratified "
            f"70/15/15 parts ({error}); label counts: {counts.to_dict()}"
        ) from None
    return Split(x_train, x_val, x_test, y_train, y_val, y_test, small)


CV_FOLDS = 5
# Rows the choice of C and the threshold's out-of-fold predictions use at most (a stratified
# sample of the training rows): these need 45 fits, and a few thousand rows settle both as
# well as tens of thousands; the final model is fitted on every row.
CV_MAX_ROWS = 5000


def _folds(labels: pd.Series, wanted: int) -> int:
    """Stratified folds the smallest class allows (at least 2)."""
    return max(int(min(wanted, labels.value_counts().min())), 2)


def _texts(x) -> pd.Series:
    return x.iloc[:, 0] if isinstance(x, pd.DataFrame) else x


def fit_features(x, *, model: str = DEFAULT_MODEL, unlabelled_texts: Sequence[str] = ()):
    """The model's features fitted on ``x`` and frozen: the vectoriser's vocabulary and IDF on
    the texts of ``x`` plus ``unlabelled_texts`` (no labels needed), the metadata encoder
    (a frame of text then metadata columns) on ``x``. Fitting the returned transformer
    again changes nothing, so a pipeline around it refits only its classifier."""
    return _fit_features(x, model, unlabelled_texts)[0]


def _fit_features(x, model: str, unlabelled_texts: Sequence[str]):
    """(frozen features, their matrix of ``x``). The vectoriser analyses the texts once to
    fit; a frame's ColumnTransformer (text beside metadata) once more, in ``fit_transform``."""
    texts = pd.concat(
        [_texts(x).astype(str), pd.Series(list(unlabelled_texts), dtype=str)], ignore_index=True
    )
    vectoriser = build_vectoriser(model)
    matrix = vectoriser.fit_transform(texts)[: len(x)]
    text = FrozenEstimator(vectoriser)
    if not isinstance(x, pd.DataFrame):
        return text, matrix
    text_column, *metadata_columns = list(x.columns)
    features = ColumnTransformer(
        [
            ("text", text, text_column),  # a column name, not a list: the vectoriser wants 1-D text
            ("metadata", OneHotEncoder(handle_unknown="ignore"), list(metadata_columns)),
        ]
    )
    return features, features.fit_transform(x)


def choose_c(features, labels: pd.Series, *, model: str = DEFAULT_MODEL, seed: int = 0):
    """The SVM's C with the best mean accuracy in stratified cross-validation (smaller C on ties),
    and the mean accuracy of each C tried; (None, {}) for a model without a C to choose."""
    grid = C_GRID.get(model, ())
    if len(grid) < 2:
        return (grid[0] if grid else None), {}
    folds = StratifiedKFold(_folds(labels, CV_FOLDS), shuffle=True, random_state=seed)
    y = labels.to_numpy()
    scores = {}
    for c in grid:
        svm = linear_svm(c, seed)
        scores[c] = float(
            np.mean(
                [
                    accuracy_score(y[test], svm.fit(features[train], y[train]).predict(features[test]))
                    for train, test in folds.split(features, y)
                ]
            )
        )
    best = max(grid, key=lambda c: (scores[c], -c))
    return best, {str(c): round(v, 4) for c, v in scores.items()}


def out_of_fold_proba(features, labels: pd.Series, *, model: str, seed: int, c: float | None):
    """Each row's class probabilities from a model fitted without it (stratified folds), and
    the classes (columns) in order."""
    classes = np.array(sorted(labels.unique()))
    proba = np.zeros((len(labels), len(classes)))
    y = labels.to_numpy()
    folds = StratifiedKFold(_folds(labels, CV_FOLDS), shuffle=True, random_state=seed)
    for train, test in folds.split(features, y):
        classifier = build_classifier(
            seed, model=model, calibration_folds=_folds(labels.iloc[train], CALIBRATION_FOLDS), c=c
        ).fit(features[train], y[train])
        columns = np.searchsorted(classes, classifier.classes_)
        proba[np.ix_(test, columns)] = classifier.predict_proba(features[test])
    return proba, classes


@dataclass
class Fitted:
    pipeline: Pipeline
    chosen_c: float | None
    c_search: dict[str, float]
    # Out-of-fold probabilities of the rows the model was fitted on (rows × classes), if asked.
    oof_proba: np.ndarray | None = None
    oof_classes: np.ndarray | None = None
    # The labels of those rows (all the training rows, or a sample of CV_MAX_ROWS).
    oof_labels: pd.Series | None = None


def fit_model(
    x,
    labels: pd.Series,
    *,
    model: str = DEFAULT_MODEL,
    seed: int = 0,
    unlabelled_texts: Sequence[str] = (),
    out_of_fold: bool = False,
) -> Fitted:
    """The named model fitted on ``x`` (texts, or a frame of text then metadata columns):
    features from :func:`fit_features`, C chosen by cross-validation on ``x``, the calibrated
    classifier on the labels. ``out_of_fold`` adds each row's probabilities from a model
    fitted without it (for choosing the threshold)."""
    features, matrix = _fit_features(x, model, unlabelled_texts)
    matrix = sparse.csr_matrix(matrix)  # a ColumnTransformer's output is dense when it is small
    rows = _cv_rows(labels, seed)
    sample, sample_labels = matrix[rows], labels.iloc[rows]
    c, search = choose_c(sample, sample_labels, model=model, seed=seed)
    classifier = build_classifier(
        seed, model=model, calibration_folds=_folds(labels, CALIBRATION_FOLDS), c=c
    ).fit(matrix, labels.to_numpy())
    step = "features" if isinstance(x, pd.DataFrame) else "tfidf"
    fitted = Fitted(Pipeline([(step, features), ("clf", classifier)]), c, search)
    if out_of_fold:
        fitted.oof_proba, fitted.oof_classes = out_of_fold_proba(
            sample, sample_labels, model=model, seed=seed, c=c
        )
        fitted.oof_labels = sample_labels
    return fitted


def fit(x_train, y_train: pd.Series, *, model: str = DEFAULT_MODEL, seed: int = 0, unlabelled_texts=()):
    """The named pipeline fitted on the training rows (see :func:`fit_model`)."""
    return fit_model(x_train, y_train, model=model, seed=seed, unlabelled_texts=unlabelled_texts).pipeline


def threshold_from_out_of_fold(fitted: Fitted, target_precision: float) -> float:
    proba = fitted.oof_proba
    predicted = fitted.oof_classes[proba.argmax(axis=1)]
    return choose_threshold(proba.max(axis=1), predicted == fitted.oof_labels.to_numpy(), target_precision)


def _cv_rows(labels: pd.Series, seed: int) -> np.ndarray:
    """Positions of the rows for the cross-validated choices: all of them up to CV_MAX_ROWS,
    else a stratified sample of that many (every class keeps its share)."""
    positions = np.arange(len(labels))
    if len(labels) <= CV_MAX_ROWS:
        return positions
    try:
        sample, _ = train_test_split(positions, train_size=CV_MAX_ROWS, stratify=labels, random_state=seed)
    except ValueError:  # a class too small to split: a plain random sample
        sample = np.random.default_rng(seed).choice(positions, size=CV_MAX_ROWS, replace=False)
    return np.sort(sample)


def evaluate(pipeline, x_test, y_test: pd.Series, threshold: float) -> dict:
    """Every metric on the test rows, at a threshold chosen without them."""
    proba = pipeline.predict_proba(x_test)
    test_pred = pipeline.classes_[proba.argmax(axis=1)]
    test_conf, test_correct = proba.max(axis=1), test_pred == y_test.to_numpy()
    coverage, precision = coverage_and_precision(test_conf, test_correct, threshold)
    classes = [str(c) for c in pipeline.classes_]
    p, r, f, support = precision_recall_fscore_support(y_test, test_pred, labels=classes, zero_division=0)
    return {
        "threshold": threshold,
        "classes": classes,
        "metrics": {
            "accuracy": float(accuracy_score(y_test, test_pred)),
            "macro_f1": float(f1_score(y_test, test_pred, average="macro")),
            "coverage_at_threshold": coverage,
            "precision_at_threshold": precision,
            "macro_precision": float(precision_score(y_test, test_pred, average="macro", zero_division=0)),
        },
        "per_class_f1": {c: float(v) for c, v in zip(classes, f, strict=True)},
        "per_class_precision": {c: float(v) for c, v in zip(classes, p, strict=True)},
        "per_class_recall": {c: float(v) for c, v in zip(classes, r, strict=True)},
        "per_class_support": {c: int(v) for c, v in zip(classes, support, strict=True)},
        "confusion_matrix": confusion_matrix(y_test, test_pred, labels=classes).tolist(),
    }


def develop(parts: Split, target_precision: float, *, model: str, seed: int, unlabelled_texts=()):
    """Fits on training + validation, chooses the threshold on their out-of-fold predictions and
    measures on the test split; returns (fitted, result, seconds to fit)."""
    x_dev = pd.concat([parts.x_train, parts.x_val])
    y_dev = pd.concat([parts.y_train, parts.y_val])
    started = time.perf_counter()
    fitted = fit_model(
        x_dev, y_dev, model=model, seed=seed, unlabelled_texts=unlabelled_texts, out_of_fold=True
    )
    seconds = time.perf_counter() - started
    threshold = threshold_from_out_of_fold(fitted, target_precision)
    return fitted, evaluate(fitted.pipeline, parts.x_test, parts.y_test, threshold), seconds


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
    model: str = DEFAULT_MODEL,
    compare_with: str | None = None,
    notes: str = "",
    metadata_columns: tuple[str, ...] | list[str] = (),
    label_corrections: dict[str, int] | None = None,
    unlabelled_texts: Sequence[str] = (),
    unlabelled_source: str = "",
    reviewed: pd.Series | None = None,
):
    """Fits on the training + validation parts of a stratified 70/15/15 split, chooses the
    threshold on their out-of-fold predictions and reports every metric on the test part.

    ``unlabelled_texts`` (the district's texts without labels) join the labelled training
    texts in fitting the vectoriser; a text equal to a labelled one is left out, so the
    test split's texts never shape the features. ``compare_with`` names a second model
    (e.g. the baseline) fitted and evaluated the same way on the same split; its numbers go
    into the card's ``comparison``. The returned pipeline is always the ``model`` one.
    ``metadata_columns`` are read beside the text (one-hot); ``label_corrections`` (counts
    of reviewers' corrections in the labels) go into the card, and ``reviewed`` (True for
    rows of ``frame`` whose label a reviewer gave) counts them by split.
    """
    metadata_columns = tuple(metadata_columns)
    parts = split(frame, text_column, label_column, seed, metadata_columns)
    labelled_texts = set(frame[text_column].dropna().astype(str))
    extra = [
        t for t in dict.fromkeys(str(t) for t in unlabelled_texts) if t.strip() and t not in labelled_texts
    ]
    fitted, result, seconds = develop(parts, target_precision, model=model, seed=seed, unlabelled_texts=extra)
    comparison = None
    if compare_with is not None:
        other, other_result, other_seconds = develop(
            parts, target_precision, model=compare_with, seed=seed, unlabelled_texts=extra
        )
        comparison = {
            "model": compare_with,
            "train_seconds": round(other_seconds, 2),
            "threshold": other_result["threshold"],
            "metrics": other_result["metrics"],
            "per_class_f1": other_result["per_class_f1"],
        }
    reviewed_labels = None
    if reviewed is not None:
        mask = reviewed.reindex(frame.index, fill_value=False).astype(bool)
        dev_index = parts.x_train.index.append(parts.x_val.index)
        reviewed_labels = {
            "training": int(mask.loc[dev_index].sum()),
            "test": int(mask.loc[parts.x_test.index].sum()),
        }
    card = ModelCard(
        name=name,
        version=version,
        text_column=text_column,
        label_column=label_column,
        training_rows=len(parts.x_train),
        validation_rows=len(parts.x_val),
        test_rows=len(parts.x_test),
        classes=result["classes"],
        target_precision=target_precision,
        threshold=result["threshold"],
        metrics=result["metrics"],
        per_class_f1=result["per_class_f1"],
        data_description=data_description,
        model=model,
        seed=seed,
        train_seconds=round(seconds, 2),
        per_class_precision=result["per_class_precision"],
        per_class_recall=result["per_class_recall"],
        per_class_support=result["per_class_support"],
        confusion_matrix=result["confusion_matrix"],
        dropped_classes=parts.dropped_classes,
        comparison=comparison,
        notes=notes,
        metadata_columns=list(metadata_columns),
        label_corrections=dict(label_corrections or {}),
        protocol="cross_validation",
        reviewed_labels=reviewed_labels,
        unlabelled_texts=len(extra),
        unlabelled_source=unlabelled_source if extra else "",
        chosen_c=fitted.chosen_c,
        c_search=fitted.c_search,
    )
    return fitted.pipeline, card


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


# Types a case classifier holds that skops does not trust by default: private
# scikit-learn classes of CalibratedClassifierCV (the fitted classifier per fold and its
# sigmoid, plain data holders) and this package's vectorizer. Any other type is refused.
KNOWN_SKLEARN_TYPES = frozenset(
    {
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        # This package's own TfidfVectorizers: a compact vocabulary, and jieba's words (pipeline.py).
        "models.case_classifier.pipeline.CompactTfidfVectorizer",
        "models.case_classifier.pipeline.JiebaTfidfVectorizer",
    }
)


def load(directory: Path):
    """The pipeline and card of a model directory, refusing files with unexpected types."""
    directory = Path(directory)
    path = directory / MODEL_FILE
    if not path.exists():
        raise FileNotFoundError(f"no model file {path}: train a model first (civiclake classifier train)")
    # A fitted pipeline holds scikit-learn, NumPy and SciPy types: those skops trusts by
    # default plus KNOWN_SKLEARN_TYPES. Anything else in the file is refused, never executed.
    found = set(sio.get_untrusted_types(file=path))
    untrusted = found - KNOWN_SKLEARN_TYPES
    if untrusted:
        raise UntrustedModelError(f"{path} holds types a case classifier never has: {sorted(untrusted)}")
    pipeline = sio.load(path, trusted=sorted(found))
    card = ModelCard(**json.loads((directory / CARD_FILE).read_text(encoding="utf-8")))
    return pipeline, card


def _pct(value: float) -> str:
    return f"{value:.1%}"


def render_card(card: ModelCard) -> str:
    m = card.metrics
    classes = card.classes
    lines = [
        f"# Model card: {card.name} {card.version}",
        "",
        f"Model `{card.model}`: {MODELS.get(card.model, card.model)}.",
        f"Text column `{card.text_column}`, label column `{card.label_column}`.",
    ]
    if card.metadata_columns:
        lines.append(
            "Metadata columns (one-hot, beside the text): "
            + ", ".join(f"`{c}`" for c in card.metadata_columns)
            + "."
        )
    lines += [
        "",
        f"Data: {card.data_description or 'not described'}",
        f"Split (stratified, seed {card.seed if card.seed is not None else 'not recorded'}): "
        f"{card.training_rows} train / {card.validation_rows} validation / {card.test_rows} test.",
    ]
    if card.label_corrections:
        lc = card.label_corrections
        lines.append(
            f"Reviewers' corrections used as labels: {lc.get('used', 0)} "
            f"({lc.get('changed_label', 0)} of them changed the source's label)."
        )
    if card.reviewed_labels is not None:
        lines.append(
            f"Reviewed labels (a reviewer's answer) the model was trained with: "
            f"{card.reviewed_labels.get('training', 0)} (and {card.reviewed_labels.get('test', 0)} in the test split)."
        )
    if card.unlabelled_texts:
        lines.append(
            f"Unlabelled texts the vectoriser was fitted on beside the labelled ones: {card.unlabelled_texts}"
            + (f" ({card.unlabelled_source})" if card.unlabelled_source else "")
            + "."
        )
    if card.chosen_c is not None and card.c_search:
        tried = ", ".join(f"C={c}: {v:.4f}" for c, v in card.c_search.items())
        lines.append(
            f"SVM C chosen by 5-fold cross-validation on the training data: {card.chosen_c} ({tried})."
        )
    if card.dropped_classes:
        lines.append(f"Labels left out (too few rows, their cases go to review): {card.dropped_classes}")
    if card.train_seconds is not None:
        lines.append(f"Training time: {card.train_seconds:.1f} s.")
    if card.protocol == "cross_validation":
        chosen = "out-of-fold predictions of the training and validation splits"
        how = (
            "The model is fitted on the training and validation splits together. The confidence "
            f"threshold is chosen on their {CV_FOLDS}-fold out-of-fold predictions"
        )
    else:
        chosen = "validation"
        how = "The confidence threshold is chosen on the validation split"
    lines += [
        "",
        f"{how} so that the cases at or above it are right at least {card.target_precision:.0%} of "
        "the time; every number below is measured on the test split, which played no part in "
        "training or in the threshold. The precision of automatic dispatch below is therefore "
        "measured on data the threshold never saw.",
        "",
        "| metric (test split) | value |",
        "| --- | --- |",
        f"| accuracy | {m['accuracy']:.4f} |",
        f"| macro F1 | {m['macro_f1']:.4f} |",
        f"| confidence threshold (chosen on {chosen} for {card.target_precision:.0%} precision) "
        f"| {card.threshold:.4f} |",
        f"| share dispatched automatically at that threshold (coverage) | {m['coverage_at_threshold']:.4f} |",
        f"| precision of the automatically dispatched | {m['precision_at_threshold']:.4f} |",
    ]
    if card.comparison:
        c = card.comparison
        cm = c["metrics"]
        lines += [
            "",
            f"## Compared on the same split with `{c['model']}`",
            "",
            "| model | accuracy | macro F1 | coverage at threshold | precision at threshold | train s |",
            "| --- | --- | --- | --- | --- | --- |",
            f"| `{card.model}` (this model) | {m['accuracy']:.4f} | {m['macro_f1']:.4f} | "
            f"{_pct(m['coverage_at_threshold'])} | {m['precision_at_threshold']:.4f} | "
            f"{card.train_seconds if card.train_seconds is not None else ''} |",
            f"| `{c['model']}` | {cm['accuracy']:.4f} | {cm['macro_f1']:.4f} | "
            f"{_pct(cm['coverage_at_threshold'])} | {cm['precision_at_threshold']:.4f} | {c['train_seconds']} |",
        ]
    lines += [
        "",
        "## Per class (test split)",
        "",
        "| class | precision | recall | F1 | support |",
        "| --- | --- | --- | --- | --- |",
    ]
    for c in classes:
        lines.append(
            f"| {c} | {card.per_class_precision.get(c, float('nan')):.4f} | "
            f"{card.per_class_recall.get(c, float('nan')):.4f} | {card.per_class_f1.get(c, float('nan')):.4f} | "
            f"{card.per_class_support.get(c, '')} |"
        )
    if card.confusion_matrix:
        lines += [
            "",
            "## Confusion matrix (test split; rows: true class, columns: predicted)",
            "",
            "| true ↓ predicted → | " + " | ".join(classes) + " |",
            "| --- |" + " --- |" * len(classes),
            *[
                f"| {c} | " + " | ".join(str(v) for v in row) + " |"
                for c, row in zip(classes, card.confusion_matrix, strict=True)
            ],
        ]
    if card.notes:
        lines += ["", "## Notes", "", card.notes]
    lines.append("")
    return "\n".join(lines)

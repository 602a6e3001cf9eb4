"""The case classifier's scikit-learn pipelines.

Each is a text vectoriser (``tfidf``) and a classifier (``clf``):

* ``char_word_svc`` (default): character 1-3-gram TF-IDF beside word 1-2-gram TF-IDF
  (words cut by jieba, whose dictionary ships in its wheel), both with sublinear tf, and a
  linear SVM with balanced class weights whose C is chosen by 5-fold cross-validation on
  the training data; its scores become probabilities by Platt (sigmoid) calibration on the
  SVM's cross-validated scores (``CalibratedClassifierCV(ensemble=False)``). The
  vocabularies and IDF weights can be fitted on the district's unlabelled texts as well
  as the labelled ones (:func:`models.case_classifier.train.fit`); only the classifier
  needs labels.
* ``calibrated_svc``: the character n-grams alone and the same calibrated SVM with C = 3,
  the default before the word n-grams.
* ``tfidf_logreg`` (baseline): character-within-word 1-3-gram TF-IDF and multinomial
  logistic regression, the first model of the platform, kept for comparison.

The dispatch threshold works on ``predict_proba`` of any of them. Character n-grams need
no segmenter and are robust to the typos and homophone slips of phone input; words add
what a character window cuts across.
"""

from __future__ import annotations

import logging

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

DEFAULT_MODEL = "char_word_svc"
CHAR_MODEL = "calibrated_svc"
BASELINE_MODEL = "tfidf_logreg"
MODELS = {
    DEFAULT_MODEL: "character 1-3-gram and jieba word 1-2-gram TF-IDF (vocabulary and IDF fitted on the "
    "labelled and unlabelled texts) + linear SVM (balanced classes, C chosen by 5-fold cross-validation), "
    "sigmoid-calibrated on its 5-fold cross-validated scores",
    CHAR_MODEL: "character 1-3-gram TF-IDF + linear SVM (balanced classes), sigmoid-calibrated on "
    "its 5-fold cross-validated scores",
    BASELINE_MODEL: "character 1-3-gram TF-IDF + logistic regression (baseline)",
}
CALIBRATION_FOLDS = 5
# Values of the SVM's C tried by cross-validation on the training data (one value: no search).
C_GRID = {DEFAULT_MODEL: (0.3, 1.0, 3.0), CHAR_MODEL: (3.0,)}


class UnknownModelError(ValueError):
    pass


class CompactTfidfVectorizer(TfidfVectorizer):
    """A TfidfVectorizer whose fitted vocabulary is saved as one array of terms.

    skops writes a dict entry by entry: the ~150,000 character n-grams of real messages
    made a 65 MB file that took 4-5 s to load, once per Spark partition. As one NumPy
    string array (index = column) the same vocabulary is a few MB and loads at once.
    Fitting and transforming are TfidfVectorizer's own.
    """

    def __getstate__(self):
        state = super().__getstate__()
        vocabulary = state.get("vocabulary_")
        if vocabulary is not None:
            terms = np.array(sorted(vocabulary, key=vocabulary.__getitem__), dtype=np.str_)
            # NumPy strips trailing NULs from its strings: keep the dict for such a (rare) term.
            if len(terms) == len(vocabulary) and all(
                vocabulary.get(t) == i for i, t in enumerate(terms.tolist())
            ):
                state = {k: v for k, v in state.items() if k != "vocabulary_"}
                state["vocabulary_terms_"] = terms
        return state

    def __setstate__(self, state):
        state = dict(state)
        terms = state.pop("vocabulary_terms_", None)
        if terms is not None:
            state["vocabulary_"] = {t: i for i, t in enumerate(terms.tolist())}
        super().__setstate__(state)


_JIEBA_QUIET: list[bool] = []


def jieba_words(text: str) -> list[str]:
    """The words of a Chinese text as jieba cuts them (precise mode), without blanks."""
    import jieba

    if not _JIEBA_QUIET:
        jieba.setLogLevel(logging.WARNING)  # not the dictionary's loading messages on every worker
        _JIEBA_QUIET.append(True)
    return [word for word in jieba.lcut(text) if word.strip()]


class JiebaTfidfVectorizer(CompactTfidfVectorizer):
    """TF-IDF of word n-grams, the words cut by jieba (lower-cased first, like the others).

    The tokenizer is a method, not a parameter, so the model file holds no function
    reference: skops loads it as this class alone.
    """

    def build_tokenizer(self):
        return jieba_words


def build_vectoriser(model: str = DEFAULT_MODEL):
    """The unfitted text vectoriser of the named model."""
    if model == DEFAULT_MODEL:
        return FeatureUnion(
            [
                (
                    "char",
                    CompactTfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2, sublinear_tf=True),
                ),
                (
                    "word",
                    JiebaTfidfVectorizer(token_pattern=None, ngram_range=(1, 2), min_df=2, sublinear_tf=True),
                ),
            ]
        )
    if model == CHAR_MODEL:
        return CompactTfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2, sublinear_tf=True)
    if model == BASELINE_MODEL:
        return TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), min_df=2, sublinear_tf=True)
    raise UnknownModelError(f"unknown case classifier model {model!r}: choose one of {sorted(MODELS)}")


def linear_svm(c: float, seed: int = 0) -> LinearSVC:
    """The models' linear SVM with balanced class weights, solved in its dual.

    scikit-learn's ``dual="auto"`` takes the primal once there are more rows than n-gram
    columns, as in the platform's history of tens of thousands of short templated cases:
    there the dual fits about four times faster (13 s against 3 s on 29,000 cases), and on
    the real messages, with more columns than rows, ``auto`` already chose it.
    """
    return LinearSVC(C=c, dual=True, class_weight="balanced", random_state=seed)


def build_classifier(
    seed: int = 0,
    model: str = DEFAULT_MODEL,
    calibration_folds: int = CALIBRATION_FOLDS,
    c: float | None = None,
):
    """The unfitted classifier of the named model (``c``: the SVM's C, else the grid's last value)."""
    if model in C_GRID:
        svm = linear_svm(c if c is not None else C_GRID[model][-1], seed)
        return CalibratedClassifierCV(svm, cv=calibration_folds, method="sigmoid", ensemble=False)
    if model == BASELINE_MODEL:
        return LogisticRegression(C=10.0, max_iter=2000, random_state=seed)
    raise UnknownModelError(f"unknown case classifier model {model!r}: choose one of {sorted(MODELS)}")


def build_pipeline(
    seed: int = 0, model: str = DEFAULT_MODEL, calibration_folds: int = CALIBRATION_FOLDS
) -> Pipeline:
    """An unfitted pipeline of the named kind, vectoriser and classifier fitted on the same texts.

    ``calibration_folds`` (the SVM models) must not exceed the rows of the smallest class
    in the training data. :func:`models.case_classifier.train.fit` assembles the same steps
    with the vectoriser fitted on more texts than the labelled ones and C chosen by
    cross-validation.
    """
    return Pipeline(
        [
            ("tfidf", build_vectoriser(model)),
            ("clf", build_classifier(seed, model=model, calibration_folds=calibration_folds)),
        ]
    )

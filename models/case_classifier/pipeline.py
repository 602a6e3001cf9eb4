"""The case classifier's scikit-learn pipelines.

Both read character n-grams, which need no Chinese word segmenter and are robust to
the typos and homophone slips of phone input:

* ``calibrated_svc`` (default): character 1-3-gram TF-IDF (sublinear tf) and a linear
  SVM with balanced class weights, its scores turned into probabilities by Platt
  (sigmoid) calibration fitted on the SVM's 5-fold cross-validated scores
  (``CalibratedClassifierCV(ensemble=False)``: one SVM in the file, fitted on all the
  training rows). On the real message-board data it beats the baseline in accuracy,
  macro-F1 and coverage at 97% precision, trains faster and its file is small
  (docs/BENCHMARKS.md).
* ``tfidf_logreg`` (baseline): character-within-word 1-3-gram TF-IDF and multinomial
  logistic regression, the first model of the platform, kept for comparison.

The dispatch threshold works on ``predict_proba`` of either.
"""

from __future__ import annotations

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC

DEFAULT_MODEL = "calibrated_svc"
BASELINE_MODEL = "tfidf_logreg"
MODELS = {
    DEFAULT_MODEL: "character 1-3-gram TF-IDF + linear SVM (balanced classes), sigmoid-calibrated on "
    "its 5-fold cross-validated scores",
    BASELINE_MODEL: "character 1-3-gram TF-IDF + logistic regression (baseline)",
}
CALIBRATION_FOLDS = 5


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


def build_pipeline(
    seed: int = 0, model: str = DEFAULT_MODEL, calibration_folds: int = CALIBRATION_FOLDS
) -> Pipeline:
    """An unfitted pipeline of the named kind.

    ``calibration_folds`` (calibrated_svc only) must not exceed the rows of the
    smallest class in the training data; :func:`models.case_classifier.train.train`
    lowers it for small classes.
    """
    if model == DEFAULT_MODEL:
        svm = LinearSVC(C=3.0, class_weight="balanced", random_state=seed)
        return Pipeline(
            [
                (
                    "tfidf",
                    CompactTfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2, sublinear_tf=True),
                ),
                ("clf", CalibratedClassifierCV(svm, cv=calibration_folds, method="sigmoid", ensemble=False)),
            ]
        )
    if model == BASELINE_MODEL:
        return Pipeline(
            [
                (
                    "tfidf",
                    TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), min_df=2, sublinear_tf=True),
                ),
                ("clf", LogisticRegression(C=10.0, max_iter=2000, random_state=seed)),
            ]
        )
    raise UnknownModelError(f"unknown case classifier model {model!r}: choose one of {sorted(MODELS)}")

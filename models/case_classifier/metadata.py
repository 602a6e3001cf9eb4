"""Text plus case metadata: the text pipeline's vectoriser and classifier around a ColumnTransformer.

The platform's own model learns from the case text and from where and how the case came
in — channel, street and hour of report — as one-hot columns beside the character
n-grams. The pieces are those of :func:`models.case_classifier.pipeline.build_pipeline`,
recomposed here, so the text-only models stay exactly as they are.

A metadata value the model never saw (a new channel, say) is ignored, not an error; a
missing one is the empty string, its own category.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from models.case_classifier.pipeline import CALIBRATION_FOLDS, DEFAULT_MODEL, build_pipeline

# What the platform's weekly training uses beside the text (columns of silver.governance_cases,
# report_hour derived from reported_at by add_report_hour). Scoring reads the same columns from
# the case funnel (silver.cases), whose city and Open311 channels the governance history never
# has: the encoder ignores them (handle_unknown="ignore"), so such a case is judged by its text,
# street and hour.
PLATFORM_METADATA = ("channel", "street_code", "report_hour")
REPORT_HOUR = "report_hour"


def build_metadata_pipeline(
    text_column: str,
    metadata_columns: Sequence[str],
    seed: int = 0,
    model: str = DEFAULT_MODEL,
    calibration_folds: int = CALIBRATION_FOLDS,
) -> Pipeline:
    """An unfitted pipeline reading ``text_column`` (n-grams) and ``metadata_columns`` (one-hot)."""
    text_only = build_pipeline(seed, model=model, calibration_folds=calibration_folds)
    vectoriser, classifier = text_only.steps[0][1], text_only.steps[-1][1]
    features = ColumnTransformer(
        [
            ("text", vectoriser, text_column),  # a column name, not a list: the vectoriser wants 1-D text
            ("metadata", OneHotEncoder(handle_unknown="ignore"), list(metadata_columns)),
        ]
    )
    return Pipeline([("features", features), ("clf", classifier)])


def feature_frame(frame: pd.DataFrame, text_column: str, metadata_columns: Sequence[str]) -> pd.DataFrame:
    """The model's input: the text and each metadata column as strings (missing → "")."""
    if text_column in metadata_columns:
        raise ValueError(f"the text column {text_column!r} cannot also be a metadata column")
    missing = [c for c in (text_column, *metadata_columns) if c not in frame.columns]
    if missing:
        raise KeyError(f"column(s) {missing} not in the data; its columns are {list(frame.columns)}")
    out = pd.DataFrame(index=frame.index)
    out[text_column] = frame[text_column].astype(str)
    for column in metadata_columns:
        values = frame[column]
        out[column] = values.astype(str).where(values.notna(), "")
    return out


def model_inputs(frame: pd.DataFrame, text_column: str, metadata_columns: Sequence[str]):
    """What ``predict_proba`` of a model with these columns takes: the text alone, or a frame."""
    if not metadata_columns:
        return frame[text_column].astype(str)
    return feature_frame(frame, text_column, metadata_columns)


def add_report_hour(frame: pd.DataFrame, reported_at: str = "reported_at") -> pd.DataFrame:
    """``frame`` with report_hour (``"0"``…``"23"``, local time of report; "" when unknown)."""
    hours = pd.to_datetime(frame[reported_at]).dt.hour
    out = frame.copy()
    out[REPORT_HOUR] = hours.astype("Int64").astype(str).where(hours.notna(), "")
    return out

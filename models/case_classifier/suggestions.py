"""The model's top categories for a case, as the review queue shows them to a reviewer."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np

DEFAULT_COUNT = 3
DIGITS = 4  # probabilities as a reviewer reads them; more digits would only look precise


def top_suggestions(proba: np.ndarray, classes: Sequence[str], count: int = DEFAULT_COUNT) -> list[str]:
    """For each row of ``proba`` (rows × classes), a JSON array of its ``count`` most probable
    categories, most probable first (ties: the class order), e.g.
    ``[{"category":"noise","probability":0.41},…]``."""
    proba = np.asarray(proba, dtype=float)
    if proba.ndim != 2 or proba.shape[1] != len(classes):
        raise ValueError(f"probabilities of shape {proba.shape} do not match {len(classes)} classes")
    order = np.argsort(-proba, axis=1, kind="stable")[:, :count]
    return [
        json.dumps(
            [{"category": str(classes[j]), "probability": round(float(row[j]), DIGITS)} for j in picks],
            ensure_ascii=False,
            separators=(",", ":"),
        )
        for row, picks in zip(proba, order, strict=True)
    ]

"""The order of a review queue: what a reviewer's answer teaches the model most comes first.

Two kinds of picks share the queue:

* **value** picks, ordered by the model's uncertainty with diversity. A case's uncertainty
  is one minus the margin between its two most probable categories (1: a toss-up, 0:
  sure). Picked greedily, each next case is the one with the highest uncertainty times
  ``1 - s``, where ``s`` is its largest text similarity (cosine of character 1-2-gram
  TF-IDF) to a case already picked: a near-identical text (a resident's repeated
  complaint) teaches little once one of its kind is answered, so it sinks.
* **random** picks: a share of the queue drawn uniformly at random (seeded), spread
  evenly through it so a reviewer who works only the top still answers them in
  proportion. The model's accuracy measured on reviewed random picks is an unbiased
  estimate for the cases that go to review; the value picks are not (they are the
  hardest on purpose).

A case with no probabilities (a camera event, judged by its detector) has no uncertainty:
it comes after every case that has one, by its place in the input. Ties keep the input
order, which the caller makes the oldest report first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

VALUE = "value"
RANDOM = "random"


@dataclass(frozen=True)
class Pick:
    index: int  # position of the case in the input
    pick: str  # VALUE or RANDOM
    # What the answer is worth when picked (uncertainty × (1 − similarity to those before);
    # None for a random pick and for a case without probabilities).
    value: float | None


def uncertainty(probabilities: Sequence[float | None]) -> float | None:
    """One minus the margin between the two most probable categories; with one probability
    ``p`` known, the rest (``1 - p``) counts as the second. None without any probability."""
    known = sorted((float(p) for p in probabilities if p is not None and not np.isnan(p)), reverse=True)
    if not known:
        return None
    second = known[1] if len(known) > 1 else max(0.0, 1.0 - known[0])
    return float(min(1.0, max(0.0, 1.0 - (known[0] - second))))


def random_count(size: int, share: float) -> int:
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"the random share of the review queue must be between 0 and 1, got {share}")
    return int(np.floor(size * share + 0.5))


def _text_matrix(texts: Sequence[str | None]):
    docs = ["" if t is None else str(t) for t in texts]
    if not any(d.strip() for d in docs):
        return None
    try:
        return TfidfVectorizer(analyzer="char", ngram_range=(1, 2)).fit_transform(docs).tocsr()
    except ValueError:  # nothing but blanks left to count
        return None


def order_by_value(
    uncertainties: Sequence[float | None], texts: Sequence[str | None], limit: int | None = None
) -> list[Pick]:
    """Every case once (the first ``limit`` only, if given), greedily by uncertainty ×
    (1 − largest similarity to those already picked)."""
    n = len(uncertainties)
    limit = n if limit is None else min(limit, n)
    base = np.array([-1.0 if u is None else float(u) for u in uncertainties])
    known = base >= 0
    matrix = _text_matrix(texts) if known.sum() > 1 else None
    closest = np.zeros(n)  # largest similarity to a picked case
    left = np.ones(n, dtype=bool)
    picks = []
    for _ in range(min(int(known.sum()), limit)):
        score = np.where(left & known, base * (1.0 - closest), -np.inf)
        best = int(np.argmax(score))  # the first of equal scores: input order
        picks.append(Pick(best, VALUE, float(score[best])))
        left[best] = False
        if matrix is not None:
            similarity = (matrix @ matrix[best].T).toarray().ravel()
            closest = np.maximum(closest, np.clip(similarity, 0.0, 1.0))
    picks += [Pick(int(i), VALUE, None) for i in np.flatnonzero(left & ~known)]
    return picks[:limit]


def order_queue(
    uncertainties: Sequence[float | None],
    texts: Sequence[str | None],
    *,
    random_share: float,
    seed: int | Sequence[int],
    limit: int | None = None,
) -> list[Pick]:
    """The queue's order: value picks with ``random_share`` of the cases drawn at random
    (``seed``) and spread evenly among them; every input case exactly once. ``limit``: the
    first so many only (the same as the head of the whole order, computed faster)."""
    n = len(uncertainties)
    limit = n if limit is None else max(0, min(limit, n))
    if len(texts) != n:
        raise ValueError(f"{n} uncertainties but {len(texts)} texts")
    k = random_count(n, random_share)
    drawn = np.random.default_rng(seed).permutation(n)[:k]
    chosen = set(drawn.tolist())
    rest = [i for i in range(n) if i not in chosen]
    valued = [
        Pick(rest[p.index], p.pick, p.value)
        for p in order_by_value([uncertainties[i] for i in rest], [texts[i] for i in rest], limit)
    ]
    randoms = [Pick(int(i), RANDOM, None) for i in drawn]
    order, r, v = [], 0, 0
    for position in range(limit):
        # After position+1 cases, (position+1)·k/n of them are random picks (rounded down).
        if r < k and (r < ((position + 1) * k) // n or v == len(valued)):
            order.append(randoms[r])
            r += 1
        else:
            order.append(valued[v])
            v += 1
    return order

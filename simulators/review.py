"""The demo's reviewers: the review queue of a simulated day gets its decisions.

A real reviewer reads the case and picks its category; the simulated one answers with the
category the simulator planned for the case — the truth it knows. Decisions go through the
same validation and table as a person's (``corrections.validate`` / ``write``), so the next
training run learns from them exactly as it would from people. Everything is a function of
the case: the reviewer (one of a small team) and the time of decision (the next morning,
09:00–17:00) come from a hash of the case id, so re-running a day writes the same rows.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, time, timedelta

import pandas as pd

from civiclake.dispatch import corrections
from civiclake.lake.read import TableMissingError, read_table
from civiclake.settings import Settings
from simulators.governance import cases_reported_on

REVIEWERS = tuple(f"分拨审核员{n:02d}" for n in range(1, 7))
DISPATCH_TABLE = "case_dispatch"


def _hash(case_id: str) -> int:
    return int.from_bytes(hashlib.sha256(case_id.encode()).digest()[:8], "big")


def review_queue(settings: Settings, day: date) -> pd.DataFrame:
    """case_id and predicted_category of the cases reported on ``day`` that went to review."""
    import pyarrow.compute as pc

    try:
        data = read_table(
            settings,
            "silver",
            DISPATCH_TABLE,
            columns=["case_id", "predicted_category"],
            filters=(pc.field("batch_date") == pc.scalar(day)) & (pc.field("dispatch_mode") == "review"),
        )
    except TableMissingError:
        return pd.DataFrame(columns=["case_id", "predicted_category"])
    return data.to_pandas().sort_values("case_id").reset_index(drop=True)


def simulate_reviews(settings: Settings, day: date) -> dict[str, int]:
    """Decides the review queue of ``day``; returns how many were decided and how many changed."""
    queue = review_queue(settings, day)
    truth = {plan.case_id: plan.category for plan in cases_reported_on(day, settings)}
    morning = datetime.combine(day + timedelta(days=1), time(9))
    rows = []
    for case_id in queue["case_id"]:
        if case_id not in truth:
            continue  # not a simulated case: only people decide those
        h = _hash(case_id)
        rows.append(
            {
                "case_id": case_id,
                "corrected_category": truth[case_id],
                "corrected_department": None,
                "reviewed_at": (morning + timedelta(minutes=h % 480)).isoformat(),
                "reviewer": REVIEWERS[h % len(REVIEWERS)],
            }
        )
    frame, errors = corrections.validate(rows, settings)
    if errors:
        raise corrections.CorrectionError("; ".join(errors[:5]))
    corrections.write(frame, settings)
    predicted = dict(zip(queue["case_id"], queue["predicted_category"], strict=True))
    changed = sum(1 for r in rows if predicted.get(r["case_id"]) != r["corrected_category"])
    return {
        "review_queue": len(queue),
        "decided": len(rows),
        "category_changed": changed,
        "not_simulated": len(queue) - len(rows),
    }

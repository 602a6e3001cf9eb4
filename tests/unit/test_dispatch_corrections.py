"""Reviewers' corrections: validation naming line and field, latest decision wins, simulated reviewers."""

from datetime import date, datetime

import pandas as pd
import pyarrow as pa
import pytest
from deltalake import write_deltalake
from typer.testing import CliRunner

from civiclake.cli import app
from civiclake.dispatch import corrections
from civiclake.pii import tokenise
from civiclake.settings import Settings
from simulators.governance import cases_reported_on
from simulators.review import REVIEWERS, simulate_reviews

KEY = "unit-test-key"
DAY = date(2026, 11, 25)


def utc(local: str) -> pd.Timestamp:
    return pd.Timestamp(local).tz_localize(corrections.STORED_AS)


def write_cases(settings, reported: dict[str, str]) -> None:
    table = pa.table(
        {
            "case_id": list(reported),
            "reported_at": pa.array([utc(t) for t in reported.values()], pa.timestamp("us", tz="UTC")),
        }
    )
    write_deltalake(settings.table_path("silver", "governance_cases"), table, mode="overwrite")


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.setenv("CIVICLAKE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CIVICLAKE_PII_KEY", KEY)
    monkeypatch.delenv("CIVICLAKE_LAKE_PATH", raising=False)
    s = Settings(sim_cases_per_day=6)
    write_cases(s, {"C1": "2026-11-25 08:00", "C2": "2026-11-25 09:00", "C3": "2026-11-25 10:00"})
    return s


def test_a_bulk_file_keeps_its_good_rows_and_names_the_bad_ones(settings, tmp_path):
    path = tmp_path / "decisions.csv"
    path.write_text(
        "case_id,corrected_category,corrected_department,reviewed_at,reviewer\n"
        "C1,garbage,,2026-11-25T12:00:00,张三\n"
        "C9,garbage,,2026-11-25T12:00:00,张三\n"
        "C2,rubbish,,2026-11-25T12:00:00,张三\n"
        "C2,noise,环保处,2026-11-25T12:00:00,张三\n"
        "C2,noise,公安分局,25/11/2026,张三\n"
        "C2,noise,,2026-11-25T08:59:00,张三\n"
        "C3,parking,,2026-11-26T09:00:00,\n"
        "C3,parking,交通警察大队,2026-11-26T09:00:00+08:00,李四\n",
        encoding="utf-8",
    )
    outcome = corrections.record_file(settings, path)
    assert outcome.written == 2
    assert outcome.errors == [
        "decisions.csv line 3, field 'case_id': no case 'C9' in silver.cases or silver.governance_cases",
        "decisions.csv line 4, field 'corrected_category': 'rubbish' is not a category; use one of "
        "['environment', 'fire_safety', 'garbage', 'labour', 'manhole', 'noise', 'parking', 'property', "
        "'road_facility', 'street_vending']",
        outcome.errors[2],  # checked below
        "decisions.csv line 6, field 'reviewed_at': '25/11/2026' is not a time like 2026-11-26T09:30:00",
        "decisions.csv line 7, field 'reviewed_at': 2026-11-25 08:59:00 is before the case was reported "
        "(2026-11-25 09:00:00)",
        "decisions.csv line 8, field 'reviewer': missing (who decided is recorded as a token)",
    ]
    assert outcome.errors[2].startswith("decisions.csv line 5, field 'corrected_department': '环保处' is not")
    stored = corrections.read(settings)
    assert stored.to_dict("records") == [
        {
            "case_id": "C1",
            "corrected_category": "garbage",
            "corrected_department": None,
            "reviewed_at": pd.Timestamp("2026-11-25 12:00"),
            "reviewer_token": tokenise("张三", "name", KEY.encode()),
        },
        {
            "case_id": "C3",
            "corrected_category": "parking",
            "corrected_department": "交通警察大队",
            "reviewed_at": pd.Timestamp("2026-11-26 09:00"),
            "reviewer_token": tokenise("李四", "name", KEY.encode()),
        },
    ]
    files = [f for f in (settings.data_dir / "lake" / "silver" / corrections.TABLE).rglob("*") if f.is_file()]
    assert files and not any("张三".encode() in f.read_bytes() for f in files)


def test_a_later_decision_replaces_an_earlier_and_never_the_reverse(settings):
    corrections.record_one(settings, "C1", "garbage", "2026-11-25T12:00:00", "张三")
    corrections.record_one(settings, "C1", "environment", "2026-11-25T15:00:00", "李四")
    corrections.record_one(settings, "C1", "noise", "2026-11-25T13:00:00", "王五")  # older: ignored
    stored = corrections.read(settings)
    assert stored[["case_id", "corrected_category", "reviewed_at"]].to_dict("records") == [
        {
            "case_id": "C1",
            "corrected_category": "environment",
            "reviewed_at": pd.Timestamp("2026-11-25 15:00"),
        }
    ]
    with pytest.raises(corrections.CorrectionError, match="case C2, field 'corrected_category'"):
        corrections.record_one(settings, "C2", "", "2026-11-25T12:00:00", "张三")


def test_the_cli_reports_rejected_rows_and_exits_non_zero(settings, tmp_path):
    path = tmp_path / "d.csv"
    path.write_text(
        "case_id,corrected_category,reviewed_at,reviewer\nC1,garbage,2026-11-25T12:00,张三\nC1,x,2026-11-25T12:00,张三\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["dispatch", "corrections", "--input", str(path)])
    assert result.exit_code == 1
    assert "d.csv line 3, field 'corrected_category'" in result.output
    assert "1 corrections recorded, 1 rows rejected" in " ".join(result.output.split())
    missing = tmp_path / "m.csv"
    missing.write_text("case_id,category\nC1,garbage\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["dispatch", "corrections", "--input", str(missing)])
    assert (
        result.exit_code == 1
        and "missing column(s) ['corrected_category', 'reviewed_at', 'reviewer']"
        in (" ".join(result.output.split()))
    )
    ok = CliRunner().invoke(
        app,
        [
            "dispatch",
            "review",
            "--case-id",
            "C2",
            "--category",
            "noise",
            "--reviewer",
            "张三",
            "--reviewed-at",
            "2026-11-25T10:00",
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert corrections.read(settings).set_index("case_id").loc["C2", "corrected_category"] == "noise"


def test_simulated_reviewers_decide_the_review_queue_with_the_true_category(settings):
    plans = cases_reported_on(DAY, settings)
    assert len(plans) >= 3
    write_cases(settings, {p.case_id: p.reported_at.isoformat() for p in plans})
    wrong = next(c for c in ("noise", "parking") if c != plans[0].category)
    dispatch = pa.table(
        {
            "case_id": [plans[0].case_id, plans[1].case_id, plans[2].case_id, "OTHER-1"],
            "predicted_category": [wrong, plans[1].category, plans[2].category, "noise"],
            "dispatch_mode": ["review", "review", "auto", "review"],
            "batch_date": pa.array([DAY] * 4, pa.date32()),
        }
    )
    write_deltalake(settings.table_path("silver", "case_dispatch"), dispatch, mode="overwrite")
    result = simulate_reviews(settings, DAY)
    assert result == {"review_queue": 3, "decided": 2, "category_changed": 1, "not_simulated": 1}
    first = corrections.read(settings)
    assert first["case_id"].tolist() == sorted([plans[0].case_id, plans[1].case_id])
    assert first.set_index("case_id")["corrected_category"].to_dict() == {
        plans[0].case_id: plans[0].category,
        plans[1].case_id: plans[1].category,
    }
    # Decided the next morning between 09:00 and 17:00, by one of the simulated team.
    assert first["reviewed_at"].between(datetime(2026, 11, 26, 9), datetime(2026, 11, 26, 16, 59)).all()
    tokens = {tokenise(name, "name", KEY.encode()) for name in REVIEWERS}
    assert set(first["reviewer_token"]) <= tokens
    simulate_reviews(settings, DAY)
    pd.testing.assert_frame_equal(corrections.read(settings), first)


def test_an_empty_review_queue_validates_to_nothing(tmp_path):
    import pyarrow as pa
    from deltalake import write_deltalake

    from civiclake.dispatch import corrections
    from civiclake.settings import Settings

    settings = Settings(data_dir=tmp_path, pii_key="k" * 32)
    write_deltalake(
        settings.table_path("silver", "governance_cases"),
        pa.table({"case_id": ["GC1"], "reported_at": pa.array([0], pa.timestamp("us", tz="UTC"))}),
    )
    frame, errors = corrections.validate([], settings)
    assert len(frame) == 0 and errors == []

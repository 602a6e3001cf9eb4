"""The review queue: which cases wait, what a reviewer sees of each, and its card for Airflow.

A small lake written with delta-rs (the columns the queue reads, as the scoring job and
ingestion store them): a day's case_dispatch rows in every dispatch mode, one case already
decided, suggestions in the scorer's JSON, and cases in both case tables.
"""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from deltalake import write_deltalake
from typer.testing import CliRunner

from civiclake.catalogue import CATEGORY_CODES
from civiclake.cli import app
from civiclake.dispatch import corrections
from civiclake.review.order import RANDOM, VALUE, order_queue, random_count, uncertainty
from civiclake.review.queue import ReviewQueueError, markdown_text, parse_suggestions, review_queue
from civiclake.settings import Settings

KEY = "unit-test-key"
DAY = date(2026, 11, 25)
LONGHUA = ("440309003", "440309003001")  # 龙华街道 · 龙华社区
GUANLAN = ("440309006", "440309006001")  # 观澜街道 · 观澜社区
TS = pa.timestamp("us", tz="UTC")


def utc(local: str) -> pd.Timestamp:
    """A wall-clock time as the lake keeps it (the UTC instant of the same digits)."""
    return pd.Timestamp(local).tz_localize("UTC")


def governance_case(case_id, text, reported, place=LONGHUA, channel="hotline_12345") -> dict:
    street, community = place
    return {
        "case_id": case_id,
        "channel": channel,
        "description": text,
        "category": "noise",
        "street_code": street,
        "community_code": community,
        "reported_at": utc(reported),
    }


def dispatch_row(case_id, mode, predicted, confidence, suggestions=None, day=DAY) -> dict:
    return {
        "case_id": case_id,
        "predicted_category": predicted,
        "confidence": confidence,
        "decision": "review" if mode == "review" else "auto",
        "dispatch_mode": mode,
        "batch_date": day,
        "model_version": "v20261125",
        "suggestions": None if suggestions is None else json.dumps(suggestions),
    }


def write_table(settings: Settings, name: str, rows: list[dict], schema: pa.Schema) -> None:
    table = pa.Table.from_pylist(rows, schema=schema)
    write_deltalake(settings.table_path("silver", name), table, mode="overwrite")


GOVERNANCE_SCHEMA = pa.schema(
    [
        ("case_id", pa.string()),
        ("channel", pa.string()),
        ("description", pa.string()),
        ("category", pa.string()),
        ("street_code", pa.string()),
        ("community_code", pa.string()),
        ("reported_at", TS),
    ]
)
DISPATCH_SCHEMA = pa.schema(
    [
        ("case_id", pa.string()),
        ("predicted_category", pa.string()),
        ("confidence", pa.float64()),
        ("decision", pa.string()),
        ("dispatch_mode", pa.string()),
        ("batch_date", pa.date32()),
        ("model_version", pa.string()),
        ("suggestions", pa.string()),
    ]
)


def write_review_lake(settings: Settings) -> None:
    """Cases of 2026-11-25: R1–R3 wait for review, R4 was decided, A1 auto, P1 a duplicate,
    R0 went to review the day before."""
    write_table(
        settings,
        "governance_cases",
        [
            governance_case("R1", "楼下广场舞音响太吵，晚上十点还在跳", "2026-11-25 21:40"),
            governance_case("R2", "小区门口有车堵住消防通道", "2026-11-25 08:15", GUANLAN, "find_secretary"),
            governance_case("R3", "路边井盖松动", "2026-11-25 12:00"),
            governance_case("R4", "垃圾两天没人收", "2026-11-25 07:00"),
            governance_case("A1", "噪音", "2026-11-25 09:00"),
            governance_case("P1", "噪音", "2026-11-25 09:30"),
            governance_case("R0", "昨天的案件", "2026-11-24 10:00"),
        ],
        GOVERNANCE_SCHEMA,
    )
    # The scorer writes every category's probability; the order in the JSON is not the ranking.
    r1 = [
        {"category": "environment", "probability": 0.12},
        {"category": "noise", "probability": 0.41},
        {"category": "street_vending", "probability": 0.05},
        {"category": "property", "probability": 0.33},
    ]
    r2 = [{"category": "parking", "probability": 0.48}, {"category": "fire_safety", "probability": 0.45}]
    write_table(
        settings,
        "case_dispatch",
        [
            dispatch_row("R1", "review", "noise", 0.41, r1),
            dispatch_row("R2", "review", "parking", 0.48, r2),
            dispatch_row("R3", "review", "manhole", 0.52),  # scored before suggestions existed
            dispatch_row("R4", "review", "garbage", 0.50, [{"category": "garbage", "probability": 0.5}]),
            dispatch_row("A1", "auto", "noise", 0.97, [{"category": "noise", "probability": 0.97}]),
            dispatch_row("P1", "duplicate", "noise", 0.30, [{"category": "noise", "probability": 0.3}]),
            dispatch_row("R0", "review", "noise", 0.40, None, day=date(2026, 11, 24)),
        ],
        DISPATCH_SCHEMA,
    )
    corrections.record_one(settings, "R4", "garbage", "2026-11-25T10:00:00", "审核员甲")


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.setenv("CIVICLAKE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CIVICLAKE_PII_KEY", KEY)
    monkeypatch.delenv("CIVICLAKE_LAKE_PATH", raising=False)
    s = Settings()
    write_review_lake(s)
    return s


def test_only_the_days_undecided_review_cases_wait_most_uncertain_first(settings):
    queue = review_queue(settings, DAY, random_share=0.0)
    # R4 is decided, A1 went out automatically, P1 is a duplicate, R0 is the day before.
    # Margins between the top two: R2 0.48-0.45, R3 0.52-(1-0.52), R1 0.41-0.33.
    assert [c.case_id for c in queue] == ["R2", "R3", "R1"]
    assert [c.pick for c in queue] == ["value"] * 3
    assert queue[0].value == pytest.approx(0.97)
    assert [c.case_id for c in review_queue(settings, DAY, limit=2, random_share=0.0)] == ["R2", "R3"]
    assert [c.case_id for c in review_queue(settings, date(2026, 11, 24))] == ["R0"]
    assert review_queue(settings, date(2026, 11, 26)) == []
    # A decision recorded now takes the case off the queue.
    corrections.record_one(settings, "R3", "manhole", "2026-11-25T13:00:00", "审核员乙")
    assert [c.case_id for c in review_queue(settings, DAY, random_share=0.0)] == ["R2", "R1"]


def test_the_random_share_is_drawn_by_the_days_seed_and_marked(settings):
    # The setting's 20% of three cases is one random pick (rounded), the same on every read.
    queue = review_queue(settings, DAY)
    assert sorted(c.case_id for c in queue) == ["R1", "R2", "R3"]
    assert [c.pick for c in queue].count("random") == 1
    assert [(c.case_id, c.pick) for c in queue] == [(c.case_id, c.pick) for c in review_queue(settings, DAY)]
    random_pick = next(c for c in queue if c.pick == "random")
    assert random_pick.value is None and queue.index(random_pick) == 2  # spread: after 2 of 3
    everything = review_queue(settings, DAY, random_share=1.0)
    assert {c.pick for c in everything} == {"random"} and len(everything) == 3
    with pytest.raises(ReviewQueueError, match="between 0 and 1, got 1.5"):
        review_queue(settings, DAY, random_share=1.5)


def test_top_suggestions_most_probable_first_and_the_options_follow_them(settings):
    r1 = {c.case_id: c for c in review_queue(settings, DAY)}["R1"]
    assert [(s.category, s.name, s.probability) for s in r1.suggestions] == [
        ("noise", "噪音扰民", 0.41),
        ("property", "物业纠纷", 0.33),
        ("environment", "市容环境", 0.12),
    ]
    # Every category once: the top three first with their probabilities, the rest in the
    # catalogue's order (street_vending's 5% is not among the top three).
    assert r1.options[:4] == [
        "噪音扰民 noise · 41%",
        "物业纠纷 property · 33%",
        "市容环境 environment · 12%",
        "占道经营 street_vending",
    ]
    assert sorted(r1.option_codes.values()) == sorted(CATEGORY_CODES)
    assert list(r1.option_codes) == r1.options
    assert [r1.option_codes[o] for o in r1.options[:3]] == ["noise", "property", "environment"]
    assert (
        "| 噪音扰民 | noise | 41% |\n| 物业纠纷 | property | 33% |\n| 市容环境 | environment | 12% |"
        in r1.body
    )


def test_a_case_scored_before_suggestions_shows_its_prediction(settings):
    r3 = {c.case_id: c for c in review_queue(settings, DAY)}["R3"]
    assert [(s.category, s.probability) for s in r3.suggestions] == [("manhole", 0.52)]
    assert r3.options[0] == "井盖问题 manhole · 52%"
    assert len(r3.options) == len(CATEGORY_CODES)


def test_without_a_suggestions_column_the_prediction_is_shown(settings):
    rows = pd.DataFrame([dispatch_row("R9", "review", "parking", 0.37)]).drop(columns="suggestions")
    write_deltalake(
        settings.table_path("silver", "case_dispatch"), rows, mode="overwrite", schema_mode="overwrite"
    )
    (case,) = review_queue(settings, DAY)
    assert case.case_id == "R9" and case.text is None  # R9 is in no case table
    assert [(s.category, s.probability) for s in case.suggestions] == [("parking", 0.37)]
    assert "> （案件原文缺失）" in case.body and "- **地点**：未知地点" in case.body


def test_place_channel_and_text_as_the_reviewer_reads_them(settings):
    r2 = review_queue(settings, DAY, random_share=0.0)[0]
    assert (r2.street_code, r2.street_name, r2.community_code, r2.community_name) == (
        "440309006",
        "观澜街道",
        "440309006001",
        "观澜社区",
    )
    assert (r2.channel, r2.channel_name) == ("find_secretary", "找书记")
    assert r2.text == "小区门口有车堵住消防通道"
    assert r2.subject == "分类审核 R2：观澜街道 · 观澜社区，找书记"
    assert "- **地点**：观澜街道 · 观澜社区（440309006 / 440309006001）" in r2.body
    assert "- **渠道**：找书记（find_secretary）" in r2.body
    assert "- **上报时间**：2026-11-25T08:15:00" in r2.body
    assert "> 小区门口有车堵住消防通道" in r2.body


def test_the_unified_case_table_is_read_first(settings):
    # silver.cases (every channel) holds R1 with the city system's channel and place; R2 and
    # R3 are only in governance_cases (a lake part-way through the change).
    write_table(
        settings,
        "cases",
        [
            {
                "case_id": "R1",
                "channel": "city_patrol",
                "description": "巡查发现：广场舞噪音",
                "street_code": GUANLAN[0],
                "community_code": GUANLAN[1],
                "reported_at": utc("2026-11-25 21:40"),
            }
        ],
        pa.schema(
            [
                ("case_id", pa.string()),
                ("channel", pa.string()),
                ("description", pa.string()),
                ("street_code", pa.string()),
                ("community_code", pa.string()),
                ("reported_at", TS),
            ]
        ),
    )
    queue = {c.case_id: c for c in review_queue(settings, DAY)}
    assert (queue["R1"].text, queue["R1"].channel_name, queue["R1"].community_name) == (
        "巡查发现：广场舞噪音",
        "城管巡查",
        "观澜社区",
    )
    assert queue["R2"].text == "小区门口有车堵住消防通道"


def test_free_text_cannot_inject_markdown():
    assert markdown_text("看[这里](http://x.example)![img](a.png) <b>急</b> # 标题") == (
        r"看\[这里\]\(http://x\.example\)\!\[img\]\(a\.png\) \<b\>急\</b\> \# 标题"
    )


def test_bad_suggestions_name_the_case_and_field():
    with pytest.raises(
        ReviewQueueError, match=r"silver.case_dispatch case X1, field 'suggestions': not JSON"
    ):
        parse_suggestions("{noise", "X1")
    with pytest.raises(ReviewQueueError, match="item 1 is {'category': 'noise'}; expected"):
        parse_suggestions('[{"category": "parking", "probability": 0.5}, {"category": "noise"}]', "X1")
    with pytest.raises(ReviewQueueError, match="expected a JSON list, got dict"):
        parse_suggestions('{"category": "noise"}', "X1")


def test_the_cli_prints_the_queue_as_json_and_names_a_bad_row(settings, monkeypatch):
    monkeypatch.setenv("CIVICLAKE_REVIEW_RANDOM_SHARE", "0")
    result = CliRunner().invoke(app, ["review", "queue", "--date", "2026-11-25", "--json", "--limit", "2"])
    assert result.exit_code == 0, result.output
    cases = json.loads(result.stdout)
    assert [(c["case_id"], c["pick"]) for c in cases] == [("R2", "value"), ("R3", "value")]
    assert cases[0]["suggestions"][0] == {"category": "parking", "name": "违章停车", "probability": 0.48}
    assert cases[0]["option_codes"][cases[0]["options"][1]] == "fire_safety"
    assert set(cases[0]) >= {"subject", "body", "options", "option_codes", "text", "channel_name"}
    table = CliRunner().invoke(app, ["review", "queue", "--date", "2026-11-25"])
    assert table.exit_code == 0 and "3 cases waiting" in table.output

    write_table(settings, "case_dispatch", [dispatch_row("R1", "review", "noise", 0.4)], DISPATCH_SCHEMA)
    write_deltalake(
        settings.table_path("silver", "case_dispatch"),
        pa.Table.from_pylist(
            [{**dispatch_row("R2", "review", "noise", 0.4), "suggestions": "[oops"}], DISPATCH_SCHEMA
        ),
        mode="append",
    )
    bad = CliRunner().invoke(app, ["review", "queue", "--date", "2026-11-25", "--json"])
    assert bad.exit_code == 1
    assert "silver.case_dispatch case R2, field 'suggestions': not JSON" in " ".join(bad.output.split())
    wrong = CliRunner().invoke(app, ["review", "queue", "--date", "25/11/2026"])
    assert wrong.exit_code != 0 and "--date must look like 2026-11-25" in wrong.output


def test_an_empty_lake_has_an_empty_queue(tmp_path, monkeypatch):
    monkeypatch.setenv("CIVICLAKE_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.delenv("CIVICLAKE_LAKE_PATH", raising=False)
    assert review_queue(Settings(), DAY) == []
    result = CliRunner().invoke(app, ["review", "queue", "--date", "2026-11-25", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout) == []


# The order itself (civiclake.review.order), attacked on hand-made queues.


def unrelated(n: int) -> list[str]:
    """Texts that share no character: the diversity term leaves their order to uncertainty."""
    return [chr(0x4E00 + 2 * i) + chr(0x4E01 + 2 * i) for i in range(n)]


DISTINCT = [
    "井盖松动",
    "广场舞太吵",
    "垃圾没人收",
    "路灯不亮",
    "占道经营",
    "违章停车",
    "噪音扰民",
    "楼道堆物",
]


def test_value_picks_go_by_uncertainty():
    picks = order_queue([0.1, 0.9, 0.5, None, 0.7], DISTINCT[:5], random_share=0.0, seed=1)
    assert [p.index for p in picks] == [1, 4, 2, 0, 3]  # the case without probabilities last
    assert [p.pick for p in picks] == [VALUE] * 5
    assert picks[0].value == pytest.approx(0.9) and picks[-1].value is None
    values = [p.value for p in picks[:4]]
    assert values == sorted(values, reverse=True)


def test_uncertainty_is_one_minus_the_margin_of_the_top_two():
    assert uncertainty([0.5, 0.3, 0.2]) == pytest.approx(0.8)
    assert uncertainty([0.2, 0.5]) == pytest.approx(0.7)  # order of the input does not matter
    assert uncertainty([0.9]) == pytest.approx(0.2)  # the rest, 0.1, counts as the second
    assert uncertainty([0.45, 0.45]) == pytest.approx(1.0)
    assert uncertainty([None]) is None and uncertainty([]) is None


def test_a_near_identical_text_sinks_below_a_new_one():
    texts = [
        "小区门口广场舞音响太吵晚上十点还在跳",
        "小区门口广场舞音响太吵晚上十点还在跳！",
        "路边井盖松动很危险",
    ]
    picks = order_queue([0.95, 0.94, 0.80], texts, random_share=0.0, seed=1)
    # By uncertainty alone the repeat would come second; once its twin is picked it is worth little.
    assert [p.index for p in picks] == [0, 2, 1]
    assert picks[2].value < 0.1
    assert order_queue([0.95, 0.94, 0.80], texts, random_share=0.0, seed=1, limit=2) == picks[:2]


def test_ties_keep_the_input_order():
    picks = order_queue([0.6] * 4, ["甲乙", "丙丁", "戊己", "庚辛"], random_share=0.0, seed=1)
    assert [p.index for p in picks] == [0, 1, 2, 3]
    none = order_queue([None, None, None], ["a", "b", "c"], random_share=0.0, seed=1)
    assert [p.index for p in none] == [0, 1, 2]


def test_the_random_share_is_honoured_spread_and_reproducible():
    n = 50
    uncertainties = [i / n for i in range(n)]
    texts = unrelated(n)
    picks = order_queue(uncertainties, texts, random_share=0.2, seed=[7, 1])
    assert sorted(p.index for p in picks) == list(range(n))  # every case exactly once
    kinds = [p.pick for p in picks]
    assert kinds.count(RANDOM) == 10 == random_count(n, 0.2)
    # In every prefix of the queue, a fifth (rounded down) are random picks.
    for m in range(1, n + 1):
        assert kinds[:m].count(RANDOM) == m // 5
    head = order_queue(uncertainties, texts, random_share=0.2, seed=[7, 1], limit=12)
    assert head == picks[:12]
    again = order_queue(uncertainties, texts, random_share=0.2, seed=[7, 1])
    assert [(p.index, p.pick) for p in again] == [(p.index, p.pick) for p in picks]
    other = order_queue(uncertainties, texts, random_share=0.2, seed=[7, 2])
    assert {p.index for p in other if p.pick == RANDOM} != {p.index for p in picks if p.pick == RANDOM}
    # The value picks among the rest still go by uncertainty.
    valued = [p.index for p in picks if p.pick == VALUE]
    assert valued == sorted(valued, reverse=True)


def test_random_picks_are_not_biased_towards_uncertain_cases():
    n = 40
    uncertainties = [i / n for i in range(n)]
    texts = unrelated(n)
    chosen = [
        uncertainties[p.index]
        for seed in range(300)
        for p in order_queue(uncertainties, texts, random_share=0.25, seed=seed)
        if p.pick == RANDOM
    ]
    assert len(chosen) == 300 * 10
    assert np.mean(chosen) == pytest.approx(np.mean(uncertainties), abs=0.02)


def test_empty_and_degenerate_queues():
    assert order_queue([], [], random_share=0.2, seed=1) == []
    assert [p.pick for p in order_queue([0.5], ["x"], random_share=0.2, seed=1)] == [VALUE]
    assert [p.pick for p in order_queue([0.5, 0.4], [None, ""], random_share=1.0, seed=1)] == [RANDOM] * 2
    assert [p.index for p in order_queue([0.5, 0.9], [None, ""], random_share=0.0, seed=1)] == [1, 0]
    with pytest.raises(ValueError, match="between 0 and 1"):
        order_queue([0.5], ["x"], random_share=-0.1, seed=1)
    with pytest.raises(ValueError, match="1 uncertainties but 2 texts"):
        order_queue([0.5], ["x", "y"], random_share=0.0, seed=1)

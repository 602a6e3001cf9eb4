"""The review queue of a day: the cases scored that day that went to review and that no
reviewer has decided yet, each with what a person needs to decide it.

A case waits when its row in silver ``case_dispatch`` has ``dispatch_mode = 'review'``
(the classifier's confidence was below the model's threshold, and it is not a duplicate)
and silver ``case_label_corrections`` holds no decision on it. For each the queue shows:

* the text the resident or worker wrote — from the unified silver ``cases`` where the lake
  has it, else from silver ``governance_cases``;
* the model's top suggestions with their probabilities — the ``suggestions`` column of
  ``case_dispatch`` (a JSON list of ``{"category", "probability"}``); rows scored before
  that column existed show the predicted category with its confidence;
* the place (street and community, by name) and the channel.

The queue is read with delta-rs (no JVM) and ordered by what a reviewer's answer teaches the
model (:mod:`civiclake.review.order`): the most uncertain cases first, near-identical texts
spread out, with the setting ``review_random_share`` of the cases drawn at random (seeded by
the platform's seed and the day) and marked ``pick = "random"``, so that the accuracy measured
on reviewed random picks stays unbiased. Ties go to the oldest report: the on-time clock of a
case runs from its report. Each case also carries its *card* — subject, Markdown body and
the options (every category, the suggestions first, in Chinese with their codes) — so the
Airflow DAG that opens the queue needs nothing from this package.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import date

import pandas as pd
import pyarrow.compute as pc

from civiclake.catalogue import CATEGORIES, CATEGORY_BY_CODE, FUNNEL_CHANNEL_NAMES
from civiclake.dispatch import corrections
from civiclake.geography import Geography, load_geography
from civiclake.lake.read import table_or_none, wall_clock
from civiclake.review.order import order_queue, uncertainty
from civiclake.settings import Settings

DISPATCH_TABLE = "case_dispatch"
# The unified case table of every channel, and the governance system's own (read where
# the unified one lacks a case, e.g. a lake built before it existed).
CASE_TABLES = ("cases", "governance_cases")
CASE_COLUMNS = ("case_id", "channel", "description", "street_code", "community_code", "reported_at")
# How many of the model's suggestions a reviewer is shown with their probabilities.
TOP_SUGGESTIONS = 3


class ReviewQueueError(ValueError):
    """The lake holds something the queue cannot show; the message names the table, case and field."""


@dataclass(frozen=True)
class Suggestion:
    category: str
    name: str  # the category's Chinese name (the code where the catalogue lacks it)
    probability: float | None  # None: a camera event, whose class comes with no text confidence


@dataclass(frozen=True)
class ReviewCase:
    case_id: str
    batch_date: str
    reported_at: str | None  # the district's wall clock, YYYY-MM-DDTHH:MM:SS
    channel: str | None
    channel_name: str | None
    text: str | None
    street_code: str | None
    street_name: str | None
    community_code: str | None
    community_name: str | None
    predicted_category: str | None
    confidence: float | None
    model_version: str | None
    suggestions: list[Suggestion]
    # "value" (ordered by what the answer teaches the model) or "random" (drawn at random,
    # for an unbiased estimate of accuracy), and the value when picked (None: random, or no
    # probabilities to judge by).
    pick: str
    value: float | None
    # What a human-in-the-loop task shows: options are labels; option_codes maps each
    # label back to its category code.
    subject: str
    body: str
    options: list[str]
    option_codes: dict[str, str]

    def to_json(self) -> dict:
        return asdict(self)


def category_name(code: str) -> str:
    category = CATEGORY_BY_CODE.get(code)
    return category.name if category else code


def option_label(code: str, probability: float | None = None) -> str:
    """A category as a reviewer picks it: Chinese name, code, and the model's probability
    where the model suggested it (e.g. ``噪音扰民 noise · 41%``)."""
    label = f"{category_name(code)} {code}"
    return label if probability is None else f"{label} · {probability:.0%}"


def parse_suggestions(raw: str | None, case_id: str) -> list[tuple[str, float]]:
    """``(category, probability)`` pairs of a ``suggestions`` value, most probable first."""
    where = f"silver.{DISPATCH_TABLE} case {case_id}, field 'suggestions'"
    try:
        items = json.loads(raw)
    except (TypeError, json.JSONDecodeError):
        raise ReviewQueueError(f"{where}: not JSON ({raw!r:.80})") from None
    if not isinstance(items, list):
        raise ReviewQueueError(f"{where}: expected a JSON list, got {type(items).__name__}")
    pairs = []
    for position, item in enumerate(items):
        try:
            pairs.append((str(item["category"]), float(item["probability"])))
        except (TypeError, KeyError, ValueError):
            raise ReviewQueueError(
                f"{where}: item {position} is {item!r}; expected "
                '{"category": "<code>", "probability": <0..1>}'
            ) from None
    # Stable: equal probabilities keep the scorer's order.
    return sorted(pairs, key=lambda pair: -pair[1])


def _waiting(settings: Settings, day: date) -> pd.DataFrame:
    """case_dispatch rows of ``day`` in review that no reviewer has decided."""
    table = table_or_none(settings, "silver", DISPATCH_TABLE)
    if table is None:
        return pd.DataFrame()
    present = {f.name for f in table.schema().fields}
    wanted = ["case_id", "predicted_category", "confidence", "model_version", "batch_date"]
    columns = [c for c in wanted if c in present] + (["suggestions"] if "suggestions" in present else [])
    rows = table.to_pyarrow_table(
        columns=columns,
        filters=(pc.field("batch_date") == pc.scalar(day)) & (pc.field("dispatch_mode") == "review"),
    ).to_pandas()
    for column in (*wanted, "suggestions"):
        if column not in rows:
            rows[column] = None
    decided = set(corrections.read(settings)["case_id"])
    return rows[~rows["case_id"].isin(decided)]


def _case_rows(settings: Settings, case_ids: list[str]) -> pd.DataFrame:
    """The cases' text, channel, place and report time; the unified table first."""
    found = []
    for name in CASE_TABLES:
        table = table_or_none(settings, "silver", name)
        if table is None:
            continue
        present = {f.name for f in table.schema().fields}
        columns = [c for c in CASE_COLUMNS if c in present]
        rows = table.to_pyarrow_table(columns=columns, filters=pc.field("case_id").isin(case_ids)).to_pandas()
        for column in CASE_COLUMNS:
            if column not in rows:
                rows[column] = None
        found.append(rows[list(CASE_COLUMNS)])
    if not found:
        return pd.DataFrame(columns=CASE_COLUMNS)
    cases = pd.concat(found, ignore_index=True).drop_duplicates("case_id", keep="first")
    cases["reported_at"] = wall_clock(cases["reported_at"])
    return cases.set_index("case_id")


def _text_or_none(value) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")


def markdown_text(text: str) -> str:
    """Free text shown as itself in Markdown: no link, image, heading or HTML a writer slipped in."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def _card(case: dict, suggestions: list[Suggestion]) -> tuple[str, str, list[str], dict[str, str]]:
    place = " · ".join(n for n in (case["street_name"], case["community_name"]) if n) or "未知地点"
    channel = case["channel_name"] or "未知渠道"
    subject = f"分类审核 {case['case_id']}：{place}，{channel}"
    lines = ["**诉求内容**", ""]
    text = case["text"]
    lines += [f"> {markdown_text(line)}" for line in text.splitlines()] if text else ["> （案件原文缺失）"]
    lines += ["", "**模型建议**", "", "| 类别 | 代码 | 概率 |", "| --- | --- | --- |"]
    lines += [
        f"| {s.name} | {s.category} | {'—' if s.probability is None else f'{s.probability:.0%}'} |"
        for s in suggestions
    ]
    codes = [c for c in (case["street_code"], case["community_code"]) if c]
    lines += [
        "",
        f"- **地点**：{place}" + (f"（{' / '.join(codes)}）" if codes else ""),
        f"- **渠道**：{channel}" + (f"（{case['channel']}）" if case["channel"] else ""),
        f"- **上报时间**：{case['reported_at'] or '未知'}",
        f"- **评分批次**：{case['batch_date']}"
        + (f"，模型 {case['model_version']}" if case["model_version"] else ""),
        "",
        "选择正确的类别。责任部门可不填：留空时按分拨规则派发。",
    ]
    suggested = {s.category: s.probability for s in suggestions}
    order = [s.category for s in suggestions] + [c.code for c in CATEGORIES if c.code not in suggested]
    labels = {option_label(code, suggested.get(code)): code for code in order}
    return subject, "\n".join(lines), list(labels), labels


def _pairs(row: dict) -> list[tuple[str, float | None]]:
    """The model's (category, probability) pairs of a waiting row, most probable first."""
    if row["suggestions"] is not None and not pd.isna(row["suggestions"]):
        return parse_suggestions(row["suggestions"], row["case_id"])
    if row["predicted_category"] is not None:
        # A camera event awaiting review has its detector's class, with no text confidence.
        confidence = None if pd.isna(row["confidence"]) else float(row["confidence"])
        return [(row["predicted_category"], confidence)]
    return []


def queue_seed(settings: Settings, day: date) -> list[int]:
    """The seed of a day's random picks: the same day draws the same cases."""
    return [int(settings.seed), day.toordinal()]


def review_queue(
    settings: Settings,
    day: date,
    *,
    limit: int | None = None,
    geography: Geography | None = None,
    random_share: float | None = None,
) -> list[ReviewCase]:
    """The cases of ``day`` waiting for a reviewer, in the order of :mod:`civiclake.review.order`
    (``random_share``: the setting ``review_random_share`` unless given)."""
    geography = geography or load_geography()
    share = settings.review_random_share if random_share is None else random_share
    if not 0.0 <= share <= 1.0:
        raise ReviewQueueError(f"CIVICLAKE_REVIEW_RANDOM_SHARE must be between 0 and 1, got {share}")
    waiting = _waiting(settings, day)
    if waiting.empty:
        return []
    cases = _case_rows(settings, sorted(waiting["case_id"]))
    waiting = waiting.assign(
        _reported=[cases["reported_at"].get(c) if c in cases.index else pd.NaT for c in waiting["case_id"]]
    ).sort_values(["_reported", "case_id"], na_position="last", kind="stable")
    rows = waiting.to_dict("records")
    all_pairs = [_pairs(row) for row in rows]
    texts = [
        _text_or_none(cases.loc[row["case_id"], "description"]) if row["case_id"] in cases.index else None
        for row in rows
    ]
    picks = order_queue(
        [uncertainty([p for _, p in pairs]) for pairs in all_pairs],
        texts,
        random_share=share,
        seed=queue_seed(settings, day),
        limit=limit,
    )
    queue = []
    for chosen in picks:
        row, pairs = rows[chosen.index], all_pairs[chosen.index]
        case_id = row["case_id"]
        known = case_id in cases.index
        source = cases.loc[case_id] if known else None
        suggestions = [
            Suggestion(c, category_name(c), None if p is None else round(p, 4))
            for c, p in pairs[:TOP_SUGGESTIONS]
        ]
        street = _text_or_none(source["street_code"]) if known else None
        community = _text_or_none(source["community_code"]) if known else None
        channel = _text_or_none(source["channel"]) if known else None
        reported = source["reported_at"] if known else None
        case = {
            "case_id": case_id,
            "batch_date": row["batch_date"].isoformat(),
            "reported_at": None if reported is None or pd.isna(reported) else reported.isoformat(),
            "channel": channel,
            "channel_name": FUNNEL_CHANNEL_NAMES.get(channel, channel) if channel else None,
            "text": _text_or_none(source["description"]) if known else None,
            "street_code": street,
            "street_name": geography.streets[street].name if street in geography.streets else None,
            "community_code": community,
            "community_name": (
                geography.communities[community].name if community in geography.communities else None
            ),
            "predicted_category": row["predicted_category"],
            "confidence": None if pd.isna(row["confidence"]) else float(row["confidence"]),
            "model_version": _text_or_none(row["model_version"]),
        }
        subject, body, options, option_codes = _card(case, suggestions)
        queue.append(
            ReviewCase(
                **case,
                suggestions=suggestions,
                pick=chosen.pick,
                value=None if chosen.value is None else round(chosen.value, 4),
                subject=subject,
                body=body,
                options=options,
                option_codes=option_codes,
            )
        )
    return queue


def queue_as_json(queue: list[ReviewCase]) -> str:
    return json.dumps([case.to_json() for case in queue], ensure_ascii=False)

"""How the brief writes each headline number and its changes (the same text in the e-mail
body and on the image)."""

from __future__ import annotations

from dataclasses import dataclass

LEVEL_LABELS = {"district": "区", "street": "街道", "community": "社区"}


@dataclass(frozen=True)
class Headline:
    column: str
    label: str
    kind: str  # count, rate (a share shown in %), or decimal
    higher_is_better: bool | None  # None: neither (more cases reported is not good or bad)


CASE_HEADLINES = (
    Headline("cases_reported", "新增案件", "count", None),
    Headline("closures", "办结", "count", True),
    Headline("backlog_open", "积压", "count", False),
    Headline("overdue_open", "超期未结", "count", False),
    Headline("response_rate", "按时响应率", "rate", True),
    Headline("on_time_rate", "按期办结率", "rate", True),
    Headline("satisfaction_avg", "满意度", "decimal", True),
    Headline("score", "综合评分", "decimal", True),
)
# One headline each from the other source families' marts; shown when the published mart
# has the column (older marts files do not).
FAMILY_HEADLINES = (
    Headline("manhole_cases_open_unknown_owner", "权属不明井盖案件", "count", False),
    Headline("care_visits_overdue", "关爱走访逾期户数", "count", False),
    Headline("coupon_redemption_rate", "福利券核销率", "rate", True),
    Headline("volunteer_hours", "志愿服务时长（小时）", "decimal", True),
)
HEADLINES = CASE_HEADLINES + FAMILY_HEADLINES
NO_VALUE = "—"


def headlines_of(row: dict) -> list[Headline]:
    """The headlines the row carries, in the brief's order."""
    return [h for h in HEADLINES if h.column in row]


def value_text(value, kind: str) -> str:
    if value is None:
        return NO_VALUE
    if kind == "rate":
        return f"{value:.1%}"
    if kind == "decimal":
        return f"{value:.2f}"
    return f"{int(value):,}"


def change_text(change, kind: str) -> str:
    if change is None:
        return NO_VALUE
    if kind == "rate":
        return f"{change * 100:+.1f}个百分点"
    if kind == "decimal":
        return f"{change:+.2f}"
    return f"{int(change):+,}"


def change_tone(change, headline: Headline) -> str:
    """better, worse or neutral: the colour of a change on the image."""
    if change is None or change == 0 or headline.higher_is_better is None:
        return "neutral"
    return "better" if (change > 0) == headline.higher_is_better else "worse"


def rank_text(row: dict) -> str:
    level = LEVEL_LABELS[row["level"]]
    if row.get("rank_in_level") is None:
        return f"今日未参与排名（案件数低于排名最低数量，参与排名{level}数 {row.get('areas_ranked') or 0}）"
    return f"第 {row['rank_in_level']} 名（共 {row['areas_ranked']} 个{level}参与排名）"

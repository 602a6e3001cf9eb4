"""The brief as an image for a phone: the area's eight headline numbers as cards, each with
its change from the day and the week before.

Drawn with matplotlib's object API (no pyplot, no global state besides the font
registry) in a CJK font found by file path: Debian's fonts-noto-cjk, installed by
``infra/setup.sh``.
"""

from __future__ import annotations

import io
import json
import math
from datetime import date
from functools import cache
from pathlib import Path

from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from civiclake.brief.compose import day_text
from civiclake.brief.numbers import (
    LEVEL_LABELS,
    change_text,
    change_tone,
    headlines_of,
    rank_text,
    value_text,
)
from civiclake.brief.recipients import BriefError

FONT_DIR = Path("/usr/share/fonts/opentype/noto")
FONT_FILES = (FONT_DIR / "NotoSansCJK-Regular.ttc", FONT_DIR / "NotoSansCJK-Bold.ttc")
# The .ttc files hold Japanese, Korean and Chinese faces; the simplified-Chinese face draws
# the characters as readers in Shenzhen expect them.
FONT_FAMILY = "Noto Sans CJK SC"
TONE_COLOURS = {"better": "#1a7f37", "worse": "#c62828", "neutral": "#555555"}
DPI = 150
# Page geometry in inches: a phone-width column of cards, two abreast.
WIDTH_IN, MARGIN_IN, HEADER_IN, CARD_IN, GAP_IN, FOOTER_IN = 7.2, 0.43, 1.25, 2.05, 0.17, 0.95
COLUMNS = 2


class FontMissingError(BriefError):
    """The CJK font is not installed: the image would show boxes instead of characters."""


@cache
def cjk_font_family() -> str:
    """Register the CJK font files with matplotlib and return the family to draw with."""
    missing = [str(path) for path in FONT_FILES if not path.is_file()]
    if missing:
        raise FontMissingError(
            f"CJK font not found at {', '.join(missing)}: the brief image needs Chinese glyphs. "
            "Install the Debian package fonts-noto-cjk (`apt-get install fonts-noto-cjk`, "
            "or `bash infra/setup.sh core`)."
        )
    for path in FONT_FILES:
        font_manager.fontManager.addfont(str(path))
    return FONT_FAMILY


class _Layout:
    """Positions in inches from the top-left corner, turned into figure fractions: the
    image grows with the number of cards instead of squeezing them."""

    def __init__(self, cards: int):
        self.rows = math.ceil(cards / COLUMNS)
        self.height_in = HEADER_IN + self.rows * CARD_IN + (self.rows - 1) * GAP_IN + FOOTER_IN

    def x(self, inches: float) -> float:
        return inches / WIDTH_IN

    def y(self, inches_from_top: float) -> float:
        return 1 - inches_from_top / self.height_in

    def card_origin(self, index: int) -> tuple[float, float]:
        """Left and top of a card, in inches."""
        col, line = index % COLUMNS, index // COLUMNS
        card_w = (WIDTH_IN - 2 * MARGIN_IN - (COLUMNS - 1) * GAP_IN) / COLUMNS
        return MARGIN_IN + col * (card_w + GAP_IN), HEADER_IN + line * (CARD_IN + GAP_IN)

    @property
    def card_width_in(self) -> float:
        return (WIDTH_IN - 2 * MARGIN_IN - (COLUMNS - 1) * GAP_IN) / COLUMNS


def _card(fig: Figure, layout: _Layout, index: int, row: dict, headline, family: str) -> None:
    left, top = layout.card_origin(index)
    fig.patches.append(
        FancyBboxPatch(
            (layout.x(left), layout.y(top + CARD_IN)),
            layout.x(layout.card_width_in),
            CARD_IN / layout.height_in,
            boxstyle="round,pad=0,rounding_size=0.012",
            transform=fig.transFigure,
            facecolor="#f4f6f8",
            edgecolor="#d0d7de",
            linewidth=1,
        )
    )
    kind, text_x = headline.kind, layout.x(left + 0.22)
    fig.text(text_x, layout.y(top + 0.42), headline.label, family=family, fontsize=13, color="#333333")
    fig.text(
        text_x,
        layout.y(top + 1.05),
        value_text(row[headline.column], kind),
        family=family,
        fontsize=26,
        weight="bold",
        color="#111111",
    )
    for below_top, period, label in ((1.5, "1d", "较前一日"), (1.82, "7d", "较上周同日")):
        change = row[f"{headline.column}_change_{period}"]
        fig.text(
            text_x,
            layout.y(top + below_top),
            f"{label} {change_text(change, kind)}",
            family=family,
            fontsize=10.5,
            color=TONE_COLOURS[change_tone(change, headline)],
        )


def drawn_numbers(row: dict) -> dict:
    """The numbers the image shows, also stored in its PNG metadata (``Description``), so
    what an attachment carries can be checked without reading pixels."""
    headlines = headlines_of(row)
    keys = [h.column for h in headlines]
    keys += [f"{h.column}_change_{p}" for h in headlines for p in ("1d", "7d")]
    keys += ["rank_in_level", "areas_ranked"]
    return {
        "level": row["level"],
        "area_code": row["area_code"],
        "area_name": row["area_name"],
        **{k: row[k] for k in keys},
    }


def render_png(row: dict, day: date) -> bytes:
    family = cjk_font_family()
    headlines = headlines_of(row)
    layout = _Layout(len(headlines))
    fig = Figure(figsize=(WIDTH_IN, layout.height_in), dpi=DPI, facecolor="white")
    level = LEVEL_LABELS[row["level"]]
    left = layout.x(MARGIN_IN)
    fig.text(left, layout.y(0.6), f"{row['area_name']} 领导简报", family=family, fontsize=24, weight="bold")
    fig.text(
        left,
        layout.y(0.95),
        f"{day_text(day)} · {level} · 编码 {row['area_code']}",
        family=family,
        fontsize=12,
        color="#555555",
    )
    for index, headline in enumerate(headlines):
        _card(fig, layout, index, row, headline, family)
    footer = "数据来源：mart_leader_brief_daily（已发布的数据集市）"
    if row["level"] != "district":
        footer = f"{level}排名：{rank_text(row)}\n{footer}"
    fig.text(
        left,
        layout.y(layout.height_in - 0.3),
        footer,
        family=family,
        fontsize=10.5,
        color="#555555",
        linespacing=1.6,
    )
    buffer = io.BytesIO()
    fig.savefig(
        buffer,
        format="png",
        dpi=DPI,
        metadata={
            "Title": f"{row['area_name']} 领导简报 {day.isoformat()}",
            "Description": json.dumps(drawn_numbers(row), ensure_ascii=False, default=str),
            "Software": "civiclake brief",
        },
    )
    return buffer.getvalue()

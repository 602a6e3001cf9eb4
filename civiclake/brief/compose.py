"""The e-mail of one brief: Chinese text body with the headline numbers, the PNG attached."""

from __future__ import annotations

import re
from datetime import date
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr

from civiclake.brief.numbers import LEVEL_LABELS, change_text, headlines_of, rank_text, value_text
from civiclake.brief.recipients import Recipient


def day_text(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def subject(row: dict, day: date) -> str:
    return f"【领导简报】{row['area_name']} {day_text(day)}"


def headline_lines(row: dict) -> list[str]:
    """One line per headline number: value, then its change from the day and the week before."""
    lines = []
    for h in headlines_of(row):
        lines.append(
            f"{h.label}：{value_text(row[h.column], h.kind)}"
            f"（较前一日 {change_text(row[h.column + '_change_1d'], h.kind)}，"
            f"较上周同日 {change_text(row[h.column + '_change_7d'], h.kind)}）"
        )
    if row["level"] != "district":  # the district is alone in its level
        lines.append(f"{LEVEL_LABELS[row['level']]}排名：{rank_text(row)}")
    return lines


def body(recipient: Recipient, row: dict, day: date) -> str:
    level = LEVEL_LABELS[row["level"]]
    return "\n".join(
        [
            f"{recipient.display_name}，您好：",
            "",
            f"以下是{row['area_name']}（{level}，编码 {row['area_code']}）{day_text(day)}的领导简报：",
            "",
            *headline_lines(row),
            "",
            "附件图片为同一组数据。数据来自已发布的数据集市 mart_leader_brief_daily（口径见 docs/MARTS.md）。",
            "本邮件由 civiclake 每日自动发送，请勿直接回复。",
            "",
        ]
    )


def message_id(recipient: Recipient, day: date, sender: str) -> str:
    """The same Message-ID on every try of one brief, so a mail system that sees it twice
    (a resend after a lost acknowledgement) can recognise the duplicate."""
    address = parseaddr(sender)[1]
    domain = address.rsplit("@", 1)[-1] if "@" in address else "civiclake.local"
    local = re.sub(r"[^A-Za-z0-9._-]", "_", f"{recipient.username}.{recipient.level}.{recipient.area_code}")
    return f"<brief.{day.isoformat()}.{local}@{domain}>"


def attachment_name(row: dict, day: date) -> str:
    return f"brief_{row['level']}_{row['area_code']}_{day.isoformat()}.png"


def compose(
    recipient: Recipient, row: dict, day: date, png: bytes, sender: str, sent_at=None
) -> EmailMessage:
    """The message to one recipient only; ``sent_at`` (aware datetime) sets the Date header."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = formataddr((recipient.display_name, recipient.email))
    message["Subject"] = subject(row, day)
    message["Message-ID"] = message_id(recipient, day, sender)
    if sent_at is not None:
        message["Date"] = format_datetime(sent_at)
    message.set_content(body(recipient, row, day))
    message.add_attachment(png, maintype="image", subtype="png", filename=attachment_name(row, day))
    return message

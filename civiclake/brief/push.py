"""One day's briefs for every leader: pick the area's row, render, compose, send once.

A failure for one recipient (an unknown area in users.yaml, a refused address, a dropped
connection) is logged with the user and address and the others still get theirs; the
caller fails the run at the end when any failed. Problems that stop every brief (no users
file, no marts for the day, no font, no SMTP settings) raise before anything is sent; so
does a day older than the newest published one (``PastDayError``): leaders read the brief
as today's news, and a backfill of past days must not send yesterday's numbers again.
"""

from __future__ import annotations

import logging
import smtplib
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from civiclake.brief import ledger as ledger_module
from civiclake.brief import mailer, rows
from civiclake.brief.compose import attachment_name, compose
from civiclake.brief.recipients import (
    BriefError,
    Recipient,
    leader_roles_of,
    read_users,
    resolve,
)
from civiclake.brief.render import cjk_font_family, render_png
from civiclake.marts_publications import newest_published_day
from civiclake.settings import Settings

log = logging.getLogger(__name__)
DRY_RUN_SENDER = "civiclake-brief@localhost"


class PastDayError(BriefError):
    """A brief to send for a day older than the newest published one: briefs go out for the
    newest day only (a dry run renders any published day)."""


def ledger_path(settings: Settings) -> Path:
    return settings.data_dir / "brief" / "deliveries.sqlite"


@dataclass
class PushOutcome:
    day: date
    sent: list[str] = field(default_factory=list)  # "user (level area) <email>"
    already_sent: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)  # dry run: files written
    failed: list[str] = field(default_factory=list)  # one line per failure, with the address
    not_leaders: list[str] = field(default_factory=list)  # users without a leader role

    def as_dict(self) -> dict:
        return {k: (str(v) if k == "day" else v) for k, v in self.__dict__.items()}


def push_briefs(
    settings: Settings,
    day: date,
    users_file: Path,
    *,
    dry_run: bool = False,
    out_dir: Path | None = None,
) -> PushOutcome:
    if dry_run and out_dir is None:
        raise BriefError("--dry-run needs --out DIR: the folder for the rendered briefs")
    if not dry_run:
        newest = newest_published_day(settings)
        if newest is not None and day < newest:
            raise PastDayError(
                f"brief of {day} not sent: the marts of {newest}, a newer day, are published and "
                "briefs go out for the newest day only (--dry-run renders a past day's brief)"
            )
        mailer.check_smtp_settings(settings)
    cjk_font_family()  # a missing font stops the run before any brief is made
    users = read_users(users_file)
    outcome = PushOutcome(day)
    ledger = None if dry_run else ledger_module.DeliveryLedger(ledger_path(settings))
    sender = DRY_RUN_SENDER if dry_run else settings.smtp_sender
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    marts_file = settings.published_marts_file
    with ledger.exclusive() if ledger else nullcontext(), rows.connect(marts_file) as con:
        rows.require_day(con, day, marts_file)
        areas = rows.known_areas(con)
        for user in users:
            roles = leader_roles_of(user)
            if not roles:
                outcome.not_leaders.append(str(user["username"]))
                continue
            for role in roles:
                address = str(user.get("email") or user.get("e-mail") or "?")
                label = f"user {user['username']!r} <{address}> ({role.role})"
                try:
                    recipient = resolve(user, role, users_file, areas)
                    label = f"{recipient.key} <{recipient.email}>"
                    if ledger is not None and (sent_at := ledger.sent(day, recipient)):
                        log.info("brief %s for %s already sent at %s: not sent again", day, label, sent_at)
                        outcome.already_sent.append(label)
                        continue
                    row = rows.area_row(con, day, recipient)
                    png = render_png(row, day)
                    now = datetime.now(UTC)
                    message = compose(recipient, row, day, png, sender, sent_at=now)
                    if dry_run:
                        outcome.written += _write(out_dir, recipient, row, day, png, message)
                        continue
                    mailer.send(settings, message)
                    ledger.record(day, recipient, message["Message-ID"], now)
                    log.info("brief %s sent to %s", day, label)
                    outcome.sent.append(label)
                except (BriefError, smtplib.SMTPException, OSError) as error:
                    log.error("brief %s to %s failed: %s", day, label, error)
                    outcome.failed.append(f"{label}: {error}")
    return outcome


def _write(out_dir: Path, recipient: Recipient, row: dict, day: date, png: bytes, message) -> list[str]:
    stem = f"{recipient.username}_{Path(attachment_name(row, day)).stem}"
    image, mail = out_dir / f"{stem}.png", out_dir / f"{stem}.eml"
    image.write_bytes(png)
    mail.write_bytes(message.as_bytes())
    log.info("dry run: brief %s for %s written to %s", day, recipient.key, mail)
    return [str(image), str(mail)]

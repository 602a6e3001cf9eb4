"""What was already sent: one row per leader, area and day, in a SQLite file under var/.

Why SQLite in var/ and not a table of the marts or the lake: the published DuckDB file is
replaced whole by every ``marts publish`` and opened read-only by Superset, and a Delta
table would need Spark or a lake write for a few rows a day. Delivery state is the
mailer's own operational record, not data for analysis; SQLite is in the standard library,
takes one writer at a time across processes, and its primary key makes "sent once" a
constraint rather than a convention.

A row is written after the SMTP server accepted the message. A crash between the two
would send that one brief again on the rerun; its Message-ID is the same on every try, so
mail systems can drop the duplicate. The other order would lose the brief instead.
"""

from __future__ import annotations

import fcntl
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import date, datetime
from pathlib import Path

from civiclake.brief.recipients import Recipient

SCHEMA = """
create table if not exists brief_deliveries (
    report_date text not null,
    username text not null,
    level text not null,
    area_code text not null,
    email text not null,
    message_id text not null,
    sent_at text not null,
    primary key (report_date, username, level, area_code)
)
"""


class DeliveryLedger:
    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as con, con:
            con.execute(SCHEMA)

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Held for a whole run, so that two runs at once (a manual rerun beside the DAG's)
        take turns: the second sees what the first sent instead of checking before it."""
        with self.path.with_suffix(".lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def sent(self, day: date, recipient: Recipient) -> str | None:
        """When this recipient's brief of the day was sent, or None."""
        with closing(self._connect()) as con:
            row = con.execute(
                "select sent_at from brief_deliveries "
                "where report_date = ? and username = ? and level = ? and area_code = ?",
                (day.isoformat(), recipient.username, recipient.level, recipient.area_code),
            ).fetchone()
        return row[0] if row else None

    def record(self, day: date, recipient: Recipient, message_id: str, sent_at: datetime) -> None:
        with closing(self._connect()) as con, con:
            con.execute(
                "insert or ignore into brief_deliveries values (?, ?, ?, ?, ?, ?, ?)",
                (
                    day.isoformat(),
                    recipient.username,
                    recipient.level,
                    recipient.area_code,
                    recipient.email,
                    message_id,
                    sent_at.isoformat(),
                ),
            )

    def deliveries(self, day: date) -> list[dict]:
        with closing(self._connect()) as con:
            con.row_factory = sqlite3.Row
            rows = con.execute(
                "select * from brief_deliveries where report_date = ? order by username", (day.isoformat(),)
            ).fetchall()
        return [dict(r) for r in rows]

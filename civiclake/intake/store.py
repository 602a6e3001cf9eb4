"""The intake's side of the governance system's PostgreSQL database.

A request accepted by the API becomes a case (``governance.cases``, status ``created``) and
its first status-history row (``governance.case_events``), in one transaction, so a case
never exists without its history nor the other way round. Its id is ``GA<yyyymmdd><6
digits>``: the reporting day and a number from the intake's own sequence
(``governance.intake_request_seq``), apart from the ids other channels give (``GC…``).
Personal data arrives here as tokens already (the API tokenises at the edge).

A request's answer to GET comes from the same tables: the case's status, the department
of its latest accepted dispatch order (else of its latest issued one) and the
department's feedback to the resident.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

import psycopg

from civiclake.contracts.governance import CASE_EVENTS, CASES, DISPATCH_ORDERS

ID_PREFIX = "GA"
REQUEST_ID = re.compile(rf"^{ID_PREFIX}\d{{14}}$")
SEQUENCE = "governance.intake_request_seq"
_CASES, _EVENTS, _ORDERS = CASES.source.name, CASE_EVENTS.source.name, DISPATCH_ORDERS.source.name
# Six digits a day; past 999999 the sequence starts again at 1, and a day's ids stay apart
# as long as fewer than a million requests arrive on one day.
_CREATE_SEQUENCE = f"create sequence if not exists {SEQUENCE} minvalue 1 maxvalue 999999 cycle"


class GovernanceUnavailableError(RuntimeError):
    """The governance system's database or its tables cannot be reached."""


@dataclass(frozen=True)
class NewCase:
    """A request as the governance system will hold it (tokens in place of personal data)."""

    channel: str
    category: str  # catalogue code
    department: str
    description: str  # scrubbed
    community_code: str
    grid_code: str
    lon: float
    lat: float
    reporter_name: str | None  # token
    reporter_phone: str | None  # token
    reported_at: datetime  # local wall-clock time


@dataclass(frozen=True)
class StoredCase:
    """What GET answers about a case."""

    case_id: str
    category: str
    description: str
    community_code: str | None
    lon: float | None
    lat: float | None
    status: str
    reported_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    fed_back_at: datetime | None
    feedback_text: str | None
    agency_responsible: str  # empty: no order issued yet


class CaseStore:
    def __init__(self, conninfo: str):
        self._conninfo = conninfo
        self._ready = False

    def _connect(self) -> psycopg.Connection:
        try:
            return psycopg.connect(self._conninfo, connect_timeout=10)
        except psycopg.OperationalError as error:
            raise GovernanceUnavailableError(f"cannot connect to the governance database: {error}") from None

    def prepare(self) -> None:
        """Checks that the governance tables are there and creates the intake's id sequence."""
        if self._ready:
            return
        with self._connect() as conn:
            missing = [
                t
                for t in (_CASES, _EVENTS)
                if conn.execute("select to_regclass(%s)", (t,)).fetchone()[0] is None
            ]
            if missing:
                raise GovernanceUnavailableError(
                    f"the governance system's tables {missing} do not exist in the database yet "
                    "(in the demo, `civiclake simulate governance --date D` creates them)"
                )
            conn.execute(_CREATE_SEQUENCE)
        self._ready = True

    def add(self, case: NewCase) -> str:
        """Enters ``case`` with its ``created`` event; returns its id."""
        self.prepare()
        with self._connect() as conn, conn.transaction():
            number = conn.execute(f"select nextval('{SEQUENCE}')").fetchone()[0]
            case_id = f"{ID_PREFIX}{case.reported_at:%Y%m%d}{number:06d}"
            conn.execute(
                f"insert into {_CASES} (case_id, channel, category, department, description, "
                "community_code, grid_code, lon, lat, reporter_name, reporter_phone, reported_at, "
                "status, updated_at) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'created', %s)",
                (
                    case_id,
                    case.channel,
                    case.category,
                    case.department,
                    case.description,
                    case.community_code,
                    case.grid_code,
                    case.lon,
                    case.lat,
                    case.reporter_name,
                    case.reporter_phone,
                    case.reported_at,
                    case.reported_at,
                ),
            )
            conn.execute(
                f"insert into {_EVENTS} (event_id, case_id, seq, event_type, department, occurred_at, "
                "recorded_at) values (%s, %s, 1, 'created', %s, %s, %s)",
                (f"{case_id}-01", case_id, case.department, case.reported_at, case.reported_at),
            )
        return case_id

    def count_reported_on(self, day: date) -> int:
        """Requests the intake entered with a reporting day of ``day`` (where a simulated day resumes)."""
        self.prepare()
        with self._connect() as conn:
            return conn.execute(
                f"select count(*) from {_CASES} where case_id like %s", (f"{ID_PREFIX}{day:%Y%m%d}%",)
            ).fetchone()[0]

    def get(self, case_id: str) -> StoredCase | None:
        if not REQUEST_ID.match(case_id):
            return None
        self.prepare()
        with self._connect() as conn:
            row = conn.execute(
                f"select case_id, category, description, community_code, lon, lat, status, reported_at, "
                f"updated_at, closed_at, fed_back_at, feedback_text from {_CASES} where case_id = %s",
                (case_id,),
            ).fetchone()
            if row is None:
                return None
            return StoredCase(*row, agency_responsible=_agency_responsible(conn, case_id))


def _agency_responsible(conn: psycopg.Connection, case_id: str) -> str:
    """The department of the case's latest accepted order, else of its latest issued one."""
    if conn.execute("select to_regclass(%s)", (_ORDERS,)).fetchone()[0] is None:
        return ""  # the governance system has no dispatch orders yet: none was issued
    row = conn.execute(
        f"select department from {_ORDERS} where case_id = %s and status in ('accepted', 'issued') "
        "order by status = 'accepted' desc, coalesce(accepted_at, issued_at) desc, order_id desc limit 1",
        (case_id,),
    ).fetchone()
    return row[0] if row else ""

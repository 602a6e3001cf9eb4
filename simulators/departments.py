"""The district's departments as the governance system sees them: they accept the dispatch
orders the platform delivers, and answer the residents who posted through the intake API.

An order (``governance.dispatch_orders``) is accepted after a delay in working hours (the
offices' working periods on working days, ``civiclake.working_time``): most within
``PROMPT_HOURS``, some late (``LATE_HOURS``: what the escalation policy is for), a few only
after several working days (a department that lets its queue lie). A case that came in
through the intake API (``GA…``) moves on once one of its orders is accepted: the
department handles it, feeds its answer back to the resident (``feedback_text``, shown by
the API's GET) and closes it, each step a ``governance.case_events`` row. Cases of the other
channels follow their own simulators' lifecycles; only their orders are accepted here.

An operation's order (kind ``operation``: a task of a joint operation, its reason ending in
its time limit) is accepted the same way, then reported done (``completed``): most within the
limit, a share late (what the operation's follow-up escalates), never before acceptance.

Every time is a function of the seed and the order id (and the order's issue time), never of
when this runs. Acting for day D writes what has happened by ``horizon(D)`` — the end of the
next day, D+2 00:00, where the governance ingest that first sees D's orders (issued at the
close of D) stops reading — and leaves the rest to the runs of later days; so running a day twice
changes nothing more, and no row carries a time the next ingest would refuse as future.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import psycopg

from civiclake.catalogue import CATEGORIES, CATEGORY_BY_CODE
from civiclake.contracts.governance import CASE_EVENTS, CASES, DISPATCH_ORDERS
from civiclake.geography import load_geography
from civiclake.operations.start import due_hours_of
from civiclake.settings import Settings
from civiclake.working_time import WorkingCalendar, default_calendar
from simulators import governance
from simulators.case_text import feedback

log = logging.getLogger(__name__)

INTAKE_PREFIX = "GA"  # case ids of the intake API (civiclake.intake.store)
# How soon an order is accepted, in working hours after it is issued. The shares are an
# assumption in the spirit of the district's rule (accept within 2 working hours): most
# keep it, a fifth are late by a few hours, and one in twenty lies for days.
PROMPT_SHARE = 0.75
LATE_SHARE = 0.20
PROMPT_HOURS = (0.1, 2.0)
LATE_HOURS = (2.0, 8.0)
SILENT_DAYS = (3.0, 5.0)  # working days: past two calendar days from any start
# An intake case after acceptance: working hours to handle it, then minutes to the answer
# and from the answer to the close.
HANDLE_HOURS = (0.5, 4.0)
FEEDBACK_MINUTES = (10, 60)
CLOSE_MINUTES = (5, 30)

# An operation's task, in wall-clock hours after its issue as a share of its time limit: most
# done within it, a fifth late (an assumption: a joint operation is watched closely, yet a
# department short of hands lets a task slip). Work starts once the order is accepted.
ON_TIME_SHARE = 0.8
ON_TIME_SPAN = (0.3, 0.95)
LATE_SPAN = (1.1, 2.5)
START_MINUTES = (10, 40)  # from acceptance to the earliest completion
DEFAULT_LIMIT_HOURS = 8.0  # an operation order whose reason carries no time limit

_ORDERS, _CASES, _EVENTS = DISPATCH_ORDERS.source.name, CASES.source.name, CASE_EVENTS.source.name
_CATEGORY_BY_NAME = {c.name: c for c in CATEGORIES}


def horizon(day: date) -> datetime:
    """Until when acting for ``day`` writes: D+2 00:00, the end of the ingest window of D+1."""
    return datetime.combine(day + timedelta(days=2), time())


def acceptance_delay(seed: int, order_id: str, calendar: WorkingCalendar | None = None) -> float:
    """Working hours from an order's issue to its acceptance."""
    rng = random.Random(f"accept-{seed}-{order_id}")
    draw = rng.random()
    if draw < PROMPT_SHARE:
        return rng.uniform(*PROMPT_HOURS)
    if draw < PROMPT_SHARE + LATE_SHARE:
        return rng.uniform(*LATE_HOURS)
    return rng.uniform(*SILENT_DAYS) * (calendar or default_calendar()).hours_per_day


def accepted_at(
    seed: int, order_id: str, issued_at: datetime, calendar: WorkingCalendar | None = None
) -> datetime:
    """When the department accepts the order (in working time, never before its issue)."""
    calendar = calendar or default_calendar()
    return calendar.add_working_hours(issued_at, acceptance_delay(seed, order_id, calendar))


def completed_at(
    seed: int, order_id: str, issued_at: datetime, accepted: datetime, limit_hours: float
) -> datetime:
    """When the department reports an operation's task done: a share of its time limit after
    the issue, and not before it could start after accepting."""
    rng = random.Random(f"complete-{seed}-{order_id}")
    span = ON_TIME_SPAN if rng.random() < ON_TIME_SHARE else LATE_SPAN
    done = issued_at + timedelta(hours=limit_hours * rng.uniform(*span))
    return max(done, accepted + timedelta(minutes=rng.uniform(*START_MINUTES)))


@dataclass(frozen=True)
class Answer:
    """What the department does with an intake case after accepting it."""

    handled_at: datetime
    fed_back_at: datetime
    closed_at: datetime
    satisfaction: int
    rng_key: str  # seeds the feedback text


def answer(seed: int, order_id: str, accepted: datetime, calendar: WorkingCalendar | None = None) -> Answer:
    calendar = calendar or default_calendar()
    rng = random.Random(f"answer-{seed}-{order_id}")
    handled = calendar.add_working_hours(accepted, rng.uniform(*HANDLE_HOURS))
    fed_back = handled + timedelta(minutes=rng.uniform(*FEEDBACK_MINUTES))
    closed = fed_back + timedelta(minutes=rng.uniform(*CLOSE_MINUTES))
    satisfaction = rng.choices(governance.SATISFACTION, weights=governance.SATISFACTION_WEIGHTS)[0]
    return Answer(handled, fed_back, closed, satisfaction, f"feedback-{seed}-{order_id}")


def act_on_orders(day: date, settings: Settings) -> dict[str, int]:
    """The departments' work up to ``horizon(day)``: orders accepted, intake cases answered.

    Returns the orders found open (issued, not accepted), those accepted now, those still
    open, the intake cases moved on and the status-history rows written.
    """
    until = horizon(day)
    calendar = default_calendar()
    with psycopg.connect(settings.pg_conninfo()) as conn:
        governance.ensure_schema(conn)
        conn.commit()
        with conn.transaction():
            accepted, still_open = _accept_orders(conn, settings.seed, until, calendar)
        with conn.transaction():
            completed = _complete_operation_orders(conn, settings.seed, until)
        with conn.transaction():
            cases, events = _answer_intake_cases(conn, settings.seed, until, calendar)
    counts = {
        "orders_open": accepted + still_open,
        "accepted": accepted,
        "still_issued": still_open,
        "operation_orders_completed": completed,
        "intake_cases_moved": cases,
        "case_events_written": events,
    }
    log.info("departments acting up to %s: %s", until, counts)
    return counts


def _accept_orders(conn: psycopg.Connection, seed: int, until: datetime, calendar: WorkingCalendar):
    orders = conn.execute(
        f"select order_id, issued_at from {_ORDERS} where status = 'issued' and issued_at < %s "
        "order by order_id for update",
        (until,),
    ).fetchall()
    due = []
    for order_id, issued in orders:
        at = accepted_at(seed, order_id, issued, calendar)
        if at < until:
            due.append((at, at, order_id))
    with conn.cursor() as cur:
        cur.executemany(
            f"update {_ORDERS} set status = 'accepted', accepted_at = %s, "
            "updated_at = greatest(updated_at, %s) where order_id = %s and status = 'issued'",
            due,
        )
    return len(due), len(orders) - len(due)


def _complete_operation_orders(conn: psycopg.Connection, seed: int, until: datetime) -> int:
    """Reports done each accepted operation order whose completion falls before ``until``."""
    orders = conn.execute(
        f"select order_id, issued_at, accepted_at, reason from {_ORDERS} "
        "where kind = 'operation' and status = 'accepted' and completed_at is null "
        "order by order_id for update",
    ).fetchall()
    due = []
    for order_id, issued, accepted, reason in orders:
        limit = due_hours_of(reason) or DEFAULT_LIMIT_HOURS
        at = completed_at(seed, order_id, issued, accepted, limit)
        if at < until:
            due.append((at, at, order_id))
    with conn.cursor() as cur:
        cur.executemany(
            f"update {_ORDERS} set status = 'completed', completed_at = %s, "
            "updated_at = greatest(updated_at, %s) where order_id = %s and status = 'accepted'",
            due,
        )
    return len(due)


def _answer_intake_cases(conn: psycopg.Connection, seed: int, until: datetime, calendar: WorkingCalendar):
    """Moves each open intake case with an accepted order along the first accepted order's plan."""
    rows = conn.execute(
        f"""
        select c.case_id, c.category, c.community_code, c.reported_at,
               o.order_id, o.department, o.accepted_at,
               (select min(issued_at) from {_ORDERS} f where f.case_id = c.case_id) as first_issued_at
        from {_CASES} c
        join lateral (
            select order_id, department, accepted_at from {_ORDERS} a
            where a.case_id = c.case_id and a.accepted_at is not null
            order by a.accepted_at, a.order_id limit 1
        ) o on true
        where c.case_id like %s and c.status <> 'closed'
        order by c.case_id
        for update of c
        """,
        (f"{INTAKE_PREFIX}%",),
    ).fetchall()
    geography = load_geography()
    moved = written = 0
    for case_id, category, community_code, reported_at, order_id, department, accepted, first_issued in rows:
        plan = answer(seed, order_id, accepted, calendar)
        steps = [
            ("dispatched", first_issued),
            ("accepted", accepted),
            ("handled", plan.handled_at),
            ("fed_back", plan.fed_back_at),
            ("closed", plan.closed_at),
        ]
        happened = {
            kind: at
            for kind, at in conn.execute(
                f"select event_type, min(occurred_at) from {_EVENTS} where case_id = %s group by event_type",
                (case_id,),
            ).fetchall()
        }
        new = [(kind, at) for kind, at in steps if at < until and kind not in happened]
        if not new:
            continue
        seq = conn.execute(
            f"select coalesce(max(seq), 0) from {_EVENTS} where case_id = %s", (case_id,)
        ).fetchone()[0]
        with conn.cursor() as cur:
            cur.executemany(
                f"insert into {_EVENTS} (event_id, case_id, seq, event_type, department, occurred_at, "
                "recorded_at) values (%s, %s, %s, %s, %s, %s, %s) on conflict (event_id) do nothing",
                [
                    (f"{case_id}-{seq + n:02d}", case_id, seq + n, kind, department, at, at)
                    for n, (kind, at) in enumerate(new, start=1)
                ],
            )
        times = happened | dict(new)
        status, updated = new[-1]
        text = None
        if "fed_back" in times:
            community = geography.communities.get(community_code or "")
            text = _feedback_text(
                plan, case_id, category, department, community.name if community else "", reported_at
            )
        conn.execute(
            f"update {_CASES} set status = %s, department = %s, dispatched_at = %s, accepted_at = %s, "
            "handled_at = %s, fed_back_at = %s, feedback_text = %s, closed_at = %s, satisfaction = %s, "
            "updated_at = greatest(updated_at, %s) where case_id = %s",
            (
                status,
                department,
                times.get("dispatched"),
                times.get("accepted"),
                times.get("handled"),
                times.get("fed_back"),
                text,
                times.get("closed"),
                plan.satisfaction if "closed" in times else None,
                updated,
                case_id,
            ),
        )
        moved += 1
        written += len(new)
    return moved, written


def _feedback_text(
    plan: Answer, case_id: str, category: str, department: str, community_name: str, reported_at: datetime
) -> str:
    known = CATEGORY_BY_CODE.get(category) or _CATEGORY_BY_NAME.get(category)
    if known is None:
        raise ValueError(
            f"{_CASES}, case {case_id}, category: {category!r} is not in the case catalogue (civiclake/catalogue.py); "
            "the department cannot answer a case it cannot classify"
        )
    on = f"{reported_at.month}月{reported_at.day}日"
    return feedback(random.Random(plan.rng_key), known.code, known.name, department, community_name, on)

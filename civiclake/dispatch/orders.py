"""Dispatch orders: the platform's decisions as the operational system receives them.

An order sends a case to a department (``dispatch``), moves it to another one
(``transfer``, after a change of the routing rules) or sends it up a level
(``escalation``: community → street → district). Its id is derived from what was
decided, never from when it was computed, so the same decision made again — a rerun of a
day, a retry after a crash — gives the same order id, and the operational system's unique
key on it makes delivery exactly once.

Columns are those of ``governance.dispatch_orders``
(:data:`civiclake.contracts.governance.DISPATCH_ORDERS`).
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, time

from civiclake.contracts.governance import DISPATCH_ORDERS, ORDER_KINDS, ORDER_LEVELS

ORDER_COLUMNS = tuple(f.name for f in DISPATCH_ORDERS.columns)


def order_id(case_id: str, kind: str, level: str, department: str, basis: str = "") -> str:
    """``DO`` and 20 hex digits of SHA-256 over the decision: its case, kind, level,
    department and ``basis`` (what the decision rests on, e.g. the rules version or the
    order a transfer replaces)."""
    if kind not in ORDER_KINDS:
        raise ValueError(f"unknown order kind {kind!r}; expected one of {ORDER_KINDS}")
    if level not in ORDER_LEVELS:
        raise ValueError(f"unknown order level {level!r}; expected one of {ORDER_LEVELS}")
    digest = hashlib.sha256("\x1f".join((case_id, kind, level, department, basis)).encode()).hexdigest()
    return f"DO{digest[:20]}"


def close_of_day(day: date) -> datetime:
    """When a daily run issues the orders of ``day`` and checks its escalations: the last
    instant of the day on the source's wall clock. The decisions belong to the day, so its
    marts show them; what departments do with them reaches the lake with the next ingest."""
    return datetime.combine(day, time.max)

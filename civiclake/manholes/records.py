"""Settlement steps written to the city-management system (PostgreSQL, schema ``city``).

One step is one transaction: the repair row is locked (``select … for update``), the step
checked by the state machine (civiclake/manholes/settlement.py) against the row as it stands,
the repair updated (settlement_status, cost_bearer, settled_at, updated_at), one row
appended to ``city.settlement_events`` and, for a claim of a cover without a registered
owner, the owner written to ``city.manhole_covers`` so later cases about the cover route to
it. A refused step writes nothing. Two clerks recording the same step at once: the second
waits for the first's lock, then finds the new state and is refused.

The tables are the city system's own (their columns are the contracts of
civiclake/contracts/city.py); this module writes rows, it never creates tables.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta

import psycopg

from civiclake.contracts import city
from civiclake.geography import Geography, load_geography
from civiclake.manholes import settlement
from civiclake.manholes.settlement import (
    STREET_BEARS,
    Outcome,
    Policy,
    Repair,
    SettlementError,
    Step,
    close_of,
)

log = logging.getLogger(__name__)

REPAIRS = city.REPAIRS.source.name
COVERS = city.MANHOLE_COVERS.source.name
EVENTS = city.SETTLEMENT_EVENTS.source.name
EVENT_COLUMNS = city.SETTLEMENT_EVENTS.source_columns
# The actor the daily run records for the repairs it lets the street bear.
DAILY_ACTOR = "civiclake street-bears-due"


class CitySystemError(RuntimeError):
    """The city-management database lacks what a settlement step writes to."""


@dataclass(frozen=True)
class Recorded:
    outcome: Outcome
    asset_id: str
    community_code: str | None


def _missing_table(error: psycopg.errors.UndefinedTable, conn: psycopg.Connection) -> CitySystemError:
    return CitySystemError(
        f"the city-management database {conn.info.dbname!r} lacks a table ({error.diag.message_primary}): "
        f"settlement steps need {REPAIRS}, {COVERS} and {EVENTS} (the simulated system creates them: "
        "`civiclake simulate city`)"
    )


def apply_step(
    conn: psycopg.Connection,
    repair_id: str,
    step: Step,
    *,
    actor: str,
    policy: Policy | None = None,
    geography: Geography | None = None,
) -> Recorded:
    """Applies ``step`` to the repair in one transaction; a :class:`SettlementError` (nothing
    written) when the state machine refuses it or the repair does not exist."""
    if not actor.strip():
        raise SettlementError(
            f"{repair_id}: cannot {settlement.STEP_VERBS.get(step.step, step.step)}: no actor"
        )
    try:
        with conn.transaction():
            return _apply(conn, repair_id, step, actor=actor, policy=policy, geography=geography)
    except psycopg.errors.UndefinedTable as error:
        raise _missing_table(error, conn) from None


def _apply(conn, repair_id, step, *, actor, policy, geography) -> Recorded:
    row = conn.execute(
        f"select asset_id, community_code, settlement_status, repaired_at, cost_yuan, cost_bearer, updated_at "
        f"from {REPAIRS} where repair_id = %s for update",
        (repair_id,),
    ).fetchone()
    if row is None:
        raise SettlementError(f"{repair_id}: no such repair in {REPAIRS}")
    asset_id, community_code, status, repaired_at, cost, bearer, updated_at = row
    cover = conn.execute(
        f"select owner_department from {COVERS} where asset_id = %s for update", (asset_id,)
    ).fetchone()
    if step.step == STREET_BEARS and step.street_office is None:
        step = Step(step.step, step.at, street_office=_street_office(repair_id, community_code, geography))
    repair = Repair(
        repair_id,
        status,
        repaired_at=repaired_at,
        cost_yuan=cost,
        cost_bearer=bearer,
        registered_owner=cover[0] if cover else None,
        updated_at=updated_at,
    )
    outcome = settlement.apply(repair, step, policy)
    conn.execute(
        f"update {REPAIRS} set settlement_status = %s, cost_bearer = %s, settled_at = %s, updated_at = %s "
        "where repair_id = %s",
        (outcome.to_status, outcome.cost_bearer, outcome.settled_at, outcome.at, repair_id),
    )
    event = {
        "event_id": outcome.event_id,
        "repair_id": repair_id,
        "asset_id": asset_id,
        "community_code": community_code,
        "step": outcome.step,
        "from_status": outcome.from_status,
        "to_status": outcome.to_status,
        "owner": outcome.owner,
        "amount_yuan": outcome.amount_yuan,
        "actor": actor,
        "occurred_at": outcome.at,
        "updated_at": outcome.at,
    }
    conn.execute(
        f"insert into {EVENTS} ({', '.join(EVENT_COLUMNS)}) values ({', '.join(['%s'] * len(EVENT_COLUMNS))})",
        [event[c] for c in EVENT_COLUMNS],
    )
    if outcome.cover_owner is not None and cover is not None:
        conn.execute(
            f"update {COVERS} set owner_department = %s, updated_at = greatest(updated_at, %s) "
            "where asset_id = %s and owner_department is null",
            (outcome.cover_owner, outcome.at, asset_id),
        )
    log.info("%s: %s (%s → %s) by %s", repair_id, outcome.step, outcome.from_status, outcome.to_status, actor)
    return Recorded(outcome, asset_id, community_code)


def _street_office(repair_id: str, community_code: str | None, geography: Geography | None) -> str:
    geography = geography or load_geography()
    if community_code not in geography.communities:
        raise SettlementError(
            f"{repair_id}: cannot let the street bear the cost: community {community_code!r} of the "
            "repair is not in the reference geography, so its street is unknown"
        )
    return settlement.street_office(geography.streets[geography.street_of(community_code)].name)


def street_bears_due(
    conn: psycopg.Connection,
    day: date,
    *,
    actor: str = DAILY_ACTOR,
    policy: Policy | None = None,
    geography: Geography | None = None,
) -> tuple[list[Recorded], list[str]]:
    """Lets the street bear the cost of every repair still pending ``street_bears_after_days``
    after it was finished, as of the close of ``day``; each in its own transaction. Returns
    the steps recorded and the refusals (a repair changed since it was listed, e.g. claimed
    meanwhile). Running it again for the same day records nothing new."""
    policy = policy or settlement.load_policy()
    geography = geography or load_geography()
    at = close_of(day)
    try:
        due = [
            r[0]
            for r in conn.execute(
                f"select repair_id from {REPAIRS} where settlement_status = %s and repaired_at <= %s "
                "order by repair_id",
                (settlement.PENDING, at - timedelta(days=policy.street_bears_after_days)),
            ).fetchall()
        ]
        conn.commit()
    except psycopg.errors.UndefinedTable as error:
        conn.rollback()
        raise _missing_table(error, conn) from None
    recorded, refused = [], []
    for repair_id in due:
        try:
            recorded.append(
                apply_step(
                    conn, repair_id, Step(STREET_BEARS, at), actor=actor, policy=policy, geography=geography
                )
            )
        except SettlementError as error:
            refused.append(str(error))
    return recorded, refused


def history(conn: psycopg.Connection, repair_id: str) -> list[dict]:
    """The settlement events of a repair, oldest first (empty: none, or no such repair)."""
    try:
        cursor = conn.execute(
            f"select {', '.join(EVENT_COLUMNS)} from {EVENTS} where repair_id = %s order by occurred_at, event_id",
            (repair_id,),
        )
    except psycopg.errors.UndefinedTable as error:
        conn.rollback()
        raise _missing_table(error, conn) from None
    return [dict(zip(EVENT_COLUMNS, r, strict=True)) for r in cursor.fetchall()]


def repair_state(conn: psycopg.Connection, repair_id: str) -> dict | None:
    """The repair's settlement columns as the city system holds them (None: no such repair)."""
    columns = (
        "repair_id",
        "asset_id",
        "settlement_status",
        "cost_yuan",
        "cost_bearer",
        "settled_at",
        "updated_at",
    )
    row = conn.execute(
        f"select {', '.join(columns)} from {REPAIRS} where repair_id = %s", (repair_id,)
    ).fetchone()
    return None if row is None else dict(zip(columns, row, strict=True))

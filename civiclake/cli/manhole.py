"""``civiclake manhole``: record the settlement of a cover's repair (先修后定) in the city system.

Each step is one transaction in the city-management database (civiclake/manholes/records.py);
a step the state machine refuses exits with code 1 and the reason, having written nothing.
Prints the repair's new state as JSON on stdout.
"""

from __future__ import annotations

import getpass
import json
from datetime import datetime
from decimal import Decimal, InvalidOperation

import typer

from civiclake.cli.common import DateOption, console, fail, logical_date
from civiclake.settings import get_settings

app = typer.Typer(
    help="Settle manhole-cover repairs: claim, recover, settle, street bears.", no_args_is_help=True
)

RepairArgument = typer.Argument(..., help="Repair id of the city system, e.g. RP2026112500012.")
AtOption = typer.Option(
    None, "--at", help='When the step happened, "YYYY-MM-DD HH:MM" district wall clock (default: now).'
)
ActorOption = typer.Option(None, "--actor", help="Who records the step (default: the login name).")


def _at(value: str | None) -> datetime:
    if value is None:
        return datetime.now().replace(microsecond=0)
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f'--at must look like "2026-11-25 14:30", got {value!r}') from None


def _amount(value: str) -> Decimal:
    try:
        return Decimal(value)
    except InvalidOperation:
        raise typer.BadParameter(f"--amount must be a number of yuan, e.g. 1200.50, got {value!r}") from None


def _json(value):
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, Decimal):
        return str(value)
    return value


def _connect():
    import psycopg

    return psycopg.connect(get_settings().pg_conninfo(), autocommit=True)


def _step(repair_id: str, step, actor: str | None) -> None:
    from civiclake.manholes.records import CitySystemError, apply_step, repair_state
    from civiclake.manholes.settlement import SettlementError

    with _connect() as conn:
        try:
            recorded = apply_step(conn, repair_id, step, actor=actor or getpass.getuser())
        except (SettlementError, CitySystemError) as error:
            fail(error)
        state = repair_state(conn, repair_id) or {}
    o = recorded.outcome
    console.print(f"{repair_id}: {o.step} ({o.from_status} → {o.to_status}), event {o.event_id}")
    typer.echo(json.dumps({k: _json(v) for k, v in state.items()}, ensure_ascii=False))


@app.command("claim")
def claim(
    repair_id: str = RepairArgument,
    owner: str = typer.Option(..., "--owner", help="The department or asset owner claiming the cover."),
    at: str = AtOption,
    actor: str = ActorOption,
) -> None:
    """Ownership claimed: the owner bears the cost (and becomes the cover's owner if unknown)."""
    from civiclake.manholes.settlement import CLAIM, Step

    _step(repair_id, Step(CLAIM, _at(at), owner=owner), actor)


@app.command("recover")
def recover(
    repair_id: str = RepairArgument,
    amount: str = typer.Option(..., "--amount", help="Yuan recovered from the owner (at most the cost)."),
    at: str = AtOption,
    actor: str = ActorOption,
) -> None:
    """Cost recovered from the claimed owner."""
    from civiclake.manholes.settlement import RECOVER, Step

    _step(repair_id, Step(RECOVER, _at(at), amount_yuan=_amount(amount)), actor)


@app.command("settle")
def settle(repair_id: str = RepairArgument, at: str = AtOption, actor: str = ActorOption) -> None:
    """The repair's accounts closed after the cost was recovered."""
    from civiclake.manholes.settlement import SETTLE, Step

    _step(repair_id, Step(SETTLE, _at(at)), actor)


@app.command("street-bears")
def street_bears(repair_id: str = RepairArgument, at: str = AtOption, actor: str = ActorOption) -> None:
    """Nobody claimed the cover: the street office bears the cost (only N days after the repair)."""
    from civiclake.manholes.settlement import STREET_BEARS, Step

    _step(repair_id, Step(STREET_BEARS, _at(at)), actor)


@app.command("street-bears-due")
def street_bears_due(date_: str = DateOption) -> None:
    """The daily run: every repair still pending N days after it was finished, as of the close
    of the date, is borne by its street. Prints one JSON line per repair."""
    from civiclake.manholes.records import CitySystemError
    from civiclake.manholes.records import street_bears_due as bear

    day = logical_date(date_)
    with _connect() as conn:
        try:
            recorded, refused = bear(conn, day)
        except CitySystemError as error:
            fail(error)
    for r in recorded:
        o = r.outcome
        typer.echo(
            json.dumps(
                {
                    "repair_id": o.repair_id,
                    "asset_id": r.asset_id,
                    "cost_bearer": o.cost_bearer,
                    "at": _json(o.at),
                },
                ensure_ascii=False,
            )
        )
    for message in refused:
        console.print(f"[yellow]skipped: {message}[/yellow]")
    console.print(f"{day}: the street bears the cost of {len(recorded)} repair(s); {len(refused)} skipped")


@app.command("history")
def history(repair_id: str = RepairArgument) -> None:
    """The repair's settlement events, oldest first (JSON lines)."""
    from civiclake.manholes.records import CitySystemError, repair_state
    from civiclake.manholes.records import history as events

    with _connect() as conn:
        try:
            rows = events(conn, repair_id)
            state = repair_state(conn, repair_id)
        except CitySystemError as error:
            fail(error)
    if state is None:
        fail(ValueError(f"{repair_id}: no such repair in the city system"))
    console.print(f"{repair_id}: {state['settlement_status']}, {len(rows)} settlement event(s)")
    for row in rows:
        typer.echo(json.dumps({k: _json(v) for k, v in row.items()}, ensure_ascii=False))

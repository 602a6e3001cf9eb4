"""``civiclake maintain``: retention, OPTIMIZE and VACUUM of the lake; ``civiclake erase``: one
resident's data out of every table and file (civiclake/lake/retention.py, erasure.py)."""

from __future__ import annotations

import typer

from civiclake.cli.common import DateOption, console, fail, logical_date, spark, spark_command
from civiclake.settings import get_settings

app = typer.Typer(
    help="Lake maintenance: retention per layer, OPTIMIZE where it pays, VACUUM.", no_args_is_help=True
)


# Repeatable options of `civiclake erase` (a resident may have several phone numbers).
_ID_NUMBERS = typer.Option(None, "--id-number", help="The resident's national ID number (may repeat).")
_PHONES = typer.Option(None, "--phone", help="A phone number of the resident (may repeat).")
_TOKENS = typer.Option(
    None, "--token", help="A token a report shows (id_/phone_/name_…), where no raw value is at hand."
)


def _report(step: str, actions) -> None:
    for action in actions:
        console.print(action.describe(), markup=False)  # targets hold [partition] brackets
    console.print(f"[green]{step}: {len(actions)} action(s)[/green]")


def _retention(session, settings, day):
    """Table properties first (OPTIMIZE and VACUUM then follow them), landing, then bronze."""
    from civiclake.ingest.landing_retention import apply_landing_retention
    from civiclake.lake.retention import (
        apply_bronze_retention,
        apply_table_properties,
        lake_tables,
        record_actions,
    )

    actions = apply_table_properties(session, settings, lake_tables(settings))
    actions += apply_landing_retention(session, settings, day)
    actions += apply_bronze_retention(session, settings, day)
    record_actions(session, settings, day, actions)
    return actions


@app.command("retention")
@spark_command
def retention(date_: str = DateOption) -> None:
    """Table properties (no statistics on personal columns, the Delta history's span), then the
    landing exports of ingested batches and the bronze partitions past their retention, as of --date."""
    day = logical_date(date_)
    _report("retention", _retention(spark(f"maintain_retention_{day}"), get_settings(), day))


@app.command("optimize")
@spark_command
def optimize(date_: str = DateOption) -> None:
    """OPTIMIZE every table or partition with more small files than the threshold."""
    from civiclake.lake.retention import run_optimize

    day = logical_date(date_)
    _report("optimize", run_optimize(spark(f"maintain_optimize_{day}"), get_settings(), day))


@app.command("vacuum")
@spark_command
def vacuum(date_: str = DateOption) -> None:
    """VACUUM every table, keeping the Delta history's days (CIVICLAKE_DELTA_HISTORY_RETENTION_DAYS)."""
    from civiclake.lake.retention import run_vacuum

    day = logical_date(date_)
    _report("vacuum", run_vacuum(spark(f"maintain_vacuum_{day}"), get_settings(), day))


@app.command("run")
@spark_command
def run_all(date_: str = DateOption) -> None:
    """Retention, then OPTIMIZE, then VACUUM (what the maintenance DAG runs as three tasks)."""
    from civiclake.lake.retention import run_optimize, run_vacuum

    day = logical_date(date_)
    session, settings = spark(f"maintain_{day}"), get_settings()
    for step, run in (("retention", _retention), ("optimize", run_optimize), ("vacuum", run_vacuum)):
        _report(step, run(session, settings, day))


def erase(
    id_number: list[str] | None = _ID_NUMBERS,
    phone: list[str] | None = _PHONES,
    token: list[str] | None = _TOKENS,
    reason: str = typer.Option(..., "--reason", help="Why (a ticket or case number; no personal data)."),
    request_id: str = typer.Option(
        None,
        "--request-id",
        help="The request's id in the audit (default: a new one); a rerun gives the same.",
    ),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Erase one resident: every row carrying their tokens deleted from every lake table, the
    files that held them vacuumed (zero hours: those tables lose their time travel), the Delta
    log and DuckDB files cleaned; success only when no file under the data folder holds a token.
    The audit (state.erasure_requests) keeps no token. Run it between daily runs, and tell the
    source system's owner too: the next extract of a system that still lists the resident brings
    them back."""
    from civiclake.lake.erasure import (
        ErasureIncompleteError,
        ErasureRequest,
        ErasureRequestError,
    )
    from civiclake.lake.erasure import (
        erase as erase_resident,
    )

    try:
        request = ErasureRequest(
            reason=reason,
            id_numbers=tuple(id_number or ()),
            phones=tuple(phone or ()),
            tokens=tuple(token or ()),
        )
    except ErasureRequestError as error:
        fail(error)
    if not yes:
        typer.confirm(
            f"Erase every row and file holding this resident ({request.described()}) from the lake?",
            abort=True,
        )
    settings = get_settings()
    try:
        result = erase_resident(spark("erase"), settings, request, request_id=request_id)
    except (ErasureRequestError, ErasureIncompleteError) as error:
        fail(error)
    console.print(result.summary(), style="green", markup=False)
    typer.echo(result.request_id)

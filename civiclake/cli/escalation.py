"""``civiclake escalation``: three-level linkage, community → street → district."""

from __future__ import annotations

import json

import typer

from civiclake.cli.common import DateOption, console, fail, logical_date
from civiclake.settings import get_settings

app = typer.Typer(help="Escalate cases community → street → district.", no_args_is_help=True)


def open_cases(settings, orders):
    """The open cases of every channel (the case funnel, silver.cases, of this jurisdiction)
    with :data:`CASE_COLUMNS`: a governance case keeps its own dispatch and acceptance times
    (a case dispatched before the platform issued orders is timed from them); a case of
    another channel is dispatched when its first order was issued. On a lake the funnel has
    not run on, the governance cases alone."""
    import pandas as pd

    from civiclake.cases import funnel
    from civiclake.dispatch.escalation import CASE_COLUMNS
    from civiclake.lake.read import TableMissingError, read_table

    governance = read_table(
        settings,
        "silver",
        "governance_cases",
        columns=list(CASE_COLUMNS),
        filters=[("status", "!=", "closed")],
    ).to_pandas()
    try:
        funnelled = read_table(
            settings,
            "silver",
            funnel.TABLE,
            columns=["case_id", "category", "street_code", "community_code", "status"],
            filters=[("status", "!=", "closed"), ("jurisdiction", "=", settings.jurisdiction)],
        ).to_pandas()
    except TableMissingError:
        return governance
    others = funnelled[~funnelled["case_id"].isin(governance["case_id"]) & funnelled["category"].notna()]
    first_issued = orders.groupby("case_id")["issued_at"].min()
    # Wall-clock times as the lake keeps them (the same digits in UTC), like the governance rows.
    dispatched_at = pd.to_datetime(others["case_id"].map(first_issued)).dt.tz_localize("UTC")
    others = others.assign(dispatched_at=dispatched_at, accepted_at=pd.Series(pd.NaT, index=others.index))
    others["accepted_at"] = others["accepted_at"].dt.tz_localize("UTC")
    return pd.concat([governance, others[list(CASE_COLUMNS)]], ignore_index=True)


@app.command("check")
def check(
    date_: str = DateOption,
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print the escalations due (JSON lines on stdout) without sending them."
    ),
    policy_file: str = typer.Option(
        None, "--policy", help="An escalation policy YAML file (default: the shipped one)."
    ),
) -> None:
    """Escalate the cases not accepted in time at the end of --date: an order to the street
    office or the district command centre for each, sent through the dispatch outbox."""
    from civiclake.dispatch.escalation import (
        ORDER_INPUT_COLUMNS,
        EscalationPolicyError,
        escalations,
        load_policy,
    )
    from civiclake.dispatch.orders import close_of_day
    from civiclake.dispatch.outbox import orders_with_acceptance
    from civiclake.lake.read import TableMissingError
    from civiclake.working_time import WorkingTimeError

    settings = get_settings()
    # The day's close on the source's clock: the same instant the day's dispatch orders are issued.
    as_of = close_of_day(logical_date(date_))
    try:
        policy = load_policy(policy_file)
    except EscalationPolicyError as error:
        fail(error)
    # The orders the platform issued (its outbox) with the acceptance the governance system
    # reported; a case without any stands where its own dispatch put it.
    orders = orders_with_acceptance(settings)[list(ORDER_INPUT_COLUMNS)]
    try:
        cases = open_cases(settings, orders)
    except TableMissingError as error:
        fail(error)
    try:
        due = escalations(cases, orders, as_of, policy)
    except (WorkingTimeError, ValueError) as error:
        fail(error)

    by_level = due["level"].value_counts().to_dict()
    summary = f"{len(due)} escalation(s) due at {as_of:%Y-%m-%d %H:%M} of {len(cases)} open case(s)"
    summary += f" (to street {by_level.get('street', 0)}, to district {by_level.get('district', 0)})"
    if dry_run:
        for row in due.itertuples(index=False):
            record = {c: getattr(row, c) for c in ("order_id", "case_id", "level", "department", "reason")}
            record["previous_order_id"] = row.previous_order_id
            typer.echo(json.dumps(record, ensure_ascii=False))
        console.print(f"{summary}; dry run: nothing sent")
        return

    from civiclake.dispatch.outbox import OutboxError, deliver, enqueue

    try:
        added = enqueue(settings, due)
        delivered = deliver(settings)
    except OutboxError as error:
        fail(error)
    console.print(f"{summary}; {added} new in the outbox; delivered: {delivered}")

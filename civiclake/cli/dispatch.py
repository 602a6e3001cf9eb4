"""``civiclake dispatch``: check routing rules, record the review queue's decisions, deliver
the orders to the governance system and re-route open cases after a change of the rules."""

from __future__ import annotations

import json

import typer

from civiclake.cli.common import DateOption, console, fail, logical_date
from civiclake.settings import get_settings

app = typer.Typer(
    help="Case dispatch: check routing rules, record reviewers' decisions, deliver and re-route orders.",
    no_args_is_help=True,
)


@app.command("check-rules")
def check_rules(
    rules: str = typer.Option(None, "--rules", help="A routing rules YAML file [default: the shipped one]."),
) -> None:
    """Validate a routing rules file and compare it with the catalogue's default departments."""
    from civiclake.dispatch.rules import RoutingRulesError, catalogue_conflicts, load_rules

    try:
        rule_set = load_rules(rules)
    except RoutingRulesError as error:
        fail(error)
    conflicts = catalogue_conflicts(rule_set)
    for conflict in conflicts:
        console.print(f"[yellow]differs from the catalogue: {conflict}[/yellow]")
    console.print(f"{rule_set.source}: {len(rule_set.rules)} rules, valid; last is the catch-all")


@app.command("review")
def review(
    case_id: str = typer.Option(..., "--case-id", help="The case decided."),
    category: str = typer.Option(..., "--category", help="The category the reviewer chose (a code)."),
    reviewer: str = typer.Option(..., "--reviewer", help="Who decided (stored only as a keyed token)."),
    reviewed_at: str = typer.Option(
        None, "--reviewed-at", help="When, local time YYYY-MM-DDTHH:MM[:SS] [default: now]."
    ),
    department: str = typer.Option(
        None, "--department", help="A department chosen by the reviewer [default: the routing rules']."
    ),
) -> None:
    """Record one reviewer's decision on a case of the review queue (a label for training)."""
    from datetime import datetime

    from civiclake.dispatch.corrections import CorrectionError, record_one

    # The moment of a person's decision is an input, taken here at the edge when not given.
    when = reviewed_at or datetime.now().replace(microsecond=0).isoformat()
    try:
        record_one(get_settings(), case_id, category, when, reviewer, department)
    except CorrectionError as error:
        fail(error)
    console.print(f"case {case_id}: corrected to {category} ({when}); the next scoring run routes it again")


@app.command("corrections")
def corrections(
    input_file: str = typer.Option(
        ...,
        "--input",
        help="UTF-8 CSV with case_id, corrected_category, reviewed_at, reviewer [, corrected_department].",
    ),
) -> None:
    """Record reviewers' decisions in bulk; bad rows are reported (file line, field) and the good ones kept."""
    from pathlib import Path

    from civiclake.dispatch.corrections import CorrectionError, record_file

    try:
        outcome = record_file(get_settings(), Path(input_file))
    except CorrectionError as error:
        fail(error)
    for message in outcome.errors:
        console.print(f"[red]{message}[/red]")
    console.print(
        f"{input_file}: {outcome.written} corrections recorded, {len(outcome.errors)} rows rejected"
    )
    if outcome.errors:
        raise typer.Exit(1)


@app.command("simulate-reviews")
def simulated_reviews(day: str = DateOption) -> None:
    """Demo: the simulated reviewers decide the review queue of --date (the simulator's true category)."""
    from simulators.review import simulate_reviews

    console.print_json(json.dumps(simulate_reviews(get_settings(), logical_date(day))))


@app.command("deliver")
def deliver(day: str = DateOption) -> None:
    """Orders from the dispatch decisions up to --date into the outbox, then every undelivered order to
    governance.dispatch_orders, exactly once each (issued at the close of D); prints the counts."""
    from civiclake.dispatch import outbox
    from civiclake.dispatch.delivery import enqueue_decisions
    from civiclake.lake.read import TableMissingError

    settings = get_settings()
    try:
        counts = enqueue_decisions(settings, logical_date(day))
        counts |= {f"delivery_{k}": v for k, v in outbox.deliver(settings).items()}
    except TableMissingError as error:
        fail(f"{error}: run `civiclake classifier score --date {day}` first")
    except outbox.OutboxError as error:
        fail(error)
    console.print_json(json.dumps(counts))


@app.command("reroute")
def reroute(
    day: str = DateOption,
    rules: str = typer.Option(..., "--rules", help="The new routing rules YAML file."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="List who would move where, and write nothing (no outbox, no orders)."
    ),
) -> None:
    """Re-route open cases under new routing rules: a transfer order for each case whose department
    changes (issued at the close of D), enqueued and delivered; with --dry-run only listed."""
    from rich.console import Console
    from rich.table import Table

    from civiclake.dispatch import outbox
    from civiclake.dispatch import reroute as rerouting
    from civiclake.dispatch.rules import RoutingRulesError, load_rules
    from civiclake.lake.read import TableMissingError

    settings = get_settings()
    when = logical_date(day)
    try:
        rule_set = load_rules(rules)
        if dry_run:
            plan, added, delivered = rerouting.plan(settings, when, rule_set), 0, None
        else:
            plan, added, delivered = rerouting.reroute(settings, when, rule_set)
    except (RoutingRulesError, TableMissingError, outbox.OutboxError) as error:
        fail(error)
    table = Table("case", "from", "to", "rule", title=f"re-routing under {rule_set.source}")
    for move in plan.moves.itertuples():
        table.add_row(move.case_id, move.from_department, move.to_department, move.rule_id)
    Console(width=200).print(table)  # stdout: the listing itself
    summary = (
        f"{len(plan.moves)} of {plan.open_cases} open cases move"
        f" ({plan.escalated} escalated cases left with their level)"
    )
    if dry_run:
        console.print(f"{summary}; dry run: nothing written")
    else:
        console.print(f"{summary}; {added} transfer orders enqueued; delivery: {json.dumps(delivered)}")

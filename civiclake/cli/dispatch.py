"""``civiclake dispatch``: check routing rules, record the review queue's decisions."""

from __future__ import annotations

import json

import typer

from civiclake.cli.common import DateOption, console, fail, logical_date
from civiclake.settings import get_settings

app = typer.Typer(
    help="Case dispatch: check routing rules, record reviewers' decisions.", no_args_is_help=True
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

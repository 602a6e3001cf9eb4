"""``civiclake review``: the review queue a person works (through Airflow's human-in-the-loop tasks).

``queue`` lists a day's cases waiting for a reviewer; the DAG ``civiclake_review`` opens one
human-in-the-loop task per case from its ``--json`` output. A decision is recorded with
``civiclake dispatch review`` (a reviewers' correction, which the next training uses).
"""

from __future__ import annotations

import typer

from civiclake.cli.common import DateOption, console, fail, logical_date
from civiclake.settings import get_settings

app = typer.Typer(help="The review queue of low-confidence cases.", no_args_is_help=True)


@app.command("queue")
def queue(
    day: str = DateOption,
    limit: int = typer.Option(
        None, "--limit", min=1, help="At most this many cases, from the top of the queue's order."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print the queue as JSON on stdout (each case with its review card)."
    ),
) -> None:
    """The cases scored on --date that went to review and that no reviewer has decided yet: the most
    uncertain first (near-identical texts spread out), with a share drawn at random and marked so."""
    from civiclake.review.queue import ReviewQueueError, queue_as_json, review_queue

    try:
        cases = review_queue(get_settings(), logical_date(day), limit=limit)
    except ReviewQueueError as error:
        fail(error)
    if as_json:
        typer.echo(queue_as_json(cases))
        return
    from rich.table import Table

    table = Table(title=f"review queue of {day}: {len(cases)} cases waiting")
    for column in ("case", "pick", "reported", "place", "channel", "suggestions", "text"):
        table.add_column(column)
    for case in cases:
        table.add_row(
            case.case_id,
            case.pick if case.value is None else f"{case.pick} {case.value:.2f}",
            case.reported_at or "",
            " · ".join(n for n in (case.street_name, case.community_name) if n),
            case.channel_name or "",
            ", ".join(
                f"{s.name} {s.probability:.0%}" if s.probability is not None else s.name
                for s in case.suggestions
            ),
            (case.text or "")[:60],
        )
    console.print(table)

"""``civiclake review``: the review queue a person works (through Airflow's human-in-the-loop tasks)."""

from __future__ import annotations

import typer

app = typer.Typer(help="The review queue of low-confidence cases.", no_args_is_help=True)

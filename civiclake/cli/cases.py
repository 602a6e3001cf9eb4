"""``civiclake cases``: the case funnel, every channel in one silver case table."""

from __future__ import annotations

import typer

app = typer.Typer(help="The case funnel: every channel's cases in one table.", no_args_is_help=True)

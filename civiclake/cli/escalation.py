"""``civiclake escalation``: three-level linkage, community → street → district."""

from __future__ import annotations

import typer

app = typer.Typer(help="Escalate cases community → street → district.", no_args_is_help=True)

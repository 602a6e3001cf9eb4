"""``civiclake brief``: the leaders' daily brief (领导简报) by e-mail."""

from __future__ import annotations

import json

import typer

from civiclake.cli.common import DateOption, console, logical_date, skip_exit_code_option
from civiclake.settings import get_settings

app = typer.Typer(help="The leaders' daily brief (领导简报) by e-mail.", no_args_is_help=True)


@app.command("send")
def send(
    day: str = DateOption,
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Render and compose only: write each brief (.png, .eml) to --out."
    ),
    out: str = typer.Option(None, "--out", help="Folder for the rendered briefs (with --dry-run)."),
    users: str = typer.Option(
        None, "--users", help="Users file with the leaders' roles (default: dashboards/users.yaml)."
    ),
    skip_exit_code: int = skip_exit_code_option(
        "no SMTP server is configured (CIVICLAKE_SMTP_HOST unset), or a newer day's marts are published",
        otherwise="failing",
    ),
) -> None:
    """E-mail each leader the brief of their own area for --date, once (reruns send nothing new).

    Briefs go out for the newest published day only: a run of a past day (a backfill) sends
    none, as leaders read the brief as today's news. --dry-run renders any published day."""
    from pathlib import Path

    from civiclake.brief.mailer import smtp_configured
    from civiclake.brief.push import PastDayError, push_briefs
    from civiclake.brief.recipients import DEFAULT_USERS_FILE, BriefError

    brief_day = logical_date(day)
    if out is not None and not dry_run:
        raise typer.BadParameter("--out only applies with --dry-run", param_hint="'--out'")
    settings = get_settings()
    if not dry_run and skip_exit_code is not None and not smtp_configured(settings):
        console.print(
            f"brief push skipped for {day}: no SMTP server configured (CIVICLAKE_SMTP_HOST is not set)"
        )
        raise typer.Exit(skip_exit_code)
    try:
        outcome = push_briefs(
            settings,
            brief_day,
            Path(users) if users else DEFAULT_USERS_FILE,
            dry_run=dry_run,
            out_dir=Path(out) if out else None,
        )
    except PastDayError as error:
        console.print(str(error), markup=False, highlight=False)
        raise typer.Exit(1 if skip_exit_code is None else skip_exit_code) from None
    except BriefError as error:
        console.print(str(error), style="red", markup=False, highlight=False)
        raise typer.Exit(1) from None
    console.print_json(json.dumps(outcome.as_dict(), ensure_ascii=False))
    if outcome.failed:
        console.print(f"[red]{len(outcome.failed)} brief(s) failed; the other leaders were not held up[/red]")
        raise typer.Exit(1)

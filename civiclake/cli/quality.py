"""``civiclake quality <family>``: Great Expectations on a family's silver tables.

One command per family of civiclake/families.toml, checking one suite per silver table of
the family. A gate checks the tables as they stand now, whatever the day: it takes no
--date, and exits 1 when an expectation fails.
"""

from __future__ import annotations

from collections.abc import Callable

import typer

from civiclake.cli.common import console, fail
from civiclake.families import Family, families
from civiclake.settings import get_settings

app = typer.Typer(help="Great Expectations quality gates.", no_args_is_help=True)


def family_suites(family: Family, jurisdiction: str | None) -> dict[str, Callable]:
    """Table → suite factory for the family's silver tables (of one jurisdiction's rows when given)."""
    from quality.suites import suites_for

    return suites_for(family.silver_tables(), jurisdiction)


def run_gate(family: Family, jurisdiction: str | None = None) -> None:
    """Checks every silver table of ``family`` (only ``jurisdiction``'s rows when given) and
    exits 1 when a table is missing or an expectation fails."""
    from quality.gate import QualityGateError
    from quality.silver import SilverTableMissingError, gate

    filters = None if jurisdiction is None else [("jurisdiction", "=", jurisdiction)]
    try:
        reports = gate(get_settings(), family_suites(family, jurisdiction), filters)
    except SilverTableMissingError as error:
        fail(error)
    failed = False
    for report in reports:
        if report.success:
            console.print(f"{report.suite}: {report.rows} rows, {report.evaluated} expectations met")
        else:
            failed = True
            console.print(f"[red]{QualityGateError(report)}[/red]")
    if failed:
        raise typer.Exit(1)


def _command(family: Family) -> Callable[..., None]:
    if family.gate_per_jurisdiction:

        def command(
            jurisdiction: str = typer.Option(
                None, "--jurisdiction", help="Whose rows to check (default: CIVICLAKE_JURISDICTION)."
            ),
        ) -> None:
            run_gate(family, jurisdiction or get_settings().jurisdiction)

        scope = " of one jurisdiction"
    else:

        def command() -> None:
            run_gate(family)

        scope = ""
    command.__doc__ = (
        f"Validate the {family.name} silver tables{scope}; exits non-zero when an expectation fails.\n\n"
        f"{family.title}."
    )
    return command


for family in families().values():
    app.command(family.name)(_command(family))

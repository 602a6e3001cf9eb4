"""``civiclake marts``: the dbt marts, built, tested and published (write-audit-publish)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from civiclake.cli.common import DateOption, console, fail, logical_date, skip_exit_code_option
from civiclake.settings import PROJECT_ROOT, get_settings

app = typer.Typer(help="Build and publish the dbt marts (write-audit-publish).", no_args_is_help=True)


@app.command("prepare")
def prepare() -> None:
    """Start a build: copy the last good build to the build file (no --date: it copies files)."""
    from civiclake import marts

    console.print(f"build file: {marts.prepare(get_settings())}")


@app.command("publish")
def publish() -> None:
    """Audit the tested build file, atomically publish its marts alone, keep it as the last good build.

    No --date: the build's day is the one its dbt run was given (``marts build --date``). A
    build of a day older than the newest published one (a backfill) is recorded for its day
    but not made live."""
    from civiclake import marts

    console.print_json(json.dumps(marts.publish(get_settings())))


# Exit code of infra/superset/warm.sh when there is nothing to warm here.
WARM_SKIPPED = 99


@app.command("warm")
def warm(
    marts_file: str = typer.Option(
        None, "--marts-file", help="Marts file the screens read (default: the published one)."
    ),
    skip_exit_code: int = skip_exit_code_option(
        "Superset is not set up here or serves other marts", otherwise="0"
    ),
    roles: str = typer.Option(
        "civiclake_",
        "--roles",
        help="Warm the roles whose names start so (default: every civiclake role), e.g. "
        "civiclake_street_ after a change to the streets' access.",
    ),
) -> None:
    """Fill Superset's chart-data cache for every civiclake role from the published marts,
    so that the screens' first views after a publish need no query (infra/superset/warm_cache.py)."""
    import subprocess

    target = marts_file or str(get_settings().published_marts_file)
    script = PROJECT_ROOT / "infra" / "superset" / "warm.sh"
    command = ["bash", str(script), "--marts-file", target, "--prefix", roles]
    code = subprocess.run(command, check=False).returncode
    if code == WARM_SKIPPED:
        raise typer.Exit(skip_exit_code or 0)
    if code:
        console.print(f"[red]warming the dashboards failed (exit code {code}); see the lines above[/red]")
        raise typer.Exit(1)


@app.command("build")
def build(day: str = DateOption) -> None:
    """prepare + dbt build (models and tests) + publish, the marts as of --date."""
    from civiclake import marts

    try:
        counts = marts.build(get_settings(), as_of=logical_date(day))
    except marts.MartsBuildError as error:
        fail(error)
    console.print_json(json.dumps(counts))


@app.command("rebuild")
def rebuild(
    day: str = DateOption,
    out: str = typer.Option(..., "--out", help="File to write the rebuilt marts to (not the published one)."),
) -> None:
    """Build the marts of a past --date again, reading every lake table at the version that
    day's publication read, into --out (compare it with `marts diff`)."""
    from civiclake import marts
    from civiclake.lake.history import TimeTravelError
    from civiclake.marts_publications import PublicationError

    try:
        counts = marts.rebuild(get_settings(), logical_date(day), Path(out))
    except (marts.MartsBuildError, PublicationError, TimeTravelError) as error:
        fail(error)
    console.print(f"marts of {day} rebuilt into {out}")
    console.print_json(json.dumps(counts))


@app.command("publications")
def publications(
    day: str = typer.Option(None, "--date", help="Show the record of this day's latest publication."),
) -> None:
    """The days whose published marts can be rebuilt (`marts rebuild`), or one day's record:
    the lake version of every table its build read."""
    from civiclake import marts_publications

    settings = get_settings()
    if day is None:
        for recorded in marts_publications.published_days(settings):
            typer.echo(recorded.isoformat())
        return
    try:
        publication = marts_publications.publication_of(settings, logical_date(day))
    except marts_publications.PublicationError as error:
        fail(error)
    typer.echo(json.dumps(publication.to_json(), indent=2, ensure_ascii=False))


@app.command("env")
def env() -> None:
    """Print the environment the dbt project needs, as shell exports."""
    from civiclake import marts

    for key, value in marts.dbt_environment(get_settings()).items():
        typer.echo(f"export {key}={value}")


@app.command("diff")
def diff(
    before: Annotated[Path, typer.Argument(help="A marts file, e.g. the published one before a change.")],
    after: Annotated[Path, typer.Argument(help="The marts file to compare with it.")],
) -> None:
    """Compare two marts files table by table (tables, columns and their types, rows as
    multisets); exits 1 when any table differs."""
    from civiclake.marts_diff import compare

    try:
        diffs = compare(before, after)
    except FileNotFoundError as error:
        fail(error)
    for table in diffs:
        console.print(
            ("same  " if table.same else "[red]DIFF[/red]  ") + str(table), highlight=False, soft_wrap=True
        )
    different = sum(not table.same for table in diffs)
    console.print(f"{len(diffs)} tables, {different} different")
    if different:
        raise typer.Exit(1)

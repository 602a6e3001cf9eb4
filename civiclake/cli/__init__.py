"""The ``civiclake`` command line: every pipeline step, runnable alone or from Airflow.

One module per command group; the source families' commands (``simulate``, ``ingest``,
``quality``) come from civiclake/families.toml. Commands import the jobs, simulators and
models they run lazily, so ``civiclake --help`` is instant and the core package never
depends on the layers above it (nothing imports this package: it is an entry point).
"""

from __future__ import annotations

import logging
import sys

import typer

from civiclake.cli import (
    brief,
    cases,
    classifier,
    dispatch,
    driver,
    escalation,
    frames,
    geography,
    ingest,
    lake,
    maintenance,
    manhole,
    marts,
    operations,
    quality,
    review,
    serve,
    simulate,
    summary,
)
from civiclake.cli.common import console
from civiclake.settings import MissingSecretError

app = typer.Typer(help="civiclake: community-governance data platform.", no_args_is_help=True)
app.add_typer(simulate.app, name="simulate")
app.add_typer(ingest.app, name="ingest")
app.add_typer(quality.app, name="quality")
app.add_typer(classifier.app, name="classifier")
app.add_typer(marts.app, name="marts")
app.add_typer(cases.app, name="cases")
app.add_typer(dispatch.app, name="dispatch")
app.add_typer(escalation.app, name="escalation")
app.add_typer(review.app, name="review")
app.command("summary")(summary.summary)
app.add_typer(serve.app, name="serve")
app.add_typer(brief.app, name="brief")
app.add_typer(frames.app, name="frames")
app.add_typer(geography.app, name="geography")
app.add_typer(manhole.app, name="manhole")
app.add_typer(operations.app, name="operations")
app.add_typer(lake.app, name="lake")  # time travel: history, reads as of a version or a time
app.add_typer(maintenance.app, name="maintain")  # retention: landing, bronze, OPTIMIZE, VACUUM
app.command("erase")(maintenance.erase)  # retention: one resident out of every file
app.add_typer(driver.app, name="spark-driver")  # one warm Spark session for a run's Spark commands


@app.callback()
def _setup(verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging.")) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("py4j", "great_expectations"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def run(argv: list[str]) -> int:
    """Runs ``civiclake argv`` in this process and returns its exit code; a missing secret
    ends with its message and exit code 2."""
    try:
        app(args=argv, prog_name="civiclake")
    except SystemExit as end:
        if end.code is None or isinstance(end.code, int):
            return end.code or 0
        console.print(str(end.code), markup=False)
        return 1
    except MissingSecretError as error:
        console.print(f"[red]{error}[/red]")
        return 2
    return 0


def main() -> None:
    """The console script: a Spark command runs on the warm Spark driver where one is
    configured (civiclake.cli.driver), any other command here."""
    argv = sys.argv[1:]
    code = driver.forwarded(argv)
    sys.exit(run(argv) if code is None else code)

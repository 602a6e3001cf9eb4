"""What the command groups share: the console, the --date and --skip-exit-code options, the
Spark session, the exit on an expected error and the per-family command registration."""

from __future__ import annotations

from datetime import date
from typing import NoReturn

import typer
from rich.console import Console

from civiclake.families import FamilyRegistryError
from civiclake.settings import get_settings

# Messages go to stderr; stdout carries what a command prints for machines (JSON, exports).
console = Console(stderr=True)
DateOption = typer.Option(..., "--date", help="Logical date YYYY-MM-DD of the batch.")


def skip_exit_code_option(when: str, otherwise: str):
    """``--skip-exit-code``: how a step tells the daily DAG it had nothing to do here."""
    return typer.Option(
        None,
        "--skip-exit-code",
        help=f"When {when}, say so and exit with this code instead of {otherwise} "
        "(the daily DAG passes 99, which Airflow marks as skipped).",
    )


def logical_date(value: str) -> date:
    """The ``--date`` value as a date, or a usage error that shows the expected form."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"--date must look like 2026-11-25, got {value!r}") from None


# The mark of a command that runs Spark jobs (:func:`spark_command`).
SPARK_COMMAND = "civiclake_spark_command"


def spark_command(command):
    """Marks a command that runs Spark jobs: where CIVICLAKE_SPARK_DRIVER_SOCKET names a warm
    driver (``civiclake spark-driver serve``), the command runs there (civiclake.cli.driver)."""
    setattr(command, SPARK_COMMAND, True)
    return command


def spark(name: str):
    """A Spark session for the job ``name``, built from the settings (imported only when a job runs)."""
    from civiclake.spark import spark_session

    return spark_session(get_settings(), name)


def fail(error: Exception) -> NoReturn:
    """Prints an expected error (bad input, a missing source) in red and exits with code 1.

    The message is printed as it is: not wrapped at the terminal's width (a path it names
    stays one piece to copy) and not read as markup (it may quote a bad value in brackets).
    """
    console.print(str(error), style="red", soft_wrap=True, markup=False)
    raise typer.Exit(1) from None


def add_family_commands(group: typer.Typer, step: str, commands: dict, families) -> None:
    """Adds ``commands[family]`` as ``civiclake <step> <family>`` for each of ``families``, in
    the registry's order; a family without a command (or a command without a family) is a
    mistake in civiclake/families.toml or in the group's module, named here."""
    names = [family.name for family in families]
    missing = [name for name in names if name not in commands]
    unknown = sorted(set(commands) - set(names))
    if missing or unknown:
        raise FamilyRegistryError(
            f"`civiclake {step}` and civiclake/families.toml disagree: "
            f"families without a command: {missing or 'none'}; commands without a family: "
            f"{unknown or 'none'} (each family needs its command in civiclake/cli/{step}.py)"
        )
    for name in names:
        group.command(name)(commands[name])

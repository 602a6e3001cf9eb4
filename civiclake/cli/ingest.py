"""``civiclake ingest <family>``: a family's source of one day → Delta bronze → silver.

One command per family of civiclake/families.toml; each imports its Spark job
(``spark_jobs.ingest_<family>``, ``spark_jobs.ingest_exports`` for a file-export family)
only when it runs, and prints what the job did to each silver table as JSON.
"""

from __future__ import annotations

import json

import typer

from civiclake.cli.common import (
    DateOption,
    add_family_commands,
    console,
    fail,
    logical_date,
    spark,
    spark_command,
)
from civiclake.families import families
from civiclake.settings import get_settings

app = typer.Typer(help="Extract sources into Delta bronze and silver.", no_args_is_help=True)


def _report(result) -> None:
    """Prints each table's result; exits 1 when a file was not loaded (the others are)."""
    typer.echo(json.dumps(result.summary(), ensure_ascii=False, indent=2))
    if result.note:
        console.print(result.note, markup=False)
    for error in result.failed_files:
        console.print(f"[red]file not loaded: {error}[/red]")
    if result.failed_files:
        console.print(f"[red]{len(result.failed_files)} file(s) not loaded; the other files were[/red]")
        raise typer.Exit(1)


@spark_command
def governance(day: str = DateOption) -> None:
    """Governance cases: watermark extraction → bronze → MERGE into silver."""
    from spark_jobs import ingest_governance as job

    _report(job.run(spark(f"ingest_governance_{day}"), get_settings(), logical_date(day)))


@spark_command
def city(day: str = DateOption) -> None:
    """City management: watermark extraction with lookback → bronze → MERGE into silver."""
    from spark_jobs import ingest_city as job

    _report(job.run(spark(f"ingest_city_{day}"), get_settings(), logical_date(day)))


@spark_command
def resources(day: str = DateOption) -> None:
    """Registry extracts → bronze → SCD2 history in silver."""
    from civiclake.ingest.registry_extracts import SnapshotMissingError
    from civiclake.lake.scd2 import SnapshotOrderError
    from spark_jobs import ingest_resources as job

    try:
        result = job.run(spark(f"ingest_resources_{day}"), get_settings(), logical_date(day))
    except (SnapshotMissingError, SnapshotOrderError, job.ExtractIncompleteError) as error:
        fail(error)
    _report(result)


@spark_command
def positions(day: str = DateOption) -> None:
    """Fleet position reports of --date (hourly CSV) → bronze → MERGE into silver (exit 1 when a file fails)."""
    from civiclake.ingest.raw_exports import RawExportsRemovedError
    from spark_jobs import ingest_positions as job

    try:
        result = job.run(spark(f"ingest_positions_{day}"), get_settings(), logical_date(day))
    except (FileNotFoundError, RawExportsRemovedError, job.ResourceRegistryMissingError) as error:
        fail(error)
    _report(result)


@spark_command
def cameras(
    day: str = DateOption,
    hour: int = typer.Option(
        None, "--hour", min=0, max=23, help="Only this landing hour (0-23) of --date; default: the whole day."
    ),
) -> None:
    """Camera clips of --date (or one --hour): decode, detect, persistent events; no pixels kept."""
    from civiclake.frames.classes import FrameClassesError, FrameModelRegistryError
    from models.frame_detector.detector import FrameModelError
    from spark_jobs import ingest_cameras as job

    name = f"ingest_cameras_{day}" + ("" if hour is None else f"_{hour:02d}")
    try:
        result = job.run(spark(name), get_settings(), logical_date(day), hour)
    except (
        job.CameraRegistryMissingError,
        FrameClassesError,
        FrameModelRegistryError,
        FrameModelError,
    ) as error:
        fail(error)
    _report(result)


def _exports(family: str, day: str) -> None:
    """A file-export family's files of the day."""
    from civiclake.ingest.raw_exports import RawExportsRemovedError
    from spark_jobs import ingest_exports as job

    try:
        result = job.run(spark(f"ingest_{family}_{day}"), get_settings(), logical_date(day), family)
    except (FileNotFoundError, RawExportsRemovedError) as error:
        fail(error)
    _report(result)


@spark_command
def party(day: str = DateOption) -> None:
    """Party-building exports of --date → bronze → MERGE into silver (exit 1 when a file fails)."""
    _exports("party", day)


@spark_command
def services(day: str = DateOption) -> None:
    """People-services exports of --date → bronze → MERGE into silver (exit 1 when a file fails)."""
    _exports("services", day)


@spark_command
def open311(
    day: str = DateOption,
    base_url: str = typer.Option(
        families()["open311"].ingest_option("base-url").default,
        "--base-url",
        help="Root of the Open311 server (before /open311/v2).",
    ),
    jurisdiction: str = typer.Option(
        None,
        "--jurisdiction",
        help="Jurisdiction whose box and time zone apply (default: CIVICLAKE_JURISDICTION).",
    ),
    page_size: int = typer.Option(200, "--page-size", help="Requests per page."),
) -> None:
    """Open311 requests: paged API extraction (resumable) → bronze → MERGE into silver."""
    from civiclake.jurisdiction import UnknownJurisdictionError, load_jurisdiction
    from civiclake.sources.open311 import Open311Error
    from spark_jobs import ingest_open311 as job

    try:
        load_jurisdiction(jurisdiction)
    except UnknownJurisdictionError as error:
        raise typer.BadParameter(str(error), param_hint="'--jurisdiction'") from None
    logical_day = logical_date(day)
    try:
        result = job.run(
            spark(f"ingest_open311_{day}"),
            get_settings(),
            logical_day,
            base_url,
            jurisdiction,
            page_size=page_size,
        )
    except Open311Error as error:
        fail(error)
    _report(result)


add_family_commands(
    app,
    "ingest",
    {
        "governance": governance,
        "city": city,
        "resources": resources,
        "positions": positions,
        "cameras": cameras,
        "party": party,
        "services": services,
        "open311": open311,
    },
    families().values(),
)

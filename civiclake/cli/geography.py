"""``civiclake geography``: the versions of the reference geography and codes translated between them."""

from __future__ import annotations

from typing import Annotated

import typer

from civiclake.cli.common import console

app = typer.Typer(help="Reference geography versions and their area codes.", no_args_is_help=True)

LEVEL_BY_LENGTH = {6: "district", 9: "street", 12: "community", 14: "grid"}


@app.command("versions")
def versions_command() -> None:
    """Each version with its areas; marks the current one and the one this run uses."""
    from civiclake.geography import CURRENT_VERSION, active_version, load_geography, versions

    active = active_version()
    for version in versions():
        geography = load_geography(version)
        marks = [
            m for m, on in (("current", version == CURRENT_VERSION), ("in use", version == active)) if on
        ]
        typer.echo(
            f"{version}\t{len(geography.streets)} streets, {len(geography.communities)} communities, "
            f"{len(geography.grids)} grids" + (f"\t({', '.join(marks)})" if marks else "")
        )


@app.command("map")
def map_command(
    codes: Annotated[list[str], typer.Argument(help="Area codes (district, street, community or grid).")],
    from_version: str = typer.Option("v1", "--from", help="Version the codes belong to."),
    to_version: str = typer.Option(None, "--to", help="Version to translate to (default: the current one)."),
) -> None:
    """Translate codes: one line per code, ``<from code> <to code> <level> <name>`` (tab-separated)."""
    from civiclake.geography import (
        CURRENT_VERSION,
        UnknownCodeError,
        UnknownVersionError,
        load_geography,
        map_codes,
    )

    to_version = to_version or CURRENT_VERSION
    try:
        mapped = map_codes(codes, from_version, to_version)
    except (UnknownVersionError, UnknownCodeError) as error:
        console.print(str(error), style="red", markup=False, highlight=False)
        raise typer.Exit(1) from None
    geography = load_geography(to_version)
    areas = {geography.district.code: geography.district} | geography.streets
    areas |= geography.communities | geography.grids
    for code, new in zip(codes, mapped, strict=True):
        typer.echo(f"{code}\t{new}\t{LEVEL_BY_LENGTH[len(new)]}\t{areas[new].name}")

"""``civiclake summary``: what a day's run left in each layer, printed for people or as JSON."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from civiclake.cli.common import DateOption, logical_date
from civiclake.settings import get_settings


def summary(
    day: str = DateOption,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Rows per layer, reconciliation, dispatch and the mart totals by street for --date."""
    from civiclake.summary import run_summary

    result = run_summary(get_settings(), logical_date(day))
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2, default=str))
        return
    out = Console()
    layers = Table(title=f"civiclake {day}: rows per layer")
    layers.add_column("table")
    layers.add_column("rows", justify="right")
    for name, rows in result["rows"].items():
        layers.add_row(name, str(rows))
    out.print(layers)
    if result["sources_text"]:
        out.print(f"sources of the {day} batch (source = silver + quarantine + duplicate):")
        out.print(result["sources_text"], markup=False, highlight=False, soft_wrap=True)
    d = result["dispatch"]
    if d:
        out.print(
            f"dispatch of the day's cases: {d['auto']} automatic, {d['review']} waiting for review, "
            f"{d['duplicate']} linked to an open case as duplicates"
        )
        for department, cases in sorted(d.get("auto_by_department", {}).items(), key=lambda x: -x[1]):
            out.print(f"  automatic → {department}: {cases}")
    if result["cameras_text"]:
        out.print(result["cameras_text"], markup=False, highlight=False)
    streets = Table(title=f"cases on {day} by street (mart_cases_by_level_daily)")
    for column in ("street", "code", "reported", "closed"):
        streets.add_column(column)
    for row in result["streets"]:
        streets.add_row(
            row["area_name"], row["area_code"], str(row["cases_reported"]), str(row["cases_closed"])
        )
    if result["district"]:
        d = result["district"]
        streets.add_row(
            f"[b]{d['area_name']}[/b]", d["area_code"], str(d["cases_reported"]), str(d["cases_closed"])
        )
    out.print(streets)
    if result["headline_text"]:
        out.print(result["headline_text"], markup=False, highlight=False)

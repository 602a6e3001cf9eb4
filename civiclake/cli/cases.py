"""``civiclake cases``: the case funnel, every channel in one silver case table."""

from __future__ import annotations

import json

import typer

from civiclake.cli.common import DateOption, console, fail, logical_date, spark, spark_command
from civiclake.settings import get_settings

app = typer.Typer(help="The case funnel: every channel's cases in one table.", no_args_is_help=True)

CategoriesOption = typer.Option(
    None,
    "--categories",
    help="The source category mapping YAML (default: civiclake/reference/cases/source_categories.yaml).",
)


@app.command("build")
@spark_command
def build(day: str = DateOption, categories: str = CategoriesOption) -> None:
    """Build silver.cases from governance, city and Open311 silver: cases reported up to --date, MERGEd by case_id."""
    from civiclake.cases.categories import SourceCategoriesError
    from spark_jobs import case_funnel as job

    when = logical_date(day)
    try:
        result = job.run(spark(f"case_funnel_{day}"), get_settings(), when, categories_path=categories)
    except (SourceCategoriesError, job.NoCaseSourceError, job.DuplicateCaseIdError) as error:
        fail(error)
    console.print_json(json.dumps(result, ensure_ascii=False))


@app.command("check-categories")
def check_categories(categories: str = CategoriesOption) -> None:
    """Validate the source category mapping: every target a catalogue code (or null), every contract code mapped."""
    from civiclake.cases.categories import SourceCategoriesError, load_categories

    try:
        mapping = load_categories(categories)
    except SourceCategoriesError as error:
        fail(error)
    for source, codes in sorted(mapping.sources.items()):
        unmapped = sorted(code for code, category in codes.items() if category is None)
        console.print(f"{source}: {len(codes)} codes, {len(unmapped)} not a district category")
    console.print(f"{mapping.path}: valid")

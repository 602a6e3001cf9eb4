"""The ``civiclake`` command line: every pipeline step, runnable alone or from Airflow.

Commands import the jobs they run lazily, so ``civiclake --help`` is instant and the
core package never depends on the layers above it.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import date

import typer
from rich.console import Console
from rich.table import Table

from civiclake.settings import MissingSecretError, get_settings

app = typer.Typer(help="civiclake: community-governance data platform.", no_args_is_help=True)
simulate_app = typer.Typer(help="Write simulated source-system data.", no_args_is_help=True)
ingest_app = typer.Typer(help="Extract sources into Delta bronze and silver.", no_args_is_help=True)
quality_app = typer.Typer(help="Great Expectations quality gates.", no_args_is_help=True)
classifier_app = typer.Typer(help="Train and run the case classifier.", no_args_is_help=True)
marts_app = typer.Typer(help="Build and publish the dbt marts (write-audit-publish).", no_args_is_help=True)
app.add_typer(simulate_app, name="simulate")
app.add_typer(ingest_app, name="ingest")
app.add_typer(quality_app, name="quality")
app.add_typer(classifier_app, name="classifier")
app.add_typer(marts_app, name="marts")

console = Console(stderr=True)
DateOption = typer.Option(..., "--date", help="Logical date YYYY-MM-DD of the batch.")


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"--date must look like 2026-11-25, got {value!r}") from None


def _spark(name: str):
    from civiclake.spark import spark_session

    return spark_session(get_settings(), name)


@app.callback()
def _setup(verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging.")) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("py4j", "great_expectations"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@simulate_app.command("governance")
def simulate_governance(
    day: str = DateOption,
    history_days: int = typer.Option(
        None,
        help="Days before --date to simulate first when the source lacks them "
        "[default: CIVICLAKE_SIM_HISTORY_DAYS or 30].",
    ),
) -> None:
    """One day of governance cases into the PostgreSQL source database."""
    from civiclake.sources.governance_sim import simulate_day

    settings = get_settings()
    history = settings.sim_history_days if history_days is None else history_days
    rows = simulate_day(_date(day), settings, history_days=history)
    console.print(f"governance source: {rows} cases created or changed on {day}")


@ingest_app.command("governance")
def ingest_governance(day: str = DateOption) -> None:
    """Governance cases: watermark extraction → bronze → MERGE into silver."""
    from spark_jobs import ingest_governance as job

    result = job.run(_spark(f"ingest_governance_{day}"), get_settings(), _date(day))
    console.print_json(json.dumps(result.__dict__))


@quality_app.command("silver")
def quality_silver(day: str = DateOption) -> None:
    """Validate every silver table; exits non-zero when an expectation fails."""
    from quality.gate import QualityGateError
    from spark_jobs import quality_silver as job

    _date(day)
    try:
        reports = job.run(_spark(f"quality_silver_{day}"), get_settings())
    except QualityGateError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from None
    for report in reports:
        console.print(f"{report.suite}: {report.rows} rows, {report.evaluated} expectations met")


@classifier_app.command("train")
def classifier_train(
    day: str = typer.Option(
        None,
        "--date",
        help="Platform mode: train on silver cases reported before this date (YYYY-MM-DD) and register.",
    ),
    input_file: str = typer.Option(
        None, "--input", help="File mode: a labelled CSV (UTF-8 or GBK) or Parquet file of your own."
    ),
    text_column: str = typer.Option(
        None, "--text-column", help="File mode: the column holding the case text."
    ),
    label_column: str = typer.Option(None, "--label-column", help="File mode: the column holding the label."),
    output: str = typer.Option(None, "--output", help="File mode: the model directory to write."),
    target_precision: float = typer.Option(
        None,
        "--target-precision",
        help="File mode: precision the confidence threshold must reach on validation data [default: 0.97].",
    ),
    seed: int = typer.Option(
        None, "--seed", help="File mode: seed of the split and the model [default: 20261126]."
    ),
    model: str = typer.Option(
        None, "--model", help="File mode: calibrated_svc (default) or tfidf_logreg (the baseline)."
    ),
    compare_baseline: bool = typer.Option(
        False,
        "--compare-baseline",
        help="File mode: also fit the baseline on the same split; both go in the card.",
    ),
    encoding: str = typer.Option(
        None, "--encoding", help="File mode: CSV encoding [default: UTF-8, else GBK]."
    ),
) -> None:
    """Train the case classifier: on silver history up to --date (registered), or on your own --input file."""
    if (day is None) == (input_file is None):
        raise typer.BadParameter(
            "give exactly one of --date (train on the platform's silver cases and register the model) "
            "or --input FILE (train on your own labelled CSV/Parquet file)",
            param_hint="'--date' / '--input'",
        )
    if day is not None:
        file_only = {
            "--text-column": text_column,
            "--label-column": label_column,
            "--output": output,
            "--target-precision": target_precision,
            "--seed": seed,
            "--model": model,
            "--encoding": encoding,
        }
        given = [name for name, value in file_only.items() if value is not None]
        if compare_baseline:
            given.append("--compare-baseline")
        if given:
            raise typer.BadParameter(
                f"{', '.join(given)} only apply to --input; --date trains with the platform's settings",
                param_hint="'--date'",
            )
        from spark_jobs import train_classifier as job

        card = job.run(_spark(f"train_classifier_{day}"), get_settings(), _date(day))
        console.print(f"{card.name} {card.version}: threshold {card.threshold:.3f}, metrics {card.metrics}")
        return

    missing = [
        n
        for n, v in (("--text-column", text_column), ("--label-column", label_column), ("--output", output))
        if v is None
    ]
    if missing:
        raise typer.BadParameter(f"--input needs {', '.join(missing)} too", param_hint="'--input'")
    from pathlib import Path

    from models.case_classifier.files import ClassifierFileError, train_from_file
    from models.case_classifier.pipeline import BASELINE_MODEL, DEFAULT_MODEL, MODELS

    model = model or DEFAULT_MODEL
    if model not in MODELS:
        raise typer.BadParameter(f"choose one of {sorted(MODELS)}, got {model!r}", param_hint="'--model'")
    try:
        directory, card = train_from_file(
            Path(input_file),
            text_column,
            label_column,
            Path(output),
            target_precision=0.97 if target_precision is None else target_precision,
            seed=20261126 if seed is None else seed,
            model=model,
            compare_with=BASELINE_MODEL if compare_baseline and model != BASELINE_MODEL else None,
            encoding=encoding,
        )
    except ClassifierFileError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from None
    m = card.metrics
    console.print(
        f"model {card.model} written to {directory}: {card.training_rows} train / {card.validation_rows} "
        f"validation / {card.test_rows} test rows; test accuracy {m['accuracy']:.4f}, macro-F1 "
        f"{m['macro_f1']:.4f}; threshold {card.threshold:.4f} dispatches {m['coverage_at_threshold']:.1%} "
        f"automatically at precision {m['precision_at_threshold']:.4f} (target {card.target_precision:.0%})"
    )
    if card.comparison:
        c = card.comparison["metrics"]
        console.print(
            f"baseline {card.comparison['model']} on the same split: accuracy {c['accuracy']:.4f}, "
            f"macro-F1 {c['macro_f1']:.4f}, coverage {c['coverage_at_threshold']:.1%}"
        )


@classifier_app.command("predict")
def classifier_predict(
    model_dir: str = typer.Option(..., "--model", help="A model directory written by `classifier train`."),
    input_file: str = typer.Option(..., "--input", help="A CSV (UTF-8 or GBK) or Parquet file of cases."),
    output: str = typer.Option(..., "--output", help="The file to write (.csv or .parquet)."),
    text_column: str = typer.Option(
        None, "--text-column", help="The column holding the case text [default: the model's training column]."
    ),
    encoding: str = typer.Option(None, "--encoding", help="CSV encoding [default: UTF-8, else GBK]."),
) -> None:
    """Write every input row with predicted_label, confidence and decision (auto at the model's threshold, else review)."""
    from pathlib import Path

    from models.case_classifier.files import ClassifierFileError, predict_file
    from models.case_classifier.train import UntrustedModelError

    try:
        path, counts = predict_file(
            Path(model_dir), Path(input_file), Path(output), text_column=text_column, encoding=encoding
        )
    except (ClassifierFileError, FileNotFoundError, UntrustedModelError) as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from None
    console.print(
        f"{path}: {counts['rows']} rows, {counts['auto']} above the threshold (auto), "
        f"{counts['review']} for review ({counts['no_text']} without text)"
    )


@classifier_app.command("score")
def classifier_score(day: str = DateOption) -> None:
    """Score the cases reported on --date and decide automatic dispatch or review."""
    from spark_jobs import score_cases as job

    result = job.run(_spark(f"score_cases_{day}"), get_settings(), _date(day))
    console.print_json(json.dumps(result))


@marts_app.command("prepare")
def marts_prepare(day: str = DateOption) -> None:
    """Start a build: copy the published marts to the build file."""
    from civiclake import marts

    _date(day)
    console.print(f"build file: {marts.prepare(get_settings())}")


@marts_app.command("publish")
def marts_publish(day: str = DateOption) -> None:
    """Atomically publish the tested build file."""
    from civiclake import marts

    _date(day)
    console.print_json(json.dumps(marts.publish(get_settings())))


@marts_app.command("build")
def marts_build(day: str = DateOption) -> None:
    """prepare + dbt build (models and tests) + publish."""
    from civiclake import marts

    _date(day)
    try:
        counts = marts.build(get_settings())
    except marts.MartsBuildError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from None
    console.print_json(json.dumps(counts))


@marts_app.command("env")
def marts_env() -> None:
    """Print the environment the dbt project needs, as shell exports."""
    from civiclake import marts

    for key, value in marts.dbt_environment(get_settings()).items():
        typer.echo(f"export {key}={value}")


@app.command()
def summary(
    day: str = DateOption,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Rows per layer, reconciliation, dispatch and the mart totals by street for --date."""
    from civiclake.summary import run_summary

    result = run_summary(get_settings(), _date(day))
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
    for table, recon in result["reconciliation"].items():
        out.print(f"reconciliation {table}: {recon}")
    if result["dispatch"]:
        out.print(
            f"dispatch: {result['dispatch']['auto']} automatic, {result['dispatch']['review']} to review"
        )
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


def main() -> None:
    try:
        app()
    except MissingSecretError as error:
        console.print(f"[red]{error}[/red]")
        sys.exit(2)


if __name__ == "__main__":
    main()

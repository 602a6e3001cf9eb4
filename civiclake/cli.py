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
    from simulators.governance import simulate_day

    settings = get_settings()
    history = settings.sim_history_days if history_days is None else history_days
    rows = simulate_day(_date(day), settings, history_days=history)
    console.print(f"governance source: {rows} cases created or changed on {day}")


@ingest_app.command("governance")
def ingest_governance(day: str = DateOption) -> None:
    """Governance cases: watermark extraction → bronze → MERGE into silver."""
    from spark_jobs import ingest_governance as job

    result = job.run(_spark(f"ingest_governance_{day}"), get_settings(), _date(day))
    console.print_json(json.dumps(result.as_dict(), ensure_ascii=False))


def _quality_gate(suites, filters=None) -> None:
    """Runs a family's quality gate (quality.silver) and exits 1 when an expectation fails.

    A gate checks the silver tables as they stand now, whatever the day: it takes no
    --date."""
    from quality.gate import QualityGateError
    from quality.silver import SilverTableMissingError, gate

    try:
        reports = gate(get_settings(), suites, filters)
    except SilverTableMissingError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from None
    failed = False
    for report in reports:
        if report.success:
            console.print(f"{report.suite}: {report.rows} rows, {report.evaluated} expectations met")
        else:
            failed = True
            console.print(f"[red]{QualityGateError(report)}[/red]")
    if failed:
        raise typer.Exit(1)


@quality_app.command("silver")
def quality_silver() -> None:
    """Validate the governance silver tables; exits non-zero when an expectation fails."""
    from quality.suites import SUITES

    _quality_gate(SUITES)


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
    metadata_columns: str = typer.Option(
        None,
        "--metadata-columns",
        help="File mode: comma-separated columns read beside the text as categories (e.g. channel,street).",
    ),
    max_age_days: int = typer.Option(
        None,
        "--max-age-days",
        help="Platform mode: keep the registered model if one was trained fewer than this many days "
        "before --date (the daily run only trains when the weekly model is missing or stale).",
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
            "--metadata-columns": metadata_columns,
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

        spark = _spark(f"train_classifier_{day}")
        logical_date = _date(day)
        if max_age_days is not None:
            latest = job.latest_registered(spark, get_settings(), logical_date)
            if latest is not None:
                trained_before = job.version_date(latest[0])
                if (logical_date - trained_before).days < max_age_days:
                    console.print(f"keeping model {latest[0]} (trained before {trained_before})")
                    return
        card = job.run(spark, get_settings(), logical_date)
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
            metadata_columns=tuple(c.strip() for c in (metadata_columns or "").split(",") if c.strip()),
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
    """Score the cases reported on --date and dispatch them: routed by the rules, review queue or duplicate."""
    from civiclake.dispatch.rules import RoutingRulesError
    from spark_jobs import score_cases as job

    try:
        result = job.run(_spark(f"score_cases_{day}"), get_settings(), _date(day))
    except RoutingRulesError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from None
    console.print_json(json.dumps(result))


# --- dispatch: routing rules and the review queue's decisions -------------------------------
dispatch_app = typer.Typer(
    help="Case dispatch: check routing rules, record reviewers' decisions.", no_args_is_help=True
)
app.add_typer(dispatch_app, name="dispatch")


@dispatch_app.command("check-rules")
def dispatch_check_rules(
    rules: str = typer.Option(None, "--rules", help="A routing rules YAML file [default: the shipped one]."),
) -> None:
    """Validate a routing rules file and compare it with the catalogue's default departments."""
    from civiclake.dispatch.rules import RoutingRulesError, catalogue_conflicts, load_rules

    try:
        rule_set = load_rules(rules)
    except RoutingRulesError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from None
    conflicts = catalogue_conflicts(rule_set)
    for conflict in conflicts:
        console.print(f"[yellow]differs from the catalogue: {conflict}[/yellow]")
    console.print(f"{rule_set.source}: {len(rule_set.rules)} rules, valid; last is the catch-all")


@dispatch_app.command("review")
def dispatch_review(
    case_id: str = typer.Option(..., "--case-id", help="The case decided."),
    category: str = typer.Option(..., "--category", help="The category the reviewer chose (a code)."),
    reviewer: str = typer.Option(..., "--reviewer", help="Who decided (stored only as a keyed token)."),
    reviewed_at: str = typer.Option(
        None, "--reviewed-at", help="When, local time YYYY-MM-DDTHH:MM[:SS] [default: now]."
    ),
    department: str = typer.Option(
        None, "--department", help="A department chosen by the reviewer [default: the routing rules']."
    ),
) -> None:
    """Record one reviewer's decision on a case of the review queue (a label for training)."""
    from datetime import datetime

    from civiclake.dispatch.corrections import CorrectionError, record_one

    # The moment of a person's decision is an input, taken here at the edge when not given.
    when = reviewed_at or datetime.now().replace(microsecond=0).isoformat()
    try:
        record_one(get_settings(), case_id, category, when, reviewer, department)
    except CorrectionError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from None
    console.print(f"case {case_id}: corrected to {category} ({when}); the next scoring run routes it again")


@dispatch_app.command("corrections")
def dispatch_corrections(
    input_file: str = typer.Option(
        ...,
        "--input",
        help="UTF-8 CSV with case_id, corrected_category, reviewed_at, reviewer [, corrected_department].",
    ),
) -> None:
    """Record reviewers' decisions in bulk; bad rows are reported (file line, field) and the good ones kept."""
    from pathlib import Path

    from civiclake.dispatch.corrections import CorrectionError, record_file

    try:
        outcome = record_file(get_settings(), Path(input_file))
    except CorrectionError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from None
    for message in outcome.errors:
        console.print(f"[red]{message}[/red]")
    console.print(
        f"{input_file}: {outcome.written} corrections recorded, {len(outcome.errors)} rows rejected"
    )
    if outcome.errors:
        raise typer.Exit(1)


@dispatch_app.command("simulate-reviews")
def dispatch_simulate_reviews(day: str = DateOption) -> None:
    """Demo: the simulated reviewers decide the review queue of --date (the simulator's true category)."""
    from simulators.review import simulate_reviews

    console.print_json(json.dumps(simulate_reviews(get_settings(), _date(day))))


# --- end of dispatch ---------------------------------------------------------------------------


@marts_app.command("prepare")
def marts_prepare() -> None:
    """Start a build: copy the last good build to the build file (no --date: it copies files)."""
    from civiclake import marts

    console.print(f"build file: {marts.prepare(get_settings())}")


@marts_app.command("publish")
def marts_publish() -> None:
    """Audit the tested build file, atomically publish its marts alone, keep it as the last good build.

    No --date: the build's day is the one its dbt run was given (``marts build --date``)."""
    from civiclake import marts

    console.print_json(json.dumps(marts.publish(get_settings())))


# Exit code of infra/superset/warm.sh when there is nothing to warm here.
WARM_SKIPPED = 99


@marts_app.command("warm")
def marts_warm(
    marts_file: str = typer.Option(
        None, "--marts-file", help="Marts file the screens read (default: the published one)."
    ),
    skip_exit_code: int = typer.Option(
        None,
        "--skip-exit-code",
        help="When Superset is not set up here or serves other marts, say so and exit with this "
        "code (the daily DAG passes 99, which Airflow marks as skipped) instead of 0.",
    ),
) -> None:
    """Fill Superset's chart-data cache for every civiclake role from the published marts,
    so that the screens' first views after a publish need no query (infra/superset/warm_cache.py)."""
    import subprocess

    from civiclake.settings import PROJECT_ROOT

    target = marts_file or str(get_settings().published_marts_file)
    script = PROJECT_ROOT / "infra" / "superset" / "warm.sh"
    code = subprocess.run(["bash", str(script), "--marts-file", target], check=False).returncode
    if code == WARM_SKIPPED:
        raise typer.Exit(skip_exit_code or 0)
    if code:
        console.print(f"[red]warming the dashboards failed (exit code {code}); see the lines above[/red]")
        raise typer.Exit(1)


@marts_app.command("build")
def marts_build(day: str = DateOption) -> None:
    """prepare + dbt build (models and tests) + publish, the marts as of --date."""
    from civiclake import marts

    try:
        counts = marts.build(get_settings(), as_of=_date(day))
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


# --- file-export sources: party building (党建) and people services (民生服务) ---------------
FILE_SOURCES = ("party", "services")
FileSourceArgument = typer.Argument(..., help="party (党建) or services (民生服务).")


def _file_source(source: str) -> str:
    if source not in FILE_SOURCES:
        raise typer.BadParameter(f"choose one of {', '.join(FILE_SOURCES)}, got {source!r}")
    return source


@simulate_app.command("party")
def simulate_party(day: str = DateOption) -> None:
    """One day of party-building exports (Excel, GBK/UTF-8 CSV) into the landing folder."""
    from simulators.party import simulate_day

    written = simulate_day(_date(day), get_settings())
    console.print(f"party exports for {day}: {sum(written.values())} rows in {len(written)} files")


@simulate_app.command("services")
def simulate_services(day: str = DateOption) -> None:
    """One day of people-services exports (care visits, welfare coupons, service requests)."""
    from simulators.services import simulate_day

    written = simulate_day(_date(day), get_settings())
    console.print(f"services exports for {day}: {sum(written.values())} rows in {len(written)} files")


def _ingest_files(source: str, day: str) -> None:
    from importlib import import_module

    from civiclake.ingest.raw_exports import RawExportsRemovedError

    job = import_module(f"spark_jobs.ingest_{source}")
    try:
        result = job.run(_spark(f"ingest_{source}_{day}"), get_settings(), _date(day))
    except (FileNotFoundError, RawExportsRemovedError) as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from None
    typer.echo(json.dumps([t.summary() for t in result.tables], ensure_ascii=False, indent=2))
    if result.note:
        console.print(result.note, markup=False)
    for error in result.failed_files:
        console.print(f"[red]file not loaded: {error}[/red]")
    if result.failed_files:
        console.print(f"[red]{len(result.failed_files)} file(s) not loaded; the other files were[/red]")
        raise typer.Exit(1)


@ingest_app.command("party")
def ingest_party(day: str = DateOption) -> None:
    """Party-building exports of --date → bronze → MERGE into silver (exit 1 when a file fails)."""
    _ingest_files("party", day)


@ingest_app.command("services")
def ingest_services(day: str = DateOption) -> None:
    """People-services exports of --date → bronze → MERGE into silver (exit 1 when a file fails)."""
    _ingest_files("services", day)


@quality_app.command("files")
def quality_files(source: str = FileSourceArgument) -> None:
    """Validate the silver tables of a file-export source (party or services)."""
    from quality.suites import FILE_EXPORT_SUITES

    _quality_gate(FILE_EXPORT_SUITES[_file_source(source)])


# --- end of file-export sources ----------------------------------------------------------------


# --- basic-resource registries and city management ---------------------------------------


@simulate_app.command("resources")
def simulate_resources(day: str = DateOption) -> None:
    """The registries' full extracts of --date (Parquet + manifest under var/sources/resources)."""
    from simulators.resources import simulate_day

    counts = simulate_day(_date(day), get_settings())
    console.print(f"registry extracts of {day}: {counts}")


@simulate_app.command("city")
def simulate_city(
    day: str = DateOption,
    history_days: int = typer.Option(
        None,
        help="Days before --date to simulate first when the source lacks them [default: CIVICLAKE_SIM_HISTORY_DAYS].",
    ),
) -> None:
    """One day of city-management cases, manhole covers and repairs into PostgreSQL."""
    from simulators.city import simulate_day

    settings = get_settings()
    history = settings.sim_history_days if history_days is None else history_days
    counts = simulate_day(_date(day), settings, history_days=history)
    console.print(f"city source: rows created or changed on {day}: {counts}")


@ingest_app.command("resources")
def ingest_resources(day: str = DateOption) -> None:
    """Registry extracts → bronze → SCD2 history in silver."""
    from simulators.resources import SnapshotMissingError
    from spark_jobs import ingest_resources as job

    try:
        results = job.run(_spark(f"ingest_resources_{day}"), get_settings(), _date(day))
    except (SnapshotMissingError, job.ExtractIncompleteError) as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from None
    console.print_json(json.dumps([r.__dict__ for r in results]))


@ingest_app.command("city")
def ingest_city(day: str = DateOption) -> None:
    """City management: watermark extraction with lookback → bronze → MERGE into silver."""
    from spark_jobs import ingest_city as job

    results = job.run(_spark(f"ingest_city_{day}"), get_settings(), _date(day))
    console.print_json(json.dumps([r.__dict__ for r in results]))


@quality_app.command("resources")
def quality_resources() -> None:
    """Validate the silver registry tables (SCD2); exits non-zero when an expectation fails."""
    from quality.suites import RESOURCE_SUITES

    _quality_gate(RESOURCE_SUITES)


@quality_app.command("city")
def quality_city() -> None:
    """Validate the silver city-management tables; exits non-zero when an expectation fails."""
    from quality.suites import CITY_SUITES

    _quality_gate(CITY_SUITES)


# --- Open311 GeoReport v2 source: simulator server, ingest and its quality gate ------------
serve_app = typer.Typer(help="Serve simulated source systems (for the demo and tests).", no_args_is_help=True)
app.add_typer(serve_app, name="serve")


@serve_app.command("open311")
def serve_open311(
    dataset: str = typer.Option("longhua", "--dataset", help="longhua (simulated i龙华 channel) or nyc311."),
    port: int = typer.Option(8311, "--port", help="Port on 127.0.0.1 (0: any free port)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    day: str = typer.Option(
        None, "--date", help="longhua: the last simulated day YYYY-MM-DD (required for longhua)."
    ),
    days: int = typer.Option(7, "--days", help="longhua: days of requests up to --date."),
    nyc311_dir: str = typer.Option(
        None, "--nyc311-dir", help="nyc311: folder of NYC 311 CSV files (default: ../shared/data/nyc311)."
    ),
) -> None:
    """Run an Open311 GeoReport v2 API at http://HOST:PORT/open311/v2/ until stopped."""
    import uvicorn

    from simulators.nyc311 import Nyc311DataMissingError
    from simulators.open311_server import create_app, make_dataset

    if dataset not in ("longhua", "nyc311"):
        raise typer.BadParameter(f"choose longhua or nyc311, got {dataset!r}", param_hint="'--dataset'")
    if dataset == "longhua" and day is None:
        raise typer.BadParameter(
            "the longhua dataset needs --date (its last simulated day)", param_hint="'--date'"
        )
    try:
        data = make_dataset(dataset, day=_date(day) if day else None, days=days, nyc311_dir=nyc311_dir)
    except Nyc311DataMissingError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from None
    console.print(f"Open311 {dataset} at http://{host}:{port}/open311/v2/services.json")
    uvicorn.run(create_app(data), host=host, port=port, log_level="warning")


@ingest_app.command("open311")
def ingest_open311(
    day: str = DateOption,
    base_url: str = typer.Option(
        "http://127.0.0.1:8311", "--base-url", help="Root of the Open311 server (before /open311/v2)."
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
    logical_date = _date(day)
    try:
        result = job.run(
            _spark(f"ingest_open311_{day}"),
            get_settings(),
            logical_date,
            base_url,
            jurisdiction,
            page_size=page_size,
        )
    except Open311Error as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from None
    console.print_json(json.dumps(result.__dict__, ensure_ascii=False))


@quality_app.command("open311")
def quality_open311(
    jurisdiction: str = typer.Option(
        None, "--jurisdiction", help="Whose rows to check (default: CIVICLAKE_JURISDICTION)."
    ),
) -> None:
    """Validate silver open311_requests of one jurisdiction; exits non-zero when an expectation fails."""
    from quality.suites import open311_requests

    code = jurisdiction or get_settings().jurisdiction
    _quality_gate({"open311_requests": lambda: open311_requests(code)}, filters=[("jurisdiction", "=", code)])


# --- leaders' brief by e-mail ------------------------------------------------------------
brief_app = typer.Typer(help="The leaders' daily brief (领导简报) by e-mail.", no_args_is_help=True)
app.add_typer(brief_app, name="brief")


@brief_app.command("send")
def brief_send(
    day: str = DateOption,
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Render and compose only: write each brief (.png, .eml) to --out."
    ),
    out: str = typer.Option(None, "--out", help="Folder for the rendered briefs (with --dry-run)."),
    users: str = typer.Option(
        None, "--users", help="Users file with the leaders' roles (default: dashboards/users.yaml)."
    ),
    skip_exit_code: int = typer.Option(
        None,
        "--skip-exit-code",
        help="When no SMTP server is configured (CIVICLAKE_SMTP_HOST unset), say so and exit with "
        "this code instead of failing (the daily DAG passes 99, which Airflow marks as skipped).",
    ),
) -> None:
    """E-mail each leader the brief of their own area for --date, once (reruns send nothing new)."""
    from pathlib import Path

    from civiclake.brief.mailer import smtp_configured
    from civiclake.brief.push import push_briefs
    from civiclake.brief.recipients import DEFAULT_USERS_FILE, BriefError

    logical_date = _date(day)
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
            logical_date,
            Path(users) if users else DEFAULT_USERS_FILE,
            dry_run=dry_run,
            out_dir=Path(out) if out else None,
        )
    except BriefError as error:
        console.print(str(error), style="red", markup=False, highlight=False)
        raise typer.Exit(1) from None
    console.print_json(json.dumps(outcome.as_dict(), ensure_ascii=False))
    if outcome.failed:
        console.print(f"[red]{len(outcome.failed)} brief(s) failed; the other leaders were not held up[/red]")
        raise typer.Exit(1)


def main() -> None:
    try:
        app()
    except MissingSecretError as error:
        console.print(f"[red]{error}[/red]")
        sys.exit(2)


if __name__ == "__main__":
    main()

"""``civiclake classifier``: train the case classifier, predict a file, score and dispatch a day."""

from __future__ import annotations

import json

import typer

from civiclake.cli.common import DateOption, console, fail, logical_date, spark, spark_command
from civiclake.settings import get_settings

app = typer.Typer(help="Train and run the case classifier.", no_args_is_help=True)


@app.command("train")
@spark_command
def train(
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
        None,
        "--model",
        help="File mode: char_word_svc (default), calibrated_svc (characters only) or tfidf_logreg (the baseline).",
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
    unlabelled: str = typer.Option(
        None,
        "--unlabelled",
        help="File mode: comma-separated CSV/Parquet files of past texts without labels; the vectoriser "
        "learns from them too [default: the setting classifier_unlabelled_texts].",
    ),
    unlabelled_column: str = typer.Option(
        None,
        "--unlabelled-column",
        help="File mode: the text column of the --unlabelled files [default: --text-column].",
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
            "--unlabelled": unlabelled,
            "--unlabelled-column": unlabelled_column,
        }
        given = [name for name, value in file_only.items() if value is not None]
        if compare_baseline:
            given.append("--compare-baseline")
        if given:
            raise typer.BadParameter(
                f"{', '.join(given)} only apply to --input; --date trains with the platform's settings",
                param_hint="'--date'",
            )
        from models.case_classifier.registry import latest_registered, version_date
        from spark_jobs import train_classifier as job

        session = spark(f"train_classifier_{day}")
        train_before = logical_date(day)
        if max_age_days is not None:
            latest = latest_registered(session, get_settings(), train_before)
            if latest is not None:
                trained_before = version_date(latest[0])
                if (train_before - trained_before).days < max_age_days:
                    console.print(f"keeping model {latest[0]} (trained before {trained_before})")
                    return
        card = job.run(session, get_settings(), train_before)
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

    from civiclake.settings import PROJECT_ROOT
    from models.case_classifier.files import ClassifierFileError, train_from_file, unlabelled_paths
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
            unlabelled=unlabelled_paths(
                get_settings().classifier_unlabelled_texts if unlabelled is None else unlabelled, PROJECT_ROOT
            ),
            unlabelled_column=unlabelled_column,
        )
    except ClassifierFileError as error:
        fail(error)
    m = card.metrics
    console.print(
        f"model {card.model} written to {directory}: {card.training_rows} train / {card.validation_rows} "
        f"validation / {card.test_rows} test rows"
        + (
            f", vocabulary also from {card.unlabelled_texts} unlabelled texts"
            if card.unlabelled_texts
            else ""
        )
        + f"; test accuracy {m['accuracy']:.4f}, macro-F1 "
        f"{m['macro_f1']:.4f}; threshold {card.threshold:.4f} dispatches {m['coverage_at_threshold']:.1%} "
        f"automatically at precision {m['precision_at_threshold']:.4f} (target {card.target_precision:.0%})"
    )
    if card.comparison:
        c = card.comparison["metrics"]
        console.print(
            f"baseline {card.comparison['model']} on the same split: accuracy {c['accuracy']:.4f}, "
            f"macro-F1 {c['macro_f1']:.4f}, coverage {c['coverage_at_threshold']:.1%}"
        )


@app.command("predict")
def predict(
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
        fail(error)
    console.print(
        f"{path}: {counts['rows']} rows, {counts['auto']} above the threshold (auto), "
        f"{counts['review']} for review ({counts['no_text']} without text)"
    )


@app.command("score")
@spark_command
def score(day: str = DateOption) -> None:
    """Score the funnel's cases reported on --date (silver.cases, every channel) and dispatch them: routed by the
    rules, review queue or duplicate."""
    from civiclake.dispatch.rules import RoutingRulesError
    from spark_jobs import score_cases as job

    try:
        result = job.run(spark(f"score_cases_{day}"), get_settings(), logical_date(day))
    except (RoutingRulesError, job.NoCaseFunnelError) as error:
        fail(error)
    console.print_json(json.dumps(result))

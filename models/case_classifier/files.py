"""A district's own files: train a model from a CSV/Parquet table and label a table with it.

CSV is read as UTF-8 (a BOM is fine); a file that is not UTF-8 is read as GBK (GB18030,
its superset), as Chinese office software exports it, and the encoding used is reported.
``encoding=`` forces one. Every error names the file and, where it applies, the column.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from models.case_classifier import train as trainer
from models.case_classifier.metadata import feature_frame
from models.case_classifier.pipeline import DEFAULT_MODEL

log = logging.getLogger(__name__)

CSV_SUFFIXES = (".csv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")
FALLBACK_ENCODING = "gb18030"  # superset of GBK and GB2312


class ClassifierFileError(ValueError):
    """A file given to `civiclake classifier` cannot be used; the message says why and what to do."""


@dataclass
class Table:
    frame: pd.DataFrame
    path: Path
    encoding: str | None  # None for Parquet


def _kind(path: Path, role: str) -> str:
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return "csv"
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    raise ClassifierFileError(
        f"{role} file {path}: unknown type {suffix or '(no extension)'!r}; use .csv or .parquet"
    )


def read_table(path: Path, encoding: str | None = None) -> Table:
    """A CSV (UTF-8, else GBK) or Parquet file as strings-preserving pandas frame."""
    path = Path(path)
    kind = _kind(path, "input")
    if not path.is_file():
        raise ClassifierFileError(f"input file {path} does not exist")
    if kind == "parquet":
        try:
            return Table(pd.read_parquet(path), path, None)
        except Exception as error:  # pyarrow raises several types for a bad file
            raise ClassifierFileError(f"input file {path} is not a readable Parquet file: {error}") from None
    encodings = [encoding] if encoding else ["utf-8-sig", FALLBACK_ENCODING]
    for candidate in encodings:
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding=candidate)
        except UnicodeDecodeError as error:
            if encoding:
                raise ClassifierFileError(
                    f"input file {path} is not valid {encoding} (byte {error.start}): "
                    "check the file's encoding or leave --encoding out to detect UTF-8/GBK"
                ) from None
            continue
        except LookupError:
            raise ClassifierFileError(f"unknown encoding {encoding!r} for {path}") from None
        except pd.errors.ParserError as error:
            raise ClassifierFileError(f"input file {path} is not a well-formed CSV: {error}") from None
        except pd.errors.EmptyDataError:
            raise ClassifierFileError(f"input file {path} is empty") from None
        if candidate == FALLBACK_ENCODING:
            log.warning("%s is not UTF-8: read it as GBK (GB18030)", path)
        return Table(frame, path, "utf-8" if candidate == "utf-8-sig" else candidate)
    raise ClassifierFileError(
        f"input file {path} is neither UTF-8 nor GBK text: save it as UTF-8 CSV, or name its "
        "encoding with --encoding"
    )


def require_columns(table: Table, *columns: str) -> None:
    missing = [c for c in columns if c not in table.frame.columns]
    if missing:
        raise ClassifierFileError(
            f"input file {table.path} has no column {', '.join(repr(c) for c in missing)}; "
            f"its columns are {list(table.frame.columns)}"
        )


def write_table(frame: pd.DataFrame, path: Path) -> Path:
    path = Path(path)
    kind = _kind(path, "output")
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False, encoding="utf-8")
    return path


def read_unlabelled_texts(paths, text_column: str, encoding: str | None = None) -> list[str]:
    """The non-blank texts of ``text_column`` in each file (CSV or Parquet), once each, in order.

    These are the district's past texts without labels: the vectoriser learns its vocabulary
    and IDF from them too. A missing file or column is a :class:`ClassifierFileError`.
    """
    texts: dict[str, None] = {}
    for path in paths:
        table = read_table(Path(path), encoding)
        if text_column not in table.frame.columns:
            raise ClassifierFileError(
                f"unlabelled texts file {table.path} has no column {text_column!r}; "
                f"its columns are {list(table.frame.columns)}"
            )
        column = table.frame[text_column].dropna().astype(str)
        texts.update(dict.fromkeys(t for t in column if t.strip()))
    return list(texts)


def unlabelled_paths(setting: str, root: Path) -> list[Path]:
    """The files a comma-separated setting names (a relative one from ``root``)."""
    paths = [Path(p.strip()) for p in setting.split(",") if p.strip()]
    return [p if p.is_absolute() else root / p for p in paths]


def train_from_file(
    path: Path,
    text_column: str,
    label_column: str,
    output: Path,
    *,
    target_precision: float = 0.97,
    seed: int = 20261126,
    model: str = DEFAULT_MODEL,
    compare_with: str | None = None,
    version: str | None = None,
    encoding: str | None = None,
    notes: str = "",
    metadata_columns: tuple[str, ...] | list[str] = (),
    unlabelled: tuple[Path, ...] | list[Path] = (),
    unlabelled_column: str | None = None,
):
    """Train on a labelled file, write the model directory; returns (directory, card).

    ``metadata_columns`` (e.g. channel, street) are read beside the text as categories.
    ``unlabelled`` files hold past texts without labels (column ``unlabelled_column``,
    default the text column) that the vectoriser is fitted on as well.
    """
    table = read_table(path, encoding)
    require_columns(table, text_column, label_column, *metadata_columns)
    extra = read_unlabelled_texts(unlabelled, unlabelled_column or text_column, encoding)
    try:
        pipeline, card = trainer.train(
            table.frame,
            text_column,
            label_column,
            name="case_classifier",
            version=version or Path(output).name,
            seed=seed,
            target_precision=target_precision,
            data_description=f"{Path(path).name} ({len(table.frame)} rows"
            + (f", read as {table.encoding}" if table.encoding else "")
            + f"), text `{text_column}`, label `{label_column}`"
            + (f", metadata {list(metadata_columns)}" if metadata_columns else ""),
            model=model,
            compare_with=compare_with,
            notes=notes,
            metadata_columns=tuple(metadata_columns),
            unlabelled_texts=extra,
            unlabelled_source=", ".join(Path(p).name for p in unlabelled),
        )
    except trainer.TrainingDataError as error:
        raise ClassifierFileError(f"{path}: {error}") from None
    return trainer.save(pipeline, card, Path(output)), card


def predict_frame(
    pipeline, card: trainer.ModelCard, texts: pd.Series, metadata: pd.DataFrame | None = None
) -> pd.DataFrame:
    """predicted_label, confidence and decision (auto at or above the card's threshold, else review).

    A missing or blank text gets no label, confidence NaN and goes to review. A model
    with metadata columns (``card.metadata_columns``) reads them from ``metadata``.
    """
    present = texts.notna() & (texts.astype(str).str.strip() != "")
    label = pd.Series(pd.NA, index=texts.index, dtype="object")
    confidence = pd.Series(np.nan, index=texts.index, dtype="float64")
    if present.any():
        if card.metadata_columns:
            if metadata is None:
                raise ValueError(f"the model reads metadata columns {card.metadata_columns}: pass them")
            inputs = metadata.loc[present[present].index].assign(**{card.text_column: texts[present]})
            inputs = feature_frame(inputs, card.text_column, card.metadata_columns)
        else:
            inputs = texts[present].astype(str)
        proba = pipeline.predict_proba(inputs)
        label[present] = pipeline.classes_[proba.argmax(axis=1)]
        confidence[present] = proba.max(axis=1)
    decision = np.where(confidence.to_numpy() >= card.threshold, "auto", "review")
    return pd.DataFrame(
        {"predicted_label": label, "confidence": confidence, "decision": decision}, index=texts.index
    )


def predict_file(
    model_dir: Path,
    path: Path,
    output: Path,
    *,
    text_column: str | None = None,
    encoding: str | None = None,
) -> tuple[Path, dict[str, int]]:
    """Every row of the input with predicted_label, confidence and decision added."""
    pipeline, card = trainer.load(Path(model_dir))
    text_column = text_column or card.text_column
    table = read_table(path, encoding)
    require_columns(table, text_column, *card.metadata_columns)
    _kind(Path(output), "output")
    added = predict_frame(
        pipeline,
        card,
        table.frame[text_column],
        table.frame[card.metadata_columns] if card.metadata_columns else None,
    )
    frame = table.frame.drop(columns=[c for c in added.columns if c in table.frame.columns])
    result = pd.concat([frame, added], axis=1)
    counts = {
        "rows": len(result),
        "auto": int((added["decision"] == "auto").sum()),
        "review": int((added["decision"] == "review").sum()),
        "no_text": int(added["predicted_label"].isna().sum()),
    }
    return write_table(result, output), counts

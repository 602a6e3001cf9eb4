"""``civiclake frames``: the camera class catalogue and the frame detector run on a folder of images."""

from __future__ import annotations

import csv
from pathlib import Path

import typer

from civiclake.cli.common import console, fail

app = typer.Typer(help="Camera frames: the class catalogue and the frame detector.", no_args_is_help=True)

PREDICT_COLUMNS = ("image", "class", "score", "xmin", "ymin", "xmax", "ymax")
SIZE_STEP = 32  # the model's input side must be a multiple of its coarsest stride


@app.command("classes")
def classes() -> None:
    """List the class catalogue: each class's category, the model serving it and its dispatch gate."""
    from rich.console import Console
    from rich.table import Table

    from civiclake.frames.classes import FrameClassesError, FrameModelRegistryError, load_registry

    try:
        registry = load_registry()
    except (FrameClassesError, FrameModelRegistryError) as error:
        fail(error)
    table = Table("class", "名称", "category", "event", "model", "gate", title="camera frame classes")
    for code, frame_class in registry.classes.items():
        served = registry.model_for(code)
        table.add_row(
            code,
            frame_class.name_zh,
            frame_class.category or "-",
            "yes" if frame_class.event else "no",
            f"{served.folder.name} {served.version}" if served else "no model",
            registry.gate(code),
        )
    Console(width=200).print(table)  # stdout: the listing itself
    console.print(f"model folders: {', '.join(str(folder) for folder in registry.folders)}")


def _image_files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.iterdir() if path.is_file() and not path.name.startswith("."))


@app.command("predict")
def predict(
    model: str = typer.Option(
        ..., "--model", help="A frame model folder (e.g. models/frame_detector/shipped)."
    ),
    images: str = typer.Option(
        ..., "--images", help="A folder of images; every file in it but hidden ones is read."
    ),
    output: str = typer.Option(..., "--output", help="The CSV to write: one row per detection."),
    size: int = typer.Option(
        None, "--size", help="Model input side in pixels, a multiple of 32 (default: the model card's, 320)."
    ),
    min_score: float = typer.Option(
        None, "--min-score", help="Keep detections scoring at least this (default: each class's threshold)."
    ),
) -> None:
    """Detect on every image of a folder: rows image,class,score,xmin,ymin,xmax,ymax in its pixels.

    An image without a detection gets one row with an empty class, score and box.
    A file that is not a readable image is named on stderr and left out.
    The command fails only when no image could be read.
    """
    from PIL import Image

    from models.frame_detector.detector import FrameModel, FrameModelError, read_rgb

    images_dir, output_file = Path(images), Path(output)
    if size is not None and (size < SIZE_STEP or size % SIZE_STEP):
        raise typer.BadParameter(f"--size must be a positive multiple of {SIZE_STEP}, got {size}")
    if min_score is not None and not 0 <= min_score <= 1:
        raise typer.BadParameter(f"--min-score must be between 0 and 1, got {min_score}")
    if not images_dir.is_dir():
        fail(ValueError(f"{images_dir}: no such folder of images"))
    try:
        frame_model = FrameModel.load(model)
    except FrameModelError as error:
        fail(error)

    rows: list[tuple[str, ...]] = []
    read, unreadable = 0, 0
    for path in _image_files(images_dir):
        try:
            pixels = read_rgb(path)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
            message = f"{path.name}: not a readable image, skipped ({error})"
            console.print(message, style="yellow", markup=False, highlight=False)
            unreadable += 1
            continue
        read += 1
        detections = frame_model.detect([pixels], min_score=min_score, size=size)[0]
        if not detections:
            rows.append((path.name, "", "", "", "", "", ""))
        for found in sorted(detections, key=lambda d: (-d.score, d.cls)):
            box = (found.xmin, found.ymin, found.xmax, found.ymax)
            rows.append((path.name, found.cls, f"{found.score:.4f}", *(f"{value:.1f}" for value in box)))
    if not read:
        fail(ValueError(f"{images_dir}: no readable image among {unreadable} file(s); nothing written"))

    output_file.parent.mkdir(parents=True, exist_ok=True)
    with output_file.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(PREDICT_COLUMNS)
        writer.writerows(rows)
    detected = sum(1 for row in rows if row[1])
    console.print(
        f"{read} image(s) read, {unreadable} unreadable; {detected} detection(s) by model "
        f"{frame_model.version} written to {output_file}",
        markup=False,
        highlight=False,
    )

"""`civiclake frames predict`: the shipped frame model on a folder of real photos, a blank
image and a file that is not an image."""

from __future__ import annotations

import csv
import json
import re
import shutil

import pytest
from PIL import Image
from typer.testing import CliRunner

from civiclake.cli import app
from civiclake.frames.classes import SHIPPED_MODEL_DIR
from civiclake.settings import PROJECT_ROOT
from models.frame_detector.detector import MAX_DETECTIONS

IMAGES_DIR = PROJECT_ROOT.parent / "shared" / "data" / "urban_event_images" / "images"
# An overflowing bin, loose litter (both 640×640) and a pothole on a highway (640×400).
REAL = ("garbage_0001.jpg", "garbage_0060.jpg", "potholes_highway_0250.jpg")
HEADER = ["image", "class", "score", "xmin", "ymin", "xmax", "ymax"]
ONE_DECIMAL = re.compile(r"\d+\.\d")

needs_model = pytest.mark.skipif(
    not (SHIPPED_MODEL_DIR / "model.onnx").is_file(),
    reason=f"the shipped frame model {SHIPPED_MODEL_DIR} is absent",
)
needs_images = pytest.mark.skipif(
    not IMAGES_DIR.is_dir(), reason=f"the urban event images {IMAGES_DIR} are absent (../shared/data)"
)


def run(*args: str):
    return CliRunner().invoke(app, ["frames", "predict", *args])


def predict(folder, output, *extra: str):
    result = run("--model", str(SHIPPED_MODEL_DIR), "--images", str(folder), "--output", str(output), *extra)
    assert result.exit_code == 0, result.output
    with output.open(encoding="utf-8", newline="") as rows:
        reader = csv.reader(rows)
        assert next(reader) == HEADER
        return [dict(zip(HEADER, row, strict=True)) for row in reader], result


@pytest.fixture
def folder(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    for name in REAL:
        shutil.copy(IMAGES_DIR / name, images / name)
    Image.new("RGB", (320, 240), (128, 128, 128)).save(images / "blank.png")
    (images / "broken.jpg").write_text("this is not a picture", encoding="utf-8")
    (images / "subfolder").mkdir()  # not a file: not read
    return images


@needs_model
@needs_images
def test_every_readable_image_is_listed_with_its_detections_inside_it(folder, tmp_path):
    rows, result = predict(folder, tmp_path / "out" / "detections.csv")
    thresholds = json.loads((SHIPPED_MODEL_DIR / "thresholds.json").read_text(encoding="utf-8"))

    names = [row["image"] for row in rows]
    assert sorted(set(names)) == sorted(["blank.png", *REAL])
    assert names == sorted(names)  # images in name order, an image's rows together
    sizes = {name: Image.open(folder / name).size for name in set(names)}
    assert sizes["potholes_highway_0250.jpg"] == (640, 400)
    for name in set(names):
        mine = [row for row in rows if row["image"] == name]
        if not mine[0]["class"]:
            # No detection: exactly one row, everything but the image empty.
            assert len(mine) == 1 and set(mine[0].values()) == {name, ""}, mine
            continue
        width, height = sizes[name]
        scores = [float(row["score"]) for row in mine]
        assert scores == sorted(scores, reverse=True)
        for row in mine:
            assert row["class"] in thresholds
            assert thresholds[row["class"]] <= float(row["score"]) <= 1
            assert all(ONE_DECIMAL.fullmatch(row[key]) for key in ("xmin", "ymin", "xmax", "ymax")), row
            assert 0 <= float(row["xmin"]) <= float(row["xmax"]) <= width
            assert 0 <= float(row["ymin"]) <= float(row["ymax"]) <= height
    assert [row for row in rows if row["image"] == "blank.png"] == [
        {"image": "blank.png", "class": "", "score": "", "xmin": "", "ymin": "", "xmax": "", "ymax": ""}
    ]
    assert any(row["class"] for row in rows if row["image"] in REAL)
    # The unreadable file is named on stderr and is in no row.
    messages = "".join(result.stderr.split())  # the console wraps long lines
    assert "broken.jpg:notareadableimage" in messages and "4image(s)read,1unreadable" in messages
    assert "broken.jpg" not in names


@needs_model
@needs_images
def test_a_lower_min_score_adds_detections_and_keeps_the_others(folder, tmp_path):
    thresholds = json.loads((SHIPPED_MODEL_DIR / "thresholds.json").read_text(encoding="utf-8"))
    floor = round(min(thresholds.values()) * 0.9, 4)  # below every class's threshold
    default, _ = predict(folder, tmp_path / "default.csv")
    low, _ = predict(folder, tmp_path / "low.csv", "--min-score", str(floor))
    assert {row["image"] for row in low} == {row["image"] for row in default}
    assert all(float(row["score"]) >= floor for row in low if row["class"])

    def near(row):  # the CSV rounds scores: leave out those too close to a threshold to tell
        return abs(float(row["score"]) - thresholds[row["class"]]) < 1e-4

    checked = 0
    for name in {row["image"] for row in default}:
        mine = [row for row in low if row["image"] == name and row["class"]]
        if len(mine) == MAX_DETECTIONS:
            continue  # capped: the best MAX_DETECTIONS of all classes may leave out some the default run kept
        checked += 1
        # Uncapped, the default run's detections are exactly the low run's that reach their class's threshold.
        reaching = [row for row in mine if float(row["score"]) >= thresholds[row["class"]] and not near(row)]
        kept = [row for row in default if row["image"] == name and row["class"] and not near(row)]
        assert kept == reaching
    assert checked, "every image reached the detection cap at the low floor"


@needs_model
def test_a_folder_without_a_readable_image_fails_naming_each_file(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    (images / "a.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut short")
    (images / "b.txt").write_text("notes", encoding="utf-8")
    output = tmp_path / "detections.csv"
    result = run("--model", str(SHIPPED_MODEL_DIR), "--images", str(images), "--output", str(output))
    assert result.exit_code == 1
    messages = "".join(result.stderr.split())
    assert "a.jpg:notareadableimage" in messages and "b.txt:notareadableimage" in messages
    assert "noreadableimageamong2file(s)" in messages
    assert not output.exists()


def test_a_bad_size_or_model_folder_is_refused(tmp_path):
    result = run(
        "--model",
        str(tmp_path),
        "--images",
        str(tmp_path),
        "--output",
        str(tmp_path / "o.csv"),
        "--size",
        "100",
    )
    assert result.exit_code == 2 and "multiple of 32" in result.output
    result = run(
        "--model", str(tmp_path / "absent"), "--images", str(tmp_path), "--output", str(tmp_path / "o.csv")
    )
    assert result.exit_code == 1
    assert f"modelfolder{tmp_path / 'absent'}doesnotexist" in "".join(result.stderr.split())

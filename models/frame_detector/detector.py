"""The frame model at run time: a model folder, checked, and run with onnxruntime.

A model folder holds ``model.onnx``, its SHA-256 in ``model.onnx.sha256`` (sha256sum's
format), ``labels.json`` (the output channels' classes), ``thresholds.json`` (the score from
which a detection counts, per class) and ``card.json``. The shipped detector is one; a
district registers its own for any class in the same shape (models/frame_detector/README.md
gives the model's inputs and outputs).

Inputs are letterboxed: scaled so the longer side is the model's size, pasted at the top
left of a square grey canvas, so a box maps back to the image by one scale factor.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "shipped"
MODEL_FILE = "model.onnx"
CHECKSUM_FILE = "model.onnx.sha256"
STRIDE = 8
PAD_VALUE = 0.5
MAX_DETECTIONS = 50
# Where a test asks each model load to be recorded (one line per load: the process id).
LOAD_LOG_ENV = "CIVICLAKE_FRAME_MODEL_LOAD_LOG"


class FrameModelError(ValueError):
    """A model folder is incomplete or its model file is not the one its checksum names."""


@dataclass(frozen=True)
class Detection:
    cls: str
    score: float
    xmin: float
    ymin: float
    xmax: float
    ymax: float


def letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, float]:
    """``image`` (H×W×3 uint8 RGB) as a 3×size×size float32 array in 0..1, and its scale."""
    height, width = image.shape[:2]
    scale = size / max(height, width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    resized = np.asarray(Image.fromarray(image).resize((new_w, new_h), Image.BILINEAR), np.float32)
    canvas = np.full((size, size, 3), PAD_VALUE, np.float32)
    canvas[:new_h, :new_w] = resized / 255.0
    return canvas.transpose(2, 0, 1), scale


def decode(
    heatmap: np.ndarray,
    size: np.ndarray,
    offset: np.ndarray,
    classes: tuple[str, ...],
    min_scores: np.ndarray,
    scale: float,
    width: int,
    height: int,
) -> list[Detection]:
    """One image's detections from its model outputs (C×G×G, 2×G×G, 2×G×G), in its pixels,
    best first. ``min_scores`` holds one minimum per class."""
    c, i, j = np.nonzero(heatmap >= min_scores[:, None, None])
    if len(c) == 0:
        return []
    scores = heatmap[c, i, j]
    order = np.argsort(-scores, kind="stable")[:MAX_DETECTIONS]
    c, i, j, scores = c[order], i[order], j[order], scores[order]
    cx = (j + offset[0, i, j]) * STRIDE
    cy = (i + offset[1, i, j]) * STRIDE
    w, h = size[0, i, j], size[1, i, j]
    x0 = np.clip((cx - w / 2) / scale, 0, width)
    y0 = np.clip((cy - h / 2) / scale, 0, height)
    x1 = np.clip((cx + w / 2) / scale, 0, width)
    y1 = np.clip((cy + h / 2) / scale, 0, height)
    return [
        Detection(classes[k], float(s), float(a), float(b), float(cc), float(d))
        for k, s, a, b, cc, d in zip(c, scores, x0, y0, x1, y1, strict=True)
    ]


def _read_json(folder: Path, name: str) -> dict:
    path = folder / name
    if not path.is_file():
        raise FrameModelError(
            f"{path} is missing: a model folder holds {MODEL_FILE}, {CHECKSUM_FILE}, "
            "labels.json, thresholds.json and card.json"
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise FrameModelError(f"{path} is not valid JSON: {err}") from err


def verify_checksum(folder: Path) -> str:
    """The model file's SHA-256, after checking it against the one the folder names."""
    model, listed = folder / MODEL_FILE, folder / CHECKSUM_FILE
    for path in (model, listed):
        if not path.is_file():
            raise FrameModelError(f"{path} is missing")
    expected = listed.read_text(encoding="utf-8").split()[0].strip().lower()
    actual = hashlib.sha256(model.read_bytes()).hexdigest()
    if actual != expected:
        raise FrameModelError(
            f"{model} does not match {listed} (sha256 {actual[:12]}…, expected {expected[:12]}…): "
            "the model file was changed or damaged; restore it or register it again with its checksum"
        )
    return actual


class FrameModel:
    """A checked model folder with one onnxruntime session (one intra-op thread: Spark runs
    one task per core, so more threads would only compete)."""

    def __init__(self, folder: Path, session, classes, thresholds, card, sha256: str):
        self.folder = folder
        self.session = session
        self.classes: tuple[str, ...] = tuple(classes)
        self.thresholds: dict[str, float] = thresholds
        self.card: dict = card
        self.sha256 = sha256
        self.version: str = str(card.get("version") or sha256[:12])
        self.input_size: int = int(card.get("input_size", 320))

    @classmethod
    def load(cls, folder: Path | str = DEFAULT_MODEL_DIR) -> FrameModel:
        import onnxruntime as ort

        folder = Path(folder)
        if not folder.is_dir():
            raise FrameModelError(f"model folder {folder} does not exist")
        sha256 = verify_checksum(folder)
        classes = _read_json(folder, "labels.json").get("classes")
        if not classes or not all(isinstance(c, str) for c in classes):
            raise FrameModelError(f'{folder / "labels.json"} must hold {{"classes": [names…]}}')
        thresholds = _read_json(folder, "thresholds.json")
        missing = [c for c in classes if c not in thresholds]
        if missing:
            raise FrameModelError(f"{folder / 'thresholds.json'} has no threshold for {missing}")
        card = _read_json(folder, "card.json")
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(str(folder / MODEL_FILE), options, providers=["CPUExecutionProvider"])
        log_file = os.environ.get(LOAD_LOG_ENV)
        if log_file:
            with open(log_file, "a", encoding="utf-8") as out:
                out.write(f"{os.getpid()}\n")
        return cls(folder, session, classes, {c: float(thresholds[c]) for c in classes}, card, sha256)

    def min_scores(self, min_score: float | None) -> np.ndarray:
        if min_score is not None:
            return np.full(len(self.classes), float(min_score), np.float32)
        return np.array([self.thresholds[c] for c in self.classes], np.float32)

    def detect(
        self, images: list[np.ndarray], min_score: float | None = None, size: int | None = None
    ) -> list[list[Detection]]:
        """Detections per image (H×W×3 uint8 RGB), in its pixels; ``min_score`` None keeps
        each class's threshold."""
        if not images:
            return []
        size = size or self.input_size
        boxed = [letterbox(image, size) for image in images]
        batch = np.stack([b for b, _ in boxed])
        heatmap, sizes, offsets = self.session.run(["heatmap", "size", "offset"], {"images": batch})
        floors = self.min_scores(min_score)
        return [
            decode(
                heatmap[k], sizes[k], offsets[k], self.classes, floors, scale, image.shape[1], image.shape[0]
            )
            for k, (image, (_, scale)) in enumerate(zip(images, boxed, strict=True))
        ]


@functools.cache
def loaded_model(folder: str = str(DEFAULT_MODEL_DIR)) -> FrameModel:
    """The model of ``folder``, loaded once per process (each Spark Python worker)."""
    return FrameModel.load(Path(folder))


def read_rgb(path: Path | str) -> np.ndarray:
    """An image file as H×W×3 uint8 RGB (EXIF orientation is not applied: cameras send frames
    upright, and boxes refer to the stored pixels)."""
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))

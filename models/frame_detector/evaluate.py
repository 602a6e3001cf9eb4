"""A model folder measured on labelled images: the numbers of its card and of the floor test."""

from __future__ import annotations

import numpy as np

from models.frame_detector.data import LabelledImage
from models.frame_detector.detector import FrameModel, read_rgb
from models.frame_detector.metrics import (
    average_precision,
    best_f1_threshold,
    image_scores,
    precision_threshold,
)

# Detections from this score count for AP (the precision-recall curve needs the low ones).
AP_MIN_SCORE = 0.05
BATCH = 16


def detect_all(model: FrameModel, images: list[LabelledImage], size: int | None = None):
    """Every detection (from AP_MIN_SCORE) of every image, in the image's pixels."""
    out = []
    for start in range(0, len(images), BATCH):
        chunk = images[start : start + BATCH]
        out.extend(model.detect([read_rgb(im.path) for im in chunk], min_score=AP_MIN_SCORE, size=size))
    return out


def best_scores(detections, classes: tuple[str, ...]) -> np.ndarray:
    """(images, classes): each image's highest score per class, 0 without a detection."""
    best = np.zeros((len(detections), len(classes)))
    index = {c: k for k, c in enumerate(classes)}
    for row, dets in enumerate(detections):
        for d in dets:
            best[row, index[d.cls]] = max(best[row, index[d.cls]], d.score)
    return best


def present(images: list[LabelledImage], classes: tuple[str, ...], training_classes) -> np.ndarray:
    """(images, classes): whether each image truly shows each class."""
    names = list(training_classes)
    return np.array([[(im.labels == names.index(c)).any() for c in classes] for im in images], bool)


# A class is dispatched without review only at this image-level precision (the card's gate);
# thresholds aim at it where that keeps at least MIN_RECALL of the class's images.
AUTO_DISPATCH_PRECISION = 0.90
MIN_RECALL = 0.5


def choose_thresholds(model: FrameModel, images: list[LabelledImage], training_classes) -> dict[str, float]:
    """Per class, on ``images`` (the validation part): the lowest threshold reaching
    AUTO_DISPATCH_PRECISION with at least MIN_RECALL, else the best-F1 threshold."""
    detections = detect_all(model, images)
    best, truth = best_scores(detections, model.classes), present(images, model.classes, training_classes)
    chosen = {}
    for k, cls in enumerate(model.classes):
        threshold = precision_threshold(best[:, k], truth[:, k], AUTO_DISPATCH_PRECISION, MIN_RECALL)
        chosen[cls] = round(
            threshold if threshold is not None else best_f1_threshold(best[:, k], truth[:, k]), 4
        )
    return chosen


def measure(
    model: FrameModel, images: list[LabelledImage], training_classes, size: int | None = None
) -> dict:
    """Per class on ``images``: image-level precision, recall, F1 at the model's threshold,
    AP50 of the boxes, and how many images show the class."""
    detections = detect_all(model, images, size)
    best, truth = best_scores(detections, model.classes), present(images, model.classes, training_classes)
    names = list(training_classes)
    result = {}
    for k, cls in enumerate(model.classes):
        scores = image_scores(best[:, k], truth[:, k], model.thresholds[cls])
        per_image = [
            [(d.score, np.array([d.xmin, d.ymin, d.xmax, d.ymax])) for d in dets if d.cls == cls]
            for dets in detections
        ]
        truths = [im.boxes[im.labels == names.index(cls)] for im in images]
        result[cls] = {
            "threshold": model.thresholds[cls],
            "images": int(truth[:, k].sum()),
            "precision": _round(scores["precision"]),
            "recall": _round(scores["recall"]),
            "f1": _round(scores["f1"]),
            "ap50": _round(average_precision(per_image, truths)),
        }
    return result


def _round(value: float) -> float | None:
    return None if value != value else round(float(value), 4)

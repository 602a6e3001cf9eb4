"""How good a frame model is, measured as the model card states it.

Image level (what dispatch acts on: is there a pothole in this frame?): an image is
predicted to show a class when it has a detection of that class at or above the class's
threshold; precision, recall and F1 over images. Box level: AP50, the area under the
precision-recall curve of detections matched to boxes of the same class at IoU ≥ 0.5
(every point interpolated, as PASCAL VOC from 2010 and COCO do).
"""

from __future__ import annotations

import numpy as np

IOU_MATCH = 0.5


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one box (4,) with many (n, 4), xmin ymin xmax ymax."""
    if len(boxes) == 0:
        return np.zeros(0)
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[2], boxes[:, 2])
    y1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def average_precision(detections: list[list[tuple[float, np.ndarray]]], truths: list[np.ndarray]) -> float:
    """AP50 of one class: per image, its detections (score, box) and its true boxes (n, 4).
    NaN where the class has no true box."""
    n_true = sum(len(t) for t in truths)
    if n_true == 0:
        return float("nan")
    scored = [(s, k, b) for k, dets in enumerate(detections) for s, b in dets]
    scored.sort(key=lambda d: -d[0])
    used = [np.zeros(len(t), bool) for t in truths]
    hits = np.zeros(len(scored))
    for rank, (_, k, box) in enumerate(scored):
        overlaps = iou(box, truths[k])
        if len(overlaps):
            best = int(np.argmax(overlaps))
            if overlaps[best] >= IOU_MATCH and not used[k][best]:
                used[k][best] = True
                hits[rank] = 1
    if not len(scored):
        return 0.0
    tp = np.cumsum(hits)
    recall = tp / n_true
    precision = tp / np.arange(1, len(scored) + 1)
    # Precision made monotone from the right, integrated over the recall steps.
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.diff(np.concatenate([[0.0], recall]))
    return float(np.sum(steps * envelope))


def image_scores(best_scores: np.ndarray, present: np.ndarray, threshold: float) -> dict[str, float]:
    """Image-level precision, recall and F1 of one class at ``threshold``: ``best_scores``
    holds each image's highest score for the class (0 without a detection), ``present``
    whether the image truly shows it."""
    predicted = best_scores >= threshold
    tp = int((predicted & present).sum())
    fp = int((predicted & ~present).sum())
    fn = int((~predicted & present).sum())
    precision = tp / (tp + fp) if tp + fp else float("nan")
    recall = tp / (tp + fn) if tp + fn else float("nan")
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "fn": fn}


def precision_threshold(
    best_scores: np.ndarray, present: np.ndarray, target: float, min_recall: float
) -> float | None:
    """The lowest score threshold whose image-level precision reaches ``target`` while recall
    stays at ``min_recall`` or more; None where no threshold does."""
    for threshold in np.unique(best_scores[best_scores > 0]):
        scores = image_scores(best_scores, present, float(threshold))
        if scores["recall"] < min_recall:
            return None
        if scores["precision"] >= target:
            return float(threshold)
    return None


def best_f1_threshold(best_scores: np.ndarray, present: np.ndarray, floor: float = 0.05) -> float:
    """The score threshold with the highest image-level F1 (the higher one on ties)."""
    candidates = np.unique(np.concatenate([[floor], best_scores[best_scores >= floor]]))
    best, best_f1 = floor, -1.0
    for threshold in candidates:
        f1 = image_scores(best_scores, present, float(threshold))["f1"]
        if not np.isnan(f1) and f1 >= best_f1:
            best, best_f1 = float(threshold), f1
    return best

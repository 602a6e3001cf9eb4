"""The labelled street images of ``../shared/data/urban_event_images`` and their fixed split.

The garbage images come from a Roboflow export, which stores several augmented copies of
one photo under names ``<photo>_jpg.rf.<hash>.jpg``. A split by file would put copies of
one photo on both sides and flatter the held-out numbers, so images are grouped by the
photo they come from (the source path up to ``.rf.``) and a group's side is fixed by a
hash of its key: the split does not depend on the order, the number of images, or a seed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = PROJECT_ROOT.parent / "shared" / "data" / "urban_event_images"
# Output channels of the shipped model. garbage_bin is not an event: it is learned so that
# a plain bin is told apart from an overflowing one (a hard negative).
CLASSES = ("garbage_overflow", "garbage", "pothole", "garbage_bin")
# Shares of photo groups (by hash): held out for the card, then for choosing thresholds.
TEST_SHARE = 0.20
VALIDATION_SHARE = 0.10
SPLITS = ("train", "validation", "test")


class ImageDataError(FileNotFoundError):
    """The image folder is absent or incomplete."""


@dataclass(frozen=True)
class LabelledImage:
    name: str
    path: Path
    width: int
    height: int
    split: str
    boxes: np.ndarray  # (n, 4) float32 xmin, ymin, xmax, ymax in pixels of the file
    labels: np.ndarray  # (n,) int64 index into CLASSES


def photo_key(source_path: str) -> str:
    """The photo an image comes from: its source path without Roboflow's augmentation suffix."""
    return source_path.split(".rf.")[0]


def split_of(key: str) -> str:
    """train, validation or test for a photo group, fixed by the SHA-1 of its key."""
    bucket = int(hashlib.sha1(key.encode("utf-8")).hexdigest()[:8], 16) / 0xFFFFFFFF
    if bucket < TEST_SHARE:
        return "test"
    if bucket < TEST_SHARE + VALIDATION_SHARE:
        return "validation"
    return "train"


def load_images(data_dir: Path | None = None) -> list[LabelledImage]:
    """Every image with its boxes of the known classes and its split, sorted by name."""
    data_dir = Path(data_dir or DEFAULT_DATA_DIR)
    images_csv, boxes_csv = data_dir / "images.csv", data_dir / "annotations.csv"
    for needed in (images_csv, boxes_csv, data_dir / "images"):
        if not needed.exists():
            raise ImageDataError(
                f"{needed} is absent: the labelled street images are expected in {data_dir} "
                "(../shared/data/urban_event_images, see its README)"
            )
    images = pd.read_csv(images_csv).sort_values("image")
    boxes = pd.read_csv(boxes_csv)
    unknown = sorted(set(boxes["class"]) - set(CLASSES))
    if unknown:
        raise ImageDataError(f"{boxes_csv}: classes {unknown} are not among {list(CLASSES)}")
    index = {name: k for k, name in enumerate(CLASSES)}
    by_image = {name: group for name, group in boxes.groupby("image")}
    out = []
    for row in images.itertuples(index=False):
        group = by_image.get(row.image)
        if group is None:
            coords = np.zeros((0, 4), np.float32)
            labels = np.zeros((0,), np.int64)
        else:
            coords = group[["xmin", "ymin", "xmax", "ymax"]].to_numpy(np.float32)
            labels = group["class"].map(index).to_numpy(np.int64)
        out.append(
            LabelledImage(
                name=row.image,
                path=data_dir / "images" / row.image,
                width=int(row.width),
                height=int(row.height),
                split=split_of(photo_key(str(row.source_path))),
                boxes=coords,
                labels=labels,
            )
        )
    return out


def split_counts(images: list[LabelledImage]) -> dict[str, dict[str, int]]:
    """Images and boxes per class on each side of the split, for the card."""
    counts: dict[str, dict[str, int]] = {}
    for split in SPLITS:
        part = [im for im in images if im.split == split]
        row = {"images": len(part)}
        for k, name in enumerate(CLASSES):
            row[f"images_with_{name}"] = sum(int((im.labels == k).any()) for im in part)
            row[f"boxes_{name}"] = int(sum((im.labels == k).sum() for im in part))
        counts[split] = row
    return counts

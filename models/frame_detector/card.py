"""The detector's model card: ``card.json`` for the platform, ``card.md`` for people.

    python -m models.frame_detector.card models/frame_detector/shipped

chooses a model folder's thresholds on the validation images again and measures it on the
held-out ones (what training does after the export), keeping what the card says of training.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from models.frame_detector import data as image_data
from models.frame_detector.detector import FrameModel
from models.frame_detector.evaluate import (
    AUTO_DISPATCH_PRECISION,
    MIN_RECALL,
    choose_thresholds,
    measure,
)

# What the card says of training; kept when a folder is described again.
TRAINING_FIELDS = (
    "version",
    "trained_at",
    "command",
    "architecture",
    "parameters",
    "input_size",
    "epochs",
    "batch",
    "seed",
    "train_seconds",
    "train_machine",
)

DATA_CREDITS = (
    "Images: ../shared/data/urban_event_images (1,464 images, 3,993 boxes), from "
    "ATANU0023/garbage_detection_dataset (CC BY 4.0, Roboflow Universe project 公开数据集111 v2), "
    "biankatpas/Cracks-and-Potholes-in-Road-Images-Dataset (MIT; Mendeley Data release CC BY 4.0) and "
    "Srikanta1122/Image_Segmentation_By_YOLOv8 (CC BY 4.0, Roboflow Universe farzad/pothole_segmentation_yolov8 v1)."
)


def _cell(value) -> str:
    return "–" if value is None else (f"{value:.3f}" if isinstance(value, float) else str(value))


def write_card(folder: Path, card: dict) -> None:
    (folder / "card.json").write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    lines = [
        f"# Frame detector {card['version']}",
        "",
        f"{card['architecture']}; {card['parameters']:,} parameters; input {card['input_size']} px; "
        f"{card['epochs']} epochs in {card['train_seconds']} s on {card['train_machine']}.",
        f"Reproduce: `{card['command']}` (training environment: `make train-detector`).",
        "",
        "It finds conditions of public space: overflowing bins, litter piles, potholes; plain bins",
        "are learned as a hard negative and never make an event. No class looks at people.",
        "",
        "## Held-out images (test part, never used for training or thresholds)",
        "",
        "| class | threshold | images | precision | recall | F1 | AP50 | automatic dispatch |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for cls, m in card["held_out"].items():
        auto = "yes" if card["auto_dispatch"].get(cls) else "no (review queue)"
        if cls not in card["event_classes"]:
            auto = "not an event"
        lines.append(
            f"| {cls} | {m['threshold']:.3f} | {m['images']} | {_cell(m['precision'])} | {_cell(m['recall'])} "
            f"| {_cell(m['f1'])} | {_cell(m['ap50'])} | {auto} |"
        )
    lines += [
        "",
        "Image level: an image counts as showing a class when a detection of the class reaches its",
        f"threshold. A class is dispatched automatically only at ≥ {card['auto_dispatch_precision']:.2f}",
        "held-out precision; its other events wait in the review queue.",
        "",
        "## Split",
        "",
        f"{card['split_rule']}. Thresholds: {card['thresholds_from']}.",
        "",
        "| part | images | " + " | ".join(f"{c} images" for c in card["classes"]) + " |",
        "|---|---|" + "---|" * len(card["classes"]),
    ]
    for part, row in card["split"].items():
        lines.append(
            f"| {part} | {row['images']} | "
            + " | ".join(str(row[f"images_with_{c}"]) for c in card["classes"])
            + " |"
        )
    lines += ["", "## Data", "", DATA_CREDITS, ""]
    (folder / "card.md").write_text("\n".join(lines), encoding="utf-8")


def describe_folder(folder: Path, images: list[image_data.LabelledImage], training: dict) -> dict:
    """Thresholds from the validation images, the card from the held-out ones; returns the
    held-out numbers. ``folder`` holds the model, its checksum and labels already."""
    classes = image_data.CLASSES
    parts = {s: [im for im in images if im.split == s] for s in image_data.SPLITS}
    # Provisional thresholds and card so that the folder loads; both are replaced below.
    (folder / "thresholds.json").write_text(json.dumps({c: 0.3 for c in classes}), encoding="utf-8")
    (folder / "card.json").write_text(
        json.dumps({k: training[k] for k in ("version", "input_size")}), encoding="utf-8"
    )
    thresholds = choose_thresholds(FrameModel.load(folder), parts["validation"], classes)
    (folder / "thresholds.json").write_text(json.dumps(thresholds, indent=2) + "\n", encoding="utf-8")
    held_out = measure(FrameModel.load(folder), parts["test"], classes)
    events = [c for c in classes if c != "garbage_bin"]
    card = {k: training[k] for k in TRAINING_FIELDS} | {
        "classes": list(classes),
        "event_classes": events,
        "split": image_data.split_counts(images),
        "split_rule": "photo groups by SHA-1 of the source path before '.rf.': "
        f"test {image_data.TEST_SHARE:.0%}, validation {image_data.VALIDATION_SHARE:.0%}, rest train",
        "thresholds_from": f"validation part: per class, the lowest image-level threshold reaching "
        f"{AUTO_DISPATCH_PRECISION:.2f} precision at ≥ {MIN_RECALL:.0%} recall, else the best-F1 one",
        "held_out": held_out,
        "auto_dispatch_precision": AUTO_DISPATCH_PRECISION,
        "auto_dispatch": {
            c: bool(c in events and m["precision"] is not None and m["precision"] >= AUTO_DISPATCH_PRECISION)
            for c, m in held_out.items()
        },
    }
    write_card(folder, card)
    return held_out


if __name__ == "__main__":
    target = Path(sys.argv[1])
    kept = json.loads((target / "card.json").read_text(encoding="utf-8"))
    print(json.dumps(describe_folder(target, image_data.load_images(), kept), indent=2))

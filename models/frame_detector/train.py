"""Trains the street-camera detector from scratch and writes its model folder.

    python -m models.frame_detector.train --out models/frame_detector/shipped

runs in the training environment (infra/train: torch, BSD), not the core one: no
pretrained weights are fetched, every weight is learned from the labelled images of
``../shared/data/urban_event_images`` (models/frame_detector/data.py fixes the split).
The folder it writes is what the platform runs: the ONNX model, its checksum, labels,
per-class thresholds chosen on the validation part, and the card measured on the held-out
part with onnxruntime, through the same code the Spark job uses.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from models.frame_detector import data as image_data
from models.frame_detector.card import describe_folder
from models.frame_detector.detector import CHECKSUM_FILE, MODEL_FILE, letterbox, read_rgb
from models.frame_detector.net import STRIDE, ExportedFrameNet, FrameNet

log = logging.getLogger(__name__)


def preload(images: list[image_data.LabelledImage], size: int):
    """Letterboxed pixels (uint8, N×3×size×size) and boxes scaled to them."""
    pixels = np.zeros((len(images), 3, size, size), np.uint8)
    boxes = []
    for k, im in enumerate(images):
        boxed, scale = letterbox(read_rgb(im.path), size)
        pixels[k] = np.round(boxed * 255).astype(np.uint8)
        boxes.append((im.boxes * scale, im.labels))
    return torch.from_numpy(pixels), boxes


def augment(batch: torch.Tensor, boxes, size: int, rng: np.random.Generator):
    """Random zoom (0.6–1.4), shift, horizontal flip and light/contrast change, with the
    boxes moved alike; a box mostly pushed out of the frame is dropped."""
    n = batch.shape[0]
    x = batch.float() / 255.0 - 0.5  # grid_sample pads with zero: the letterbox grey
    scales = rng.uniform(0.6, 1.4, n)
    shifts = rng.uniform(-0.25, 0.25, (n, 2)) * size
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = torch.from_numpy(1 / scales).float()
    theta[:, :, 2] = torch.from_numpy(1 / scales[:, None] - 1 - 2 * shifts / (scales[:, None] * size)).float()
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    flips = rng.random(n) < 0.5
    x[flips] = x[flips].flip(-1)
    gain = torch.from_numpy(rng.uniform(0.7, 1.3, (n, 1, 1, 1))).float()
    x = (x * gain + torch.from_numpy(rng.uniform(-0.1, 0.1, (n, 1, 1, 1))).float()).clamp(-0.5, 0.5) + 0.5
    moved = []
    for k, (b, labels) in enumerate(boxes):
        nb = b * scales[k] + np.tile(shifts[k], 2)
        if flips[k]:
            nb = np.stack([size - nb[:, 2], nb[:, 1], size - nb[:, 0], nb[:, 3]], axis=1)
        clipped = np.clip(nb, 0, size)
        area = (nb[:, 2] - nb[:, 0]) * (nb[:, 3] - nb[:, 1])
        kept_area = (clipped[:, 2] - clipped[:, 0]) * (clipped[:, 3] - clipped[:, 1])
        keep = (
            (kept_area >= 0.4 * np.maximum(area, 1e-6))
            & (clipped[:, 2] - clipped[:, 0] >= 4)
            & (clipped[:, 3] - clipped[:, 1] >= 4)
        )
        moved.append((clipped[keep], labels[keep]))
    return x, moved


def gaussian_radius(h: float, w: float, min_overlap: float = 0.7) -> float:
    """CenterNet's radius: how far a centre may be off and the box still overlap enough."""
    b1, c1 = h + w, w * h * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + math.sqrt(b1**2 - 4 * c1)) / 2
    b2, c2 = 2 * (h + w), (1 - min_overlap) * w * h
    r2 = (b2 + math.sqrt(b2**2 - 16 * c2)) / 2
    a3, b3, c3 = 4 * min_overlap, -2 * min_overlap * (h + w), (min_overlap - 1) * w * h
    r3 = (b3 + math.sqrt(b3**2 - 4 * a3 * c3)) / 2
    return min(r1, r2, r3)


def targets(boxes, num_classes: int, grid: int):
    """Heatmaps with a Gaussian per centre, and per centre cell its log size and offset."""
    n = len(boxes)
    heat = np.zeros((n, num_classes, grid, grid), np.float32)
    centres, sizes, offsets = [], [], []
    ys, xs = np.mgrid[0:grid, 0:grid]
    for k, (b, labels) in enumerate(boxes):
        for box, label in zip(b, labels, strict=True):
            w, h = (box[2] - box[0]) / STRIDE, (box[3] - box[1]) / STRIDE
            cx, cy = (box[0] + box[2]) / 2 / STRIDE, (box[1] + box[3]) / 2 / STRIDE
            ci, cj = min(int(cy), grid - 1), min(int(cx), grid - 1)
            sigma = (2 * max(0, int(gaussian_radius(h, w))) + 1) / 6
            g = np.exp(-((xs - cj) ** 2 + (ys - ci) ** 2) / (2 * sigma**2))
            heat[k, label] = np.maximum(heat[k, label], g)
            centres.append((k, ci, cj))
            sizes.append((math.log(max(w, 1e-3)), math.log(max(h, 1e-3))))
            offsets.append((cx - cj, cy - ci))
    return (
        torch.from_numpy(heat),
        torch.tensor(centres, dtype=torch.long).reshape(-1, 3),
        torch.tensor(sizes, dtype=torch.float32).reshape(-1, 2),
        torch.tensor(offsets, dtype=torch.float32).reshape(-1, 2),
    )


def loss_of(raw: torch.Tensor, heat, centres, sizes, offsets, num_classes: int) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss on the centres, L1 on log size and offset."""
    logits = raw[:, :num_classes]
    p = torch.sigmoid(logits).clamp(1e-4, 1 - 1e-4)
    pos = heat.eq(1).float()
    focal = -(pos * (1 - p) ** 2 * torch.log(p) + (1 - pos) * (1 - heat) ** 4 * p**2 * torch.log(1 - p)).sum()
    n_pos = max(1.0, float(pos.sum()))
    if len(centres) == 0:
        return focal / n_pos
    k, i, j = centres[:, 0], centres[:, 1], centres[:, 2]
    size_loss = F.l1_loss(raw[k, num_classes : num_classes + 2, i, j], sizes, reduction="sum")
    offset_loss = F.l1_loss(torch.sigmoid(raw[k, num_classes + 2 :, i, j]), offsets, reduction="sum")
    return (focal + size_loss + offset_loss) / n_pos


def train(args) -> None:
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    images = image_data.load_images(args.data)
    parts = {s: [im for im in images if im.split == s] for s in image_data.SPLITS}
    classes = image_data.CLASSES
    started = time.time()
    pixels, boxes = preload(parts["train"], args.size)
    log.info("loaded %d training images in %.0f s", len(boxes), time.time() - started)
    net = FrameNet(len(classes))
    steps_per_epoch = math.ceil(len(boxes) / args.batch)
    optimiser = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch, pct_start=0.1
    )
    grid = args.size // STRIDE
    for epoch in range(args.epochs):
        net.train()
        order = rng.permutation(len(boxes))
        total = 0.0
        for step in range(steps_per_epoch):
            idx = order[step * args.batch : (step + 1) * args.batch]
            x, moved = augment(pixels[idx], [boxes[k] for k in idx], args.size, rng)
            heat, centres, sizes, offsets = targets(moved, len(classes), grid)
            loss = loss_of(net(x), heat, centres, sizes, offsets, len(classes))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += loss.item()
        log.info(
            "epoch %d/%d loss %.3f (%.0f s)",
            epoch + 1,
            args.epochs,
            total / steps_per_epoch,
            time.time() - started,
        )
    train_seconds = time.time() - started

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    export(net.eval(), out / MODEL_FILE, args.size)
    digest = hashlib.sha256((out / MODEL_FILE).read_bytes()).hexdigest()
    (out / CHECKSUM_FILE).write_text(f"{digest}  {MODEL_FILE}\n", encoding="utf-8")
    (out / "labels.json").write_text(
        json.dumps({"classes": list(classes)}, indent=2) + "\n", encoding="utf-8"
    )
    training = {
        "version": f"frame-detector-{datetime.now(UTC):%Y%m%d}-{digest[:8]}",
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(args.command),
        "architecture": "CenterNet-style, stride 8, from scratch (models/frame_detector/net.py)",
        "parameters": sum(p.numel() for p in net.parameters()),
        "input_size": args.size,
        "epochs": args.epochs,
        "batch": args.batch,
        "seed": args.seed,
        "train_seconds": round(train_seconds),
        "train_machine": args.machine,
    }
    held_out = describe_folder(out, images, training)
    log.info("model folder written to %s: %s", out, json.dumps(held_out))


def export(net: FrameNet, path: Path, size: int) -> None:
    """The network in the folder's ONNX contract, with batch and image size dynamic."""
    dummy = torch.zeros(1, 3, size, size)
    torch.onnx.export(
        ExportedFrameNet(net),
        (dummy,),
        str(path),
        input_names=["images"],
        output_names=["heatmap", "size", "offset"],
        dynamic_axes={
            "images": {0: "batch", 2: "height", 3: "width"},
            "heatmap": {0: "batch", 2: "rows", 3: "cols"},
            "size": {0: "batch", 2: "rows", 3: "cols"},
            "offset": {0: "batch", 2: "rows", 3: "cols"},
        },
        opset_version=17,
        dynamo=False,
    )


def main(argv: list[str] | None = None) -> None:
    import sys

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=image_data.DEFAULT_DATA_DIR)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--size", type=int, default=320)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=20261206)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--machine", default="2 CPU cores")
    args = parser.parse_args(argv)
    args.command = [
        "python",
        "-m",
        "models.frame_detector.train",
        *(argv if argv is not None else sys.argv[1:]),
    ]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    train(args)


if __name__ == "__main__":
    main()

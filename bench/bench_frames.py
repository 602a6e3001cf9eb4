"""Street-camera frames decoded and run through the detector: Spark against one process.

The same clips (MPEG-4 Part 2, 640×480, 10 s at 5 fps, each showing a real photo of
``../shared/data/urban_event_images`` with grain, as the camera simulator makes them) are
decoded with PyAV and every frame is scored by the shipped model with onnxruntime:

- one process: a loop over the clips, batches of 8 frames, one intra-op thread (a Spark
  task's setting) and, beside it, all cores (onnxruntime's default);
- Spark ``local[2]``: ``mapInPandas`` over one clip per row, the model loaded once per
  Python worker (the job's path); timed once cold (workers start, load the model) and again
  warm.

at 320 and 416 px. Frames per second are frames decoded and scored over wall time.

    .venvs/core/bin/python bench/bench_frames.py --clips 16
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from civiclake.frames.clips import sample_frames
from civiclake.settings import get_settings
from models.frame_detector.data import load_images
from models.frame_detector.detector import DEFAULT_MODEL_DIR, FrameModel, loaded_model
from simulators.cameras import HEIGHT, WIDTH, encode_clip

FPS = 5
SECONDS = 10
BATCH = 8


def make_clips(folder: Path, count: int) -> list[Path]:
    from PIL import Image

    photos = [im.path for im in load_images() if im.labels.size][:count]
    rng = np.random.default_rng(7)
    clips = []
    for k, photo in enumerate(photos):
        with Image.open(photo) as image:
            image = image.convert("RGB")
            image.thumbnail((WIDTH, HEIGHT))
            base = np.full((HEIGHT, WIDTH, 3), 96, np.uint8)
            base[: image.height, : image.width] = np.asarray(image)
        frames = (
            np.clip(base.astype(np.int16) + rng.integers(-6, 7, base.shape), 0, 255).astype(np.uint8)
            for _ in range(FPS * SECONDS)
        )
        path = folder / f"clip_{k:03d}.mp4"
        encode_clip(frames, path, fps=FPS)
        clips.append(path)
    return clips


def score_clip(model: FrameModel, path: str, size: int) -> int:
    frames = [pixels for _, _, pixels in sample_frames(path, "mpeg4", FPS, 1 / FPS)]
    for start in range(0, len(frames), BATCH):
        model.detect(frames[start : start + BATCH], size=size)
    return len(frames)


def one_process(clips: list[Path], size: int, threads: int) -> tuple[int, float]:
    import onnxruntime as ort

    model = FrameModel.load(DEFAULT_MODEL_DIR)
    if threads != 1:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        model.session = ort.InferenceSession(str(DEFAULT_MODEL_DIR / "model.onnx"), options)
    started = time.perf_counter()
    frames = sum(score_clip(model, str(c), size) for c in clips)
    return frames, time.perf_counter() - started


def spark_run(spark, clips: list[Path], size: int) -> tuple[int, float]:
    import pandas as pd

    def score(batches):
        model = loaded_model(str(DEFAULT_MODEL_DIR))
        for pdf in batches:
            yield pd.DataFrame({"frames": [score_clip(model, p, size) for p in pdf["path"]]})

    frame = spark.createDataFrame([(str(c),) for c in clips], "path string").repartition(len(clips))
    started = time.perf_counter()
    frames = frame.mapInPandas(score, "frames long").groupBy().sum("frames").collect()[0][0]
    return int(frames), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=16)
    parser.add_argument("--sizes", default="320,416")
    args = parser.parse_args()
    from civiclake.spark import spark_session

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; model {DEFAULT_MODEL_DIR.name}")
    with tempfile.TemporaryDirectory(prefix="bench-frames-") as tmp:
        clips = make_clips(Path(tmp), args.clips)
        spark = spark_session(get_settings(), "bench-frames")
        spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", "1")
        print(f"{len(clips)} clips × {FPS * SECONDS} frames, 640×480 MPEG-4 Part 2")
        print(
            "size | one process, 1 thread | one process, all cores | Spark local[2] cold | Spark warm | Spark warm / 1 thread"
        )
        for size in (int(s) for s in args.sizes.split(",")):
            n1, t1 = one_process(clips, size, 1)
            na, ta = one_process(clips, size, 0)
            ns, ts = spark_run(spark, clips, size)
            nw, tw = spark_run(spark, clips, size)
            assert n1 == na == ns == nw
            print(
                f"{size} | {n1 / t1:.0f} frames/s | {na / ta:.0f} frames/s | {ns / ts:.0f} frames/s "
                f"| {nw / tw:.0f} frames/s | {(nw / tw) / (n1 / t1):.2f}×"
            )
        spark.stop()


if __name__ == "__main__":
    main()

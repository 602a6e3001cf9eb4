"""Reading the camera landing: manifests, the clock check, sampled frames of real (tiny)
clips made here with PyAV, and the quarantine reason of each kind of bad file."""

from __future__ import annotations

from datetime import datetime

import av
import numpy as np
import pytest
from PIL import Image

from civiclake.frames.clips import (
    BAD_MANIFEST_ROW,
    CLOCK_OFF,
    CORRUPT_CLIP,
    MISSING_FILE,
    NOT_IN_MANIFEST,
    TRUNCATED_CLIP,
    UNREADABLE_CODEC,
    ClipError,
    ManifestRow,
    check_clock,
    clock_off,
    landing_hour,
    read_manifest,
    relative_file,
    sample_frames,
    write_manifest,
)

HOUR = datetime(2026, 11, 25, 8)


def make_clip(path, frames=12, fps=5, container_format="mp4", faststart=True, codec="mpeg4"):
    """A 64×48 clip whose frame i is a flat grey of level 20·i mod 240 (so a decoded frame tells its index)."""
    options = {"movflags": "+faststart"} if faststart and container_format == "mp4" else {}
    with av.open(str(path), mode="w", format=container_format, options=options) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(frames):
            pixels = np.full((48, 64, 3), 20 * i % 240, dtype=np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        container.mux(stream.encode())
    return path


def grey_level(pixels):
    return float(pixels.mean())


@pytest.mark.parametrize(
    ("fps", "every_s", "indices"),
    [
        (5, 1.0, [0, 5, 10]),  # offsets 0, 1, 2 s
        (5, 0.5, [0, 3, 5, 8, 10]),  # the first frame at or after 0, 0.5, 1.0, 1.5, 2.0 s
        (2, 1.0, [0, 2, 4, 6, 8, 10]),
        (5, 10.0, [0]),
    ],
)
def test_frames_are_sampled_at_the_interval(tmp_path, fps, every_s, indices):
    clip = make_clip(tmp_path / "clip.mp4", frames=12, fps=fps)
    sampled = list(sample_frames(clip, "mpeg4", fps, every_s))
    assert [index for index, _, _ in sampled] == indices
    assert [offset for _, offset, _ in sampled] == pytest.approx([i / fps for i in indices])
    for index, _, pixels in sampled:
        assert pixels.shape == (48, 64, 3) and pixels.dtype == np.uint8
        assert grey_level(pixels) == pytest.approx(20 * index, abs=3)  # the frame it says it is


def test_a_jpeg_frame_is_one_frame(tmp_path):
    path = tmp_path / "frame.jpg"
    Image.new("RGB", (64, 48), (200, 40, 40)).save(path, format="JPEG", quality=95)
    for codec in ("jpeg", "mjpeg"):
        [(index, offset, pixels)] = list(sample_frames(path, codec, 1, 1.0))
        assert (index, offset, pixels.shape) == (0, 0.0, (48, 64, 3))
        assert pixels[..., 0].mean() == pytest.approx(200, abs=3)
        assert pixels[..., 1].mean() == pytest.approx(40, abs=3)


def reason_of(path, codec="mpeg4", fps=5):
    with pytest.raises(ClipError) as error:
        list(sample_frames(path, codec, fps, 1.0))
    assert str(path) in error.value.detail
    return error.value.reason


@pytest.mark.parametrize(
    ("container_format", "faststart"), [("mp4", True), ("mp4", False), ("matroska", False)]
)
def test_a_clip_cut_in_half_is_truncated(tmp_path, container_format, faststart):
    """An MP4 with its index first: the cut leaves the media box running past the end; with
    its index last, the index itself is gone. A Matroska clip opens, and its frames end half
    way through the duration it states. Either way the upload stopped early."""
    clip = make_clip(tmp_path / "clip.mp4", frames=30, container_format=container_format, faststart=faststart)
    data = clip.read_bytes()
    clip.write_bytes(data[: len(data) // 2])
    assert reason_of(clip) == TRUNCATED_CLIP


def test_a_jpeg_cut_in_half_is_truncated(tmp_path):
    path = tmp_path / "frame.jpg"
    noise = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(path, format="JPEG")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert reason_of(path, "jpeg") == TRUNCATED_CLIP


def test_garbage_bytes_are_a_corrupt_clip(tmp_path):
    garbage = np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    clip, frame, empty = tmp_path / "clip.mp4", tmp_path / "frame.jpg", tmp_path / "empty.mp4"
    clip.write_bytes(garbage)
    frame.write_bytes(garbage)
    empty.write_bytes(b"")
    assert reason_of(clip) == CORRUPT_CLIP
    assert reason_of(frame, "jpeg") == CORRUPT_CLIP
    assert reason_of(empty) == CORRUPT_CLIP


def test_a_codec_the_platform_does_not_deliver_is_unreadable(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4")
    assert reason_of(clip, codec="hevc") == UNREADABLE_CODEC
    # The manifest must say what the stream is.
    with pytest.raises(ClipError, match="the manifest says h264, the video stream is mpeg4") as error:
        list(sample_frames(clip, "h264", 5, 1.0))
    assert error.value.reason == UNREADABLE_CODEC


def test_clip_errors_take_known_reasons_only():
    with pytest.raises(ValueError, match="unknown clip quarantine reason 'broken'"):
        ClipError("broken", "x")


def write_hour(tmp_path, manifest: str, files=()):
    hour_dir = tmp_path / "cameras" / "2026-11-25" / "08"
    hour_dir.mkdir(parents=True)
    for name in files:
        (hour_dir / name).write_bytes(b"x")
    (hour_dir / "manifest.csv").write_text(manifest, encoding="utf-8")
    return hour_dir


def test_the_manifest_gives_valid_rows_and_the_files_problems(tmp_path):
    manifest = (
        "file,camera_id,started_at,fps,codec\n"
        "a.mp4,CAM1,2026-11-25 08:01:00,5,mpeg4\n"  # 1: fine
        "b.mp4,CAM1,2026-11-25 08:02:00,5,mpeg4\n"  # 2: not delivered
        "d.mp4,CAM2,2026-11-25 08:03:00,fast,mpeg4\n"  # 3: fps not a number
        "e.jpg,CAM2,25/11/2026 08:04,1,jpeg\n"  # 4: started_at in another form
        "a.mp4,CAM1,2026-11-25 08:05:00,5,mpeg4\n"  # 5: a.mp4 again
        "f.mp4,,2026-11-25 08:06:00,5,mpeg4\n"  # 6: no camera
        "g.jpg,CAM3,2026-11-25 08:07:00,1,HEVC\n"  # 7: fine here; the codec is checked on reading
        "h.mp4,CAM3,2026-11-25 08:08:00,5,mpeg4,extra\n"  # 8: a cell too many
    )
    hour_dir = write_hour(tmp_path, manifest, ["a.mp4", "c.mp4", "d.mp4", "e.jpg", "f.mp4", "g.jpg", "h.mp4"])
    (hour_dir / ".i.mp4.tmp").write_bytes(b"being written")  # hidden: not delivered yet
    rows, problems = read_manifest(hour_dir)
    assert [(r.file, r.camera_id, r.started_at, r.fps, r.codec, r.row, r.kind) for r in rows] == [
        ("a.mp4", "CAM1", datetime(2026, 11, 25, 8, 1), 5.0, "mpeg4", 1, "clip"),
        ("g.jpg", "CAM3", datetime(2026, 11, 25, 8, 7), 1.0, "hevc", 7, None),
    ]
    found = {(p.file, p.reason): p for p in problems}
    assert sorted(found) == [
        ("a.mp4", BAD_MANIFEST_ROW),
        ("b.mp4", MISSING_FILE),
        ("c.mp4", NOT_IN_MANIFEST),
        ("d.mp4", BAD_MANIFEST_ROW),
        ("e.jpg", BAD_MANIFEST_ROW),
        ("f.mp4", BAD_MANIFEST_ROW),
        ("h.mp4", BAD_MANIFEST_ROW),
    ]
    assert found["d.mp4", BAD_MANIFEST_ROW].detail == (
        "manifest.csv row 3 (line 4), field fps: 'fast' is not a positive number of frames a second"
    )
    assert found["d.mp4", BAD_MANIFEST_ROW].camera_id == "CAM2"
    assert found["d.mp4", BAD_MANIFEST_ROW].started_at == datetime(2026, 11, 25, 8, 3)
    assert "row 4 (line 5), field started_at: '25/11/2026 08:04'" in found["e.jpg", BAD_MANIFEST_ROW].detail
    assert "row 5 (line 6), field file: 'a.mp4' is listed again" in found["a.mp4", BAD_MANIFEST_ROW].detail
    assert "row 6 (line 7), field camera_id: is empty" in found["f.mp4", BAD_MANIFEST_ROW].detail
    assert "row 8 (line 9): 6 cells for 5 columns" in found["h.mp4", BAD_MANIFEST_ROW].detail
    assert "row 2 (line 3) lists 'b.mp4'" in found["b.mp4", MISSING_FILE].detail
    # Every delivered file is in one place: a row or a problem.
    delivered = {"a.mp4", "c.mp4", "d.mp4", "e.jpg", "f.mp4", "g.jpg", "h.mp4"}
    assert {r.file for r in rows} | {p.file for p in problems if p.reason != MISSING_FILE} == delivered


def test_an_unreadable_manifest_puts_every_file_aside(tmp_path):
    hour_dir = write_hour(
        tmp_path, "file,camera,started_at,fps,codec\na.mp4,CAM1,2026-11-25 08:01:00,5,mpeg4\n"
    )
    (hour_dir / "a.mp4").write_bytes(b"x")
    rows, problems = read_manifest(hour_dir)
    assert rows == []
    [problem] = problems
    assert (problem.file, problem.reason) == ("a.mp4", BAD_MANIFEST_ROW)
    assert "header lacks the column(s) camera_id" in problem.detail

    (hour_dir / "manifest.csv").unlink()
    rows, problems = read_manifest(hour_dir)
    assert rows == [] and [(p.file, p.reason) for p in problems] == [("a.mp4", NOT_IN_MANIFEST)]
    assert "manifest.csv is missing" in problems[0].detail


def test_a_written_manifest_reads_back(tmp_path):
    hour_dir = tmp_path / "2026-11-25" / "17"
    hour_dir.mkdir(parents=True)
    written = [
        ManifestRow("CAM1_1.mp4", "CAM1", datetime(2026, 11, 25, 17, 5, 9), 5, "mpeg4"),
        ManifestRow("CAM2_2.jpg", "CAM2", datetime(2026, 11, 25, 17, 59, 0), 1, "jpeg"),
        ManifestRow("CAM3_3.mp4", "CAM3", datetime(2026, 11, 25, 17, 30, 0), 12.5, "mpeg4"),
    ]
    for row in written:
        (hour_dir / row.file).write_bytes(b"x")
    path = write_manifest(hour_dir, written)
    assert path.read_text().splitlines()[:2] == [
        "file,camera_id,started_at,fps,codec",
        "CAM1_1.mp4,CAM1,2026-11-25 17:05:09,5,mpeg4",
    ]
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    rows, problems = read_manifest(hour_dir)
    assert problems == []
    assert rows == [
        ManifestRow(r.file, r.camera_id, r.started_at, r.fps, r.codec, n) for n, r in enumerate(written, 1)
    ]
    assert landing_hour(hour_dir) == datetime(2026, 11, 25, 17)
    assert relative_file(hour_dir, "CAM1_1.mp4") == "2026-11-25/17/CAM1_1.mp4"
    with pytest.raises(ValueError, match="not an hour folder"):
        landing_hour(tmp_path / "2026-11-25" / "24")


@pytest.mark.parametrize(
    ("started_at", "off"),
    [
        (datetime(2026, 11, 25, 7, 50, 0), False),  # ten minutes early: a drifting clock
        (datetime(2026, 11, 25, 7, 49, 59), True),
        (datetime(2026, 11, 25, 9, 9, 59), False),
        (datetime(2026, 11, 25, 9, 10, 0), True),
        (datetime(2026, 11, 25, 0, 30, 0), True),  # a camera left on UTC
    ],
)
def test_a_clip_far_outside_its_hour_has_its_clock_off(started_at, off):
    assert clock_off(started_at, HOUR) is off
    row = ManifestRow("CAM1_1.mp4", "CAM1", started_at, 5, "mpeg4", 4)
    problem = check_clock(row, HOUR)
    if not off:
        assert problem is None
        return
    assert (problem.file, problem.reason, problem.camera_id, problem.started_at) == (
        "CAM1_1.mp4",
        CLOCK_OFF,
        "CAM1",
        started_at,
    )
    assert f"row 4: started_at {started_at:%Y-%m-%d %H:%M:%S} of camera CAM1" in problem.detail
    assert "outside the hour 2026-11-25 08:00" in problem.detail

"""The camera platform's landing layout, read and checked: manifests, clips and single frames.

The platform delivers each hour's recordings into ``<landing>/cameras/<YYYY-MM-DD>/<HH>/``:
the files and ``manifest.csv`` beside them, one row per file with the columns
:data:`MANIFEST_COLUMNS` — ``started_at`` on the local wall clock (``YYYY-MM-DD HH:MM:SS``),
``fps`` the camera's frame rate (a positive number; 1 for a single frame), ``codec`` what the
platform encoded the file with: ``mpeg4`` or ``h264`` for a clip (``.mp4``), ``jpeg`` or
``mjpeg`` for a single frame (``.jpg``).

Every file of an hour ends up in exactly one place: a valid manifest row, or a problem with
one of the reasons of :data:`REASONS` (the ingest keeps them in quarantine), so the counts
reconcile. :func:`read_manifest` finds the problems of the folder and the manifest
(``missing_file``, ``not_in_manifest``, ``bad_manifest_row``); :func:`check_clock` those of a
camera's clock; :func:`sample_frames` those of the file's content (``unreadable_codec``,
``corrupt_clip``, ``truncated_clip``). ``unknown_camera`` is decided against the camera
registry by the ingest, which has it.

Frames are decoded one at a time and only the sampled ones are converted to pixels, so a
clip never sits in memory whole; nothing here keeps pixels.
"""

from __future__ import annotations

import csv
import io
import math
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from civiclake.ingest import raw_exports

MANIFEST = "manifest.csv"
MANIFEST_COLUMNS = ("file", "camera_id", "started_at", "fps", "codec")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

# Codec → kind of file: a clip (several frames) or a single frame.
CLIP_CODECS = ("mpeg4", "h264")
FRAME_CODECS = ("jpeg", "mjpeg")
CODECS = {**dict.fromkeys(CLIP_CODECS, "clip"), **dict.fromkeys(FRAME_CODECS, "frame")}

# A camera whose clock drifts a little still lands in the right hour; a clip that claims to
# start further than this outside its hour has a wrong clock (or was filed in the wrong folder).
CLOCK_SLACK = timedelta(minutes=10)
# A clip whose decoded frames fall short of its stated duration by more than this many frame
# intervals was cut short (one interval: the last frame's own duration, counted either way).
TRUNCATION_TOLERANCE_FRAMES = 1.5

MISSING_FILE = "missing_file"
NOT_IN_MANIFEST = "not_in_manifest"
BAD_MANIFEST_ROW = "bad_manifest_row"
UNKNOWN_CAMERA = "unknown_camera"
UNREADABLE_CODEC = "unreadable_codec"
CORRUPT_CLIP = "corrupt_clip"
TRUNCATED_CLIP = "truncated_clip"
CLOCK_OFF = "clock_off"
REASONS = (
    MISSING_FILE,
    NOT_IN_MANIFEST,
    BAD_MANIFEST_ROW,
    UNKNOWN_CAMERA,
    UNREADABLE_CODEC,
    CORRUPT_CLIP,
    TRUNCATED_CLIP,
    CLOCK_OFF,
)


class ClipError(Exception):
    """A file of the camera landing that cannot be used, with its quarantine reason."""

    def __init__(self, reason: str, detail: str):
        if reason not in REASONS:
            raise ValueError(f"unknown clip quarantine reason {reason!r}; known: {', '.join(REASONS)}")
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class ManifestRow:
    """A valid row of an hour's manifest (or one the platform is about to write)."""

    file: str  # the file's name in the hour folder
    camera_id: str
    started_at: datetime  # local wall clock
    fps: float
    codec: str  # as the manifest says; checked against CODECS when the file is read
    row: int = 0  # data row in manifest.csv (1: the first row under the header); 0: not read from one

    @property
    def kind(self) -> str | None:
        """``clip`` or ``frame``; None for a codec the platform does not deliver."""
        return CODECS.get(self.codec)


@dataclass(frozen=True)
class Problem:
    """A file of the hour folder (or a manifest row) that cannot be used, and why."""

    file: str  # the file's name in the hour folder, or ``manifest.csv`` row N when the row names none
    reason: str
    detail: str
    camera_id: str | None = None
    started_at: datetime | None = None


def landing_hour(hour_dir: str | Path) -> datetime:
    """The hour a folder ``…/<YYYY-MM-DD>/<HH>`` of the landing holds."""
    hour_dir = Path(hour_dir)
    try:
        day = datetime.strptime(hour_dir.parent.name, "%Y-%m-%d")
        if len(hour_dir.name) != 2 or not hour_dir.name.isdigit() or int(hour_dir.name) > 23:
            raise ValueError
    except ValueError:
        raise ValueError(
            f"{hour_dir}: not an hour folder of the camera landing (expected <YYYY-MM-DD>/<HH>, HH 00-23)"
        ) from None
    return day + timedelta(hours=int(hour_dir.name))


def relative_file(hour_dir: str | Path, name: str) -> str:
    """``<YYYY-MM-DD>/<HH>/<name>``: a file's path relative to the landing's cameras folder."""
    hour_dir = Path(hour_dir)
    return f"{hour_dir.parent.name}/{hour_dir.name}/{name}"


def _delivered_files(hour_dir: Path) -> list[str]:
    """The files the platform delivered into the folder: not the manifest, not hidden files
    (a file still being written has a hidden temporary name), not the ingest's own records."""
    return sorted(
        path.name
        for path in hour_dir.iterdir()
        if path.is_file() and path.name != MANIFEST and not path.name.startswith((".", "_"))
    )


def _parse_row(number: int, record: dict[str, str | None]) -> tuple[ManifestRow | None, str | None, str]:
    """The row, or None with the field at fault and what is wrong with it."""
    values = {column: (record.get(column) or "").strip() for column in MANIFEST_COLUMNS}
    name = values["file"]
    if not name:
        return None, "file", "is empty"
    if name in (".", "..") or "/" in name or "\\" in name or name.startswith((".", "_")) or name == MANIFEST:
        return None, "file", f"{name!r} is not the name of a file delivered in the hour folder"
    if not values["camera_id"]:
        return None, "camera_id", "is empty"
    try:
        started_at = datetime.strptime(values["started_at"], TIME_FORMAT)
    except ValueError:
        return None, "started_at", f"{values['started_at']!r} is not a time YYYY-MM-DD HH:MM:SS"
    try:
        fps = float(values["fps"])
    except ValueError:
        fps = math.nan
    if not math.isfinite(fps) or fps <= 0:
        return None, "fps", f"{values['fps']!r} is not a positive number of frames a second"
    if not values["codec"]:
        return None, "codec", "is empty"
    row = ManifestRow(name, values["camera_id"], started_at, fps, values["codec"].lower(), number)
    return row, None, ""


def _time_or_none(value: str | None) -> datetime | None:
    try:
        return datetime.strptime((value or "").strip(), TIME_FORMAT)
    except ValueError:
        return None


def read_manifest(hour_dir: str | Path) -> tuple[list[ManifestRow], list[Problem]]:
    """The valid rows of ``hour_dir``'s manifest whose file is there, and the problems.

    Problems: ``bad_manifest_row`` (a row lacking a field or with one that does not parse,
    a file listed twice; the detail names the row and the field; a manifest that cannot be
    read at all makes one such problem for each file of the folder), ``missing_file`` (a
    listed file that is not in the folder) and ``not_in_manifest`` (a delivered file no row
    lists). A file named by a bad row is reported once, for that row.
    """
    hour_dir = Path(hour_dir)
    delivered = _delivered_files(hour_dir)
    path = hour_dir / MANIFEST
    if not path.is_file():
        detail = (
            f"{path} is missing: the platform writes it last, so the hour is incomplete or was not announced"
        )
        return [], [Problem(name, NOT_IN_MANIFEST, detail) for name in delivered]
    try:
        text = path.read_bytes().decode("utf-8-sig")
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = [column.strip() for column in reader.fieldnames or []]
        reader.fieldnames = header
        records = list(reader)
    except (UnicodeDecodeError, csv.Error) as error:
        detail = f"{path} cannot be read as UTF-8 CSV ({error}); no row of it can be trusted"
        return [], [Problem(name, BAD_MANIFEST_ROW, detail) for name in delivered]
    missing_columns = [column for column in MANIFEST_COLUMNS if column not in header]
    if missing_columns:
        detail = (
            f"{path} header lacks the column(s) {', '.join(missing_columns)} "
            f"(expected {', '.join(MANIFEST_COLUMNS)}); no row of it can be read"
        )
        return [], [Problem(name, BAD_MANIFEST_ROW, detail) for name in delivered]

    rows: list[ManifestRow] = []
    problems: list[Problem] = []
    named: set[str] = set()  # files a row names, valid or not
    on_disk = set(delivered)
    for number, record in enumerate(records, start=1):
        where = f"{MANIFEST} row {number} (line {number + 1})"
        if None in record:  # more cells than columns
            problems.append(
                Problem(
                    (record.get("file") or "").strip() or where,
                    BAD_MANIFEST_ROW,
                    f"{where}: {len(header) + len(record[None])} cells for {len(header)} columns",
                )
            )
            named.add((record.get("file") or "").strip())
            continue
        row, field, what = _parse_row(number, record)
        name = (record.get("file") or "").strip()
        if row is None:
            problems.append(
                Problem(
                    name or where,
                    BAD_MANIFEST_ROW,
                    f"{where}, field {field}: {what}",
                    camera_id=(record.get("camera_id") or "").strip() or None,
                    started_at=_time_or_none(record.get("started_at")),
                )
            )
            named.add(name)
            continue
        if name in named:
            problems.append(
                Problem(
                    name,
                    BAD_MANIFEST_ROW,
                    f"{where}, field file: {name!r} is listed again (a file has one row)",
                    row.camera_id,
                    row.started_at,
                )
            )
            continue
        named.add(name)
        if name not in on_disk:
            problems.append(
                Problem(
                    name,
                    MISSING_FILE,
                    f"{where} lists {name!r}, which is not in {hour_dir}",
                    row.camera_id,
                    row.started_at,
                )
            )
            continue
        rows.append(row)
    for name in delivered:
        if name not in named:
            problems.append(Problem(name, NOT_IN_MANIFEST, f"{hour_dir / name} is not listed in {path}"))
    return rows, problems


def clock_off(started_at: datetime, hour: datetime) -> bool:
    """True when ``started_at`` lies outside [hour − CLOCK_SLACK, hour + 1 h + CLOCK_SLACK)."""
    return not (hour - CLOCK_SLACK <= started_at < hour + timedelta(hours=1) + CLOCK_SLACK)


def check_clock(row: ManifestRow, hour: datetime) -> Problem | None:
    """The ``clock_off`` problem of a row of the landing hour ``hour``, or None."""
    if not clock_off(row.started_at, hour):
        return None
    return Problem(
        row.file,
        CLOCK_OFF,
        f"{MANIFEST} row {row.row}: started_at {row.started_at:{TIME_FORMAT}} of camera {row.camera_id} "
        f"is outside the hour {hour:%Y-%m-%d %H}:00 by more than {CLOCK_SLACK.seconds // 60} minutes "
        "(the camera's clock is off, or the file was filed in the wrong hour)",
        row.camera_id,
        row.started_at,
    )


def write_manifest(hour_dir: str | Path, rows: Iterable[ManifestRow]) -> Path:
    """Writes ``hour_dir/manifest.csv`` for ``rows`` (0600, atomically: a reader sees the old
    manifest or the whole new one). The platform writes it after the files it lists."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(MANIFEST_COLUMNS)
    for row in rows:
        writer.writerow(
            [row.file, row.camera_id, f"{row.started_at:{TIME_FORMAT}}", f"{row.fps:g}", row.codec]
        )
    path = Path(hour_dir) / MANIFEST
    raw_exports.write_private(path, out.getvalue().encode("utf-8"))
    return path


# ---------------------------------------------------------------- reading a file's frames


def _mp4_cut_short(path: Path) -> str | None:
    """For an ISO base media file (MP4), why it ends early: a top-level box that runs past
    the end of the file. None when the boxes fit (or it is not such a file)."""
    size = path.stat().st_size
    with path.open("rb") as file:
        head = file.read(8)
        if len(head) < 8 or head[4:8] != b"ftyp":
            return None
        offset, seen = 0, []
        while offset < size:
            file.seek(offset)
            header = file.read(16)
            if len(header) < 8:
                return f"the file ends inside a box header at byte {offset} of {size}"
            box_size, kind = struct.unpack(">I4s", header[:8])
            if box_size == 1:
                if len(header) < 16:
                    return f"the file ends inside a box header at byte {offset} of {size}"
                box_size = struct.unpack(">Q", header[8:16])[0]
            elif box_size == 0:  # the last box runs to the end of the file
                box_size = size - offset
            if box_size < 8:
                return None  # not a box structure we can walk: leave it to the decoder
            seen.append(kind.decode("latin-1"))
            if offset + box_size > size:
                return f"its {seen[-1]!r} box needs {offset + box_size} bytes and the file has {size}" + (
                    "" if "moov" in seen else " (and its index, the 'moov' box, is not there)"
                )
            offset += box_size
    return None


def _single_frame(path: Path) -> Iterator[tuple[int, float, np.ndarray]]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            if image.format not in ("JPEG", "MPO"):
                raise ClipError(CORRUPT_CLIP, f"{path}: a {image.format} image, not a JPEG frame")
            image.load()
            pixels = np.asarray(image.convert("RGB"), dtype=np.uint8)
    except ClipError:
        raise
    except UnidentifiedImageError:
        raise ClipError(CORRUPT_CLIP, f"{path}: not an image (no JPEG can be read from its bytes)") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        reason = TRUNCATED_CLIP if "truncated" in str(error) else CORRUPT_CLIP
        raise ClipError(reason, f"{path}: the JPEG frame cannot be decoded ({error})") from None
    yield 0, 0.0, pixels


def _stated_seconds(container, stream) -> float | None:
    """How long the container says the video lasts, when it says so."""
    if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
        return float(stream.duration * stream.time_base)
    if container.duration is not None and container.duration > 0:
        return container.duration / 1_000_000
    return None


def sample_frames(
    path: str | Path, codec: str, fps: float, every_s: float
) -> Iterator[tuple[int, float, np.ndarray]]:
    """``(frame_index, offset_s, RGB uint8 array H×W×3)`` for the frames of the file at
    ``path`` taken every ``every_s`` seconds: the first frame at or after each multiple of
    ``every_s``, the offset being ``frame_index / fps`` (``fps`` from the manifest). A single
    frame (codec jpeg/mjpeg) yields one, at index 0 and offset 0.

    Raises :class:`ClipError`: ``unreadable_codec`` (a codec the platform does not deliver,
    one that differs from the stream's, or one no decoder here reads), ``corrupt_clip`` (not a
    container or image that opens, no video stream, no frame), ``truncated_clip`` (the file
    ends early: a box runs past its end, decoding fails after some frames, or the frames
    decoded fall short of the stated duration). The error may come after frames were
    yielded: keep a clip's frames only once the iterator is exhausted.
    """
    path = Path(path)
    if codec not in CODECS:
        raise ClipError(
            UNREADABLE_CODEC,
            f"{path}: codec {codec!r} is not one the camera platform delivers ({', '.join(CODECS)})",
        )
    if not fps > 0 or not every_s > 0:
        raise ValueError(f"fps and every_s must be positive, got fps={fps}, every_s={every_s}")
    if not path.is_file():
        raise ClipError(MISSING_FILE, f"{path} is not there")
    if CODECS[codec] == "frame":
        yield from _single_frame(path)
        return
    yield from _clip_frames(path, codec, fps, every_s)


def _clip_frames(
    path: Path, codec: str, fps: float, every_s: float
) -> Iterator[tuple[int, float, np.ndarray]]:
    import av

    cut = _mp4_cut_short(path)
    if cut is not None:
        raise ClipError(TRUNCATED_CLIP, f"{path}: the file ends early: {cut}")
    try:
        container = av.open(str(path), mode="r")
    except av.DecoderNotFoundError as error:
        raise ClipError(UNREADABLE_CODEC, f"{path}: no decoder here reads it ({error})") from None
    except (av.FFmpegError, OSError) as error:
        raise ClipError(CORRUPT_CLIP, f"{path}: not a video container that opens ({error})") from None
    with container:
        if not container.streams.video:
            raise ClipError(CORRUPT_CLIP, f"{path}: the container holds no video stream")
        stream = container.streams.video[0]
        actual = stream.codec_context.name if stream.codec_context is not None else None
        if actual not in CLIP_CODECS:
            raise ClipError(UNREADABLE_CODEC, f"{path}: the video stream is {actual}, not {codec}")
        if actual != codec:
            raise ClipError(
                UNREADABLE_CODEC, f"{path}: the manifest says {codec}, the video stream is {actual}"
            )
        # Workers decode in parallel already: one thread per decoder keeps them from
        # competing for the same cores.
        stream.codec_context.thread_count = 1
        stated = _stated_seconds(container, stream)
        rate = float(stream.average_rate) if stream.average_rate else fps
        decoded, first_time, last_time = 0, None, None
        next_sample = 0  # the next multiple of every_s, counted in samples
        try:
            for frame in container.decode(stream):
                index = decoded
                decoded += 1
                if frame.time is not None:
                    first_time = frame.time if first_time is None else first_time
                    last_time = frame.time
                offset = index / fps
                # A small tolerance, so 5 / 5.0 is not read as just short of 1.0.
                if offset + 1e-9 >= next_sample * every_s:
                    next_sample = math.floor((offset + 1e-9) / every_s) + 1
                    yield index, offset, frame.to_ndarray(format="rgb24")
        except av.DecoderNotFoundError as error:
            raise ClipError(
                UNREADABLE_CODEC, f"{path}: no decoder here reads its {actual} stream ({error})"
            ) from None
        except av.FFmpegError as error:
            if decoded == 0:
                raise ClipError(CORRUPT_CLIP, f"{path}: no frame can be decoded ({error})") from None
            raise ClipError(
                TRUNCATED_CLIP, f"{path}: decoding failed after {decoded} frame(s) ({error})"
            ) from None
        if decoded == 0:
            raise ClipError(CORRUPT_CLIP, f"{path}: the video stream has no frame")
        # What the decoded frames cover, by their own timestamps where they have them.
        covered = decoded / rate if first_time is None else last_time - first_time + 1 / rate
        if stated is not None and covered < stated - TRUNCATION_TOLERANCE_FRAMES / rate:
            raise ClipError(
                TRUNCATED_CLIP,
                f"{path}: the {decoded} frame(s) decoded cover {covered:.2f} s "
                f"of the {stated:.2f} s the container states",
            )

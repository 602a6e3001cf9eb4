"""The silver tables of the camera family: their columns, types and meaning, in one place.

spark_jobs/ingest_cameras.py writes them with these schemas, the quality suites check
exactly these columns, dbt's ``cameras`` source describes them and ``civiclake.marts``
creates an absent one empty from :func:`arrow_schema`.

What the lake keeps of a clip is numbers and codes only: which file, which camera, when,
which frames were sampled, what was detected where. Frames are decoded, scored and dropped
in the executors; no column holds pixels or any binary value.

Times follow the lake's convention for the district's own systems: the camera's local wall
clock, kept as the UTC instant of the same digits. ``hour`` is the landing hour (the
``<date>/<HH>`` folder the clip came in), the unit a run replaces.
"""

from __future__ import annotations

from civiclake.frames.clips import CODECS, REASONS

FAMILY = "cameras"

# (column, Spark SQL type, what it holds)
Columns = tuple[tuple[str, str, str], ...]

CLIPS = "camera_clips"
CLIPS_COLUMNS: Columns = (
    ("clip_id", "string", "SHA-256 (hex) of the file's bytes: the same clip again is the same id"),
    ("camera_id", "string", "the registered camera (silver.resources_cameras)"),
    ("file", "string", "the file's path under landing/cameras/ (<date>/<HH>/<name>)"),
    ("kind", "string", "clip (a video, .mp4) or frame (a single image, .jpg)"),
    (
        "started_at",
        "timestamp",
        "the clip's first frame, local wall clock as the UTC instant of the same digits",
    ),
    ("fps", "double", "frames per second the manifest gives (1 for a single frame)"),
    ("codec", "string", "as the manifest gives it: mpeg4 or h264 for a clip, jpeg or mjpeg for a frame"),
    ("hour", "timestamp", "the landing hour, as started_at"),
    ("frames_sampled", "int", "frames decoded and scored"),
    ("frame_offsets_s", "array<double>", "seconds from started_at of each sampled frame, in order"),
    ("model_version", "string", "the frame models' versions (card.json), joined by + when several"),
)

QUARANTINE = "camera_clips_quarantine"
QUARANTINE_COLUMNS: Columns = (
    (
        "file",
        "string",
        "the file's path under landing/cameras/, or the manifest's (<date>/<HH>/manifest.csv)",
    ),
    ("camera_id", "string", "as the manifest gives it; null where the row gives none"),
    ("started_at", "timestamp", "as the manifest gives it; null where unreadable"),
    ("hour", "timestamp", "the landing hour"),
    ("reason", "string", "why the clip is not in silver (QUARANTINE_REASONS)"),
    ("detail", "string", "what exactly was wrong, naming the row or the frame"),
)

DETECTIONS = "camera_detections"
DETECTIONS_COLUMNS: Columns = (
    ("clip_id", "string", "the clip (camera_clips)"),
    ("camera_id", "string", ""),
    ("frame_index", "int", "the frame's index in the clip (0 for a single frame)"),
    ("frame_time", "timestamp", "started_at plus the frame's offset, as started_at"),
    ("class", "string", "a class of civiclake/reference/frames/classes.yaml"),
    ("score", "double", "the model's score, at or above the class's threshold"),
    ("xmin", "double", "box in pixels of the frame"),
    ("ymin", "double", ""),
    ("xmax", "double", ""),
    ("ymax", "double", ""),
    ("frame_width", "int", "pixels"),
    ("frame_height", "int", "pixels"),
    ("model_version", "string", "version of the model that serves the class"),
    ("hour", "timestamp", "the landing hour"),
)

EVENTS = "camera_events"
EVENTS_COLUMNS: Columns = (
    ("event_id", "string", "CE-<camera_id>-<class>-<YYYYmmddHHMMSS of start>; also the case_id of its case"),
    ("camera_id", "string", ""),
    ("class", "string", "an event class of the catalogue (never a hard negative such as garbage_bin)"),
    ("category", "string", "the catalogue's category of the class (classes.yaml)"),
    ("started_at", "timestamp", "the first positive frame of the event's first k-of-n window"),
    ("ended_at", "timestamp", "the event's last positive frame"),
    ("peak_score", "double", "the highest score of the class over the event"),
    ("frames_seen", "int", "sampled frames in which the class was detected, start to end"),
    ("frames_sampled", "int", "frames sampled from start to end"),
    ("model_version", "string", "version of the model that serves the class"),
    ("auto_dispatch", "boolean", "the class's gate: its model card lets its cases go without review"),
    ("district_code", "string", "the camera's area, from the registry and the geography"),
    ("street_code", "string", ""),
    ("community_code", "string", ""),
    ("grid_code", "string", ""),
    ("lon", "double", "the camera's registered point"),
    ("lat", "double", ""),
    ("hour", "timestamp", "the landing hour of the event's frames"),
)

TABLES: dict[str, Columns] = {
    CLIPS: CLIPS_COLUMNS,
    QUARANTINE: QUARANTINE_COLUMNS,
    DETECTIONS: DETECTIONS_COLUMNS,
    EVENTS: EVENTS_COLUMNS,
}

# A landing entry that is not in camera_clips is in the quarantine with one of these reasons:
# the clip readers' (civiclake/frames/clips.py: the manifest, the registry, the file's
# content) or, for the same bytes delivered again under another name, the duplicate check's.
DUPLICATE_CLIP = "duplicate_clip"
QUARANTINE_REASONS = (*REASONS, DUPLICATE_CLIP)
KINDS = tuple(dict.fromkeys(CODECS.values()))  # clip, frame


def columns(table: str) -> Columns:
    try:
        return TABLES[table]
    except KeyError:
        raise KeyError(f"no camera table {table!r}; known: {', '.join(TABLES)}") from None


def column_names(table: str) -> tuple[str, ...]:
    return tuple(name for name, _, _ in columns(table))


def spark_schema(table: str) -> str:
    """The table's schema as a Spark DDL string (``class`` quoted: a SQL keyword)."""
    return ", ".join(f"`{name}` {kind}" for name, kind, _ in columns(table))


def arrow_schema(table: str):
    """The table's schema as delta-rs reads what Spark writes (timestamps UTC-labelled), e.g.
    to create it empty where no camera ingest ran yet."""
    import pyarrow as pa

    types = {
        "string": pa.string(),
        "int": pa.int32(),
        "double": pa.float64(),
        "boolean": pa.bool_(),
        "timestamp": pa.timestamp("us", tz="UTC"),
        "array<double>": pa.list_(pa.float64()),
    }
    return pa.schema([(name, types[kind]) for name, kind, _ in columns(table)])

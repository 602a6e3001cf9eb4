"""Camera clips of a day (or one hour) → detections and persistent events in silver.

The camera platform delivers each hour's clips and single frames into
``<landing>/cameras/<YYYY-MM-DD>/<HH>/`` with a ``manifest.csv`` (civiclake/frames/clips.py).
For each landing hour of the logical date (or only ``hour``) the job

1. reads the manifest and sets aside, with their reason, the entries that cannot be used:
   the manifest's own problems (a bad row, a listed file that is missing, a file no row
   lists), a camera whose clock is off, and a camera the registry does not know on that
   date (``silver.resources_cameras``, SCD2: the version valid on the logical date);
2. hands the other clips to the executors, one clip per row in small Arrow batches
   (``mapInPandas``): each hashes its file (the clip id), skips a clip silver already holds
   for the same file, decodes one frame every ``frame_sample_every_s`` seconds and scores it
   with every registered frame model (civiclake/frames/classes.py), each loaded once per
   Python worker with one intra-op thread; a clip that cannot be decoded comes back with
   its reason. Frames never leave the executor: only numbers come back;
3. adds a clip's detections and the clip to silver (inserted by clip id, so a rerun
   inserts nothing and a clip seen again under another name is a known duplicate), and
   replaces the hour's quarantine;
4. rebuilds the hour's events from its clips and detections (civiclake/frames/events.py):
   an event class at one camera in k of n consecutive sampled frames, with the camera's
   registered place and the class's gate (auto_dispatch);
5. reconciles each hour: manifest entries = clips in silver + quarantine + duplicates.

A replace whose rows equal what the table holds is not written, so rerunning an hour
leaves every table as it was, versions included.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from civiclake.contracts.resources import CAMERAS
from civiclake.frames import tables
from civiclake.frames.classes import FrameRegistry, load_registry
from civiclake.frames.clips import (
    UNKNOWN_CAMERA,
    Problem,
    check_clock,
    landing_hour,
    read_manifest,
    relative_file,
)
from civiclake.frames.events import check_rule
from civiclake.geography import load_geography
from civiclake.ingest.results import IngestResult, TableResult
from civiclake.lake.runs import record_reconciliation
from civiclake.lake.writes import execute_merge, table_exists
from civiclake.settings import Settings
from civiclake.spark import local_checkpoint

log = logging.getLogger(__name__)

LANDING = "cameras"
# One clip per Arrow batch: a worker holds one clip's frames at a time, and clips spread
# over the tasks instead of queueing behind a long one.
ARROW_BATCH_ROWS = 1
_ARROW_BATCH_CONF = "spark.sql.execution.arrow.maxRecordsPerBatch"
# Frames scored by one model call: a few at a time keep a worker's memory small.
FRAMES_PER_CALL = 8

# What an executor returns for each clip: one ``clip`` row, and a ``detection`` row per box.
# status of a clip row: new (decoded and scored), known (silver holds it for this file),
# duplicate (silver holds its bytes under another file), error (reason and detail say why).
_OUTPUT = (
    ("row_type", "string"),
    ("clip_id", "string"),
    ("file", "string"),
    ("camera_id", "string"),
    ("kind", "string"),
    ("started_at", "timestamp"),
    ("fps", "double"),
    ("codec", "string"),
    ("hour", "timestamp"),
    ("status", "string"),
    ("reason", "string"),
    ("detail", "string"),
    ("frames_sampled", "int"),
    ("frame_offsets_s", "array<double>"),
    ("model_version", "string"),
    ("frame_index", "int"),
    ("frame_time", "timestamp"),
    ("class", "string"),
    ("score", "double"),
    ("xmin", "double"),
    ("ymin", "double"),
    ("xmax", "double"),
    ("ymax", "double"),
    ("frame_width", "int"),
    ("frame_height", "int"),
)
OUTPUT_SCHEMA = ", ".join(f"`{name}` {kind}" for name, kind in _OUTPUT)
OUTPUT_COLUMNS = tuple(name for name, _ in _OUTPUT)
_INT_COLUMNS = ("frames_sampled", "frame_index", "frame_width", "frame_height")


class CameraRegistryMissingError(RuntimeError):
    """The camera registry is not in the lake: no clip's camera can be checked."""


@dataclass(frozen=True)
class HourBatch:
    """One landing hour as the driver found it."""

    folder: Path
    hour: datetime
    entries: int  # manifest rows and files: what the hour must reconcile to
    work: list[dict]  # clips for the executors
    problems: list[dict]  # quarantine rows found before decoding


def hour_folders(settings: Settings, day: date, hour: int | None = None) -> list[Path]:
    """The landing folders of ``day`` (only ``hour``'s when given) that exist."""
    root = Path(settings.landing) / LANDING / day.isoformat()
    if hour is not None:
        if not 0 <= hour <= 23:
            raise ValueError(f"--hour must be 0-23, got {hour}")
        folder = root / f"{hour:02d}"
        return [folder] if folder.is_dir() else []
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and re.fullmatch(r"([01]\d|2[0-3])", p.name))


def registered_cameras(spark, settings: Settings, day: date):
    """The cameras of the registry on ``day`` (the SCD2 version valid that day) with their
    place: community, grid and point from the registry, street and district from the geography."""
    from pyspark.sql import functions as F

    path = settings.table_path("silver", CAMERAS.table)
    if not table_exists(spark, path):
        raise CameraRegistryMissingError(
            f"silver.{CAMERAS.table} is not in the lake ({path}): without the camera registry no clip's "
            f"camera can be checked. Run `civiclake ingest resources --date {day}` first."
        )
    on_day = F.lit(day).cast("date")
    rows = (
        spark.read.format("delta")
        .load(path)
        .where((F.col("valid_from") <= on_day) & (F.col("valid_to").isNull() | (F.col("valid_to") > on_day)))
        .select("camera_id", "community_code", "grid_code", "lon", "lat")
        .toPandas()
    )
    geo = load_geography()
    rows["street_code"] = [geo.street_of(c) if c in geo.communities else None for c in rows["community_code"]]
    rows["district_code"] = geo.district.code
    return rows


def _quarantine_row(folder: Path, hour: datetime, problem: Problem) -> dict:
    return {
        "file": relative_file(folder, problem.file),
        "camera_id": problem.camera_id,
        "started_at": problem.started_at,
        "hour": hour,
        "reason": problem.reason,
        "detail": problem.detail,
    }


def read_hour(folder: Path, known_cameras: set[str]) -> HourBatch:
    """The hour's manifest: clips to decode and the entries set aside before decoding."""
    hour = landing_hour(folder)
    rows, problems = read_manifest(folder)
    quarantined = [_quarantine_row(folder, hour, p) for p in problems]
    work = []
    for row in rows:
        problem = check_clock(row, hour)
        if problem is None and row.camera_id not in known_cameras:
            problem = Problem(
                row.file,
                UNKNOWN_CAMERA,
                f"manifest.csv row {row.row}: camera {row.camera_id} is not in the camera registry "
                f"(silver.{CAMERAS.table}) on {hour:%Y-%m-%d}; register it, then ingest the hour again",
                row.camera_id,
                row.started_at,
            )
        if problem is not None:
            quarantined.append(_quarantine_row(folder, hour, problem))
            continue
        work.append(
            {
                "file": relative_file(folder, row.file),
                "path": str(folder / row.file),
                "camera_id": row.camera_id,
                "kind": row.kind,
                "started_at": row.started_at,
                "fps": row.fps,
                "codec": row.codec,
                "hour": hour,
            }
        )
    return HourBatch(folder, hour, len(rows) + len(problems), work, quarantined)


def _file_sha256(path: str) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _inferrer(
    folders: tuple[str, ...],
    versions: str,
    every_s: float,
    stored_ids: frozenset[str],
    event_classes: frozenset[str],
    evidence_root: str,
):
    """The executors' function: each clip of a batch → its clip row and detection rows, and
    per event class found, an evidence image of the frame where it scored highest."""

    def score_clip(row: dict, models) -> list[dict]:
        from civiclake.frames.clips import MISSING_FILE, ClipError, sample_frames
        from civiclake.frames.events import frame_time

        clip = {
            name: row[name] for name in ("file", "camera_id", "kind", "started_at", "fps", "codec", "hour")
        }
        clip["row_type"] = "clip"
        try:
            clip["clip_id"] = _file_sha256(row["path"])
        except OSError as error:
            return [clip | {"status": "error", "reason": MISSING_FILE, "detail": f"{row['path']}: {error}"}]
        if clip["clip_id"] == row["known_clip_id"]:
            return [clip | {"status": "known"}]
        if clip["clip_id"] in stored_ids:
            return [clip | {"status": "duplicate"}]
        offsets, detections, pending = [], [], []
        best: dict[str, tuple] = {}  # event class → (score, frame, box) of its best frame

        def flush() -> None:
            images = [image for _, _, image in pending]
            for model in models():
                for (index, offset, image), found in zip(pending, model.detect(images), strict=True):
                    for d in found:
                        if d.cls in event_classes and d.score > best.get(d.cls, (0.0,))[0]:
                            best[d.cls] = (d.score, image, (d.xmin, d.ymin, d.xmax, d.ymax))
                    height, width = image.shape[:2]
                    detections.extend(
                        {
                            "row_type": "detection",
                            "clip_id": clip["clip_id"],
                            "file": clip["file"],
                            "camera_id": clip["camera_id"],
                            "hour": clip["hour"],
                            "frame_index": index,
                            "frame_time": frame_time(clip["started_at"], offset),
                            "class": d.cls,
                            "score": d.score,
                            "xmin": d.xmin,
                            "ymin": d.ymin,
                            "xmax": d.xmax,
                            "ymax": d.ymax,
                            "frame_width": width,
                            "frame_height": height,
                            "model_version": model.version,
                        }
                        for d in found
                    )
            pending.clear()

        try:
            for index, offset, image in sample_frames(row["path"], row["codec"], row["fps"], every_s):
                offsets.append(float(offset))
                pending.append((index, offset, image))
                if len(pending) == FRAMES_PER_CALL:
                    flush()
            if pending:
                flush()
        except ClipError as error:
            # Whatever was scored before the error is dropped with the clip.
            return [clip | {"status": "error", "reason": error.reason, "detail": error.detail}]
        from civiclake.frames.evidence import camera_evidence_path, frame_evidence, write_evidence

        for cls, (_, image, box) in best.items():
            path = camera_evidence_path(evidence_root, clip["hour"], clip["camera_id"], clip["clip_id"], cls)
            write_evidence(path, frame_evidence(image, box))
        done = clip | {
            "status": "new",
            "frames_sampled": len(offsets),
            "frame_offsets_s": offsets,
            "model_version": versions,
        }
        return [done, *detections]

    def infer(batches):
        import pandas as pd

        from models.frame_detector.detector import loaded_model

        def models():
            # Cached per process: the first clip a Python worker decodes loads the models.
            return [loaded_model(folder) for folder in folders]

        for pdf in batches:
            rows = [out for row in pdf.to_dict("records") for out in score_clip(row, models)]
            # Column by column, so that a value a row lacks is None (an array column takes no NaN).
            frame = pd.DataFrame({column: [r.get(column) for r in rows] for column in OUTPUT_COLUMNS})
            for column in ("started_at", "hour", "frame_time"):
                frame[column] = pd.to_datetime(frame[column])
            yield frame.astype({column: "Int32" for column in _INT_COLUMNS})

    return infer


def _eventer(registry: FrameRegistry, k: int, n: int):
    """The function building one camera's events of one landing hour from its clips and detections."""
    thresholds = {
        code: served.threshold for code, served in registry.served.items() if registry.classes[code].event
    }
    categories = {code: c.category for code, c in registry.classes.items()}
    gates = {code: registry.auto_dispatch(code) for code in thresholds}

    def build(clips, detections):
        import pandas as pd

        from civiclake.frames.events import find_events, frame_time

        frames = pd.DataFrame(
            [
                {"camera_id": camera, "frame_time": frame_time(start, offset)}
                for camera, start, offsets in zip(
                    clips["camera_id"], clips["started_at"], clips["frame_offsets_s"], strict=True
                )
                for offset in offsets
            ],
            columns=["camera_id", "frame_time"],
        )
        events = find_events(frames, detections, thresholds, k=k, n=n)
        hour = clips["hour"].iloc[0] if len(clips) else detections["hour"].iloc[0]
        events["category"] = events["class"].map(categories)
        events["auto_dispatch"] = events["class"].map(gates).astype(bool)
        events["hour"] = hour
        return events

    return build


EVENT_BUILD_SCHEMA = (
    "event_id string, camera_id string, `class` string, started_at timestamp, ended_at timestamp, "
    "peak_score double, frames_seen int, frames_sampled int, model_version string, category string, "
    "auto_dispatch boolean, hour timestamp"
)


def _hours_condition(hours: list[datetime]) -> str:
    return "hour in (" + ", ".join(f"timestamp'{h:%Y-%m-%d %H:%M:%S}'" for h in hours) + ")"


def _typed(df, table: str):
    """``df`` with exactly the table's columns, in order, cast to its types."""
    from pyspark.sql import functions as F

    return df.select(*[F.col(f"`{name}`").cast(kind).alias(name) for name, kind, _ in tables.columns(table)])


def replace_hours(spark, df, settings: Settings, table: str, hours: list[datetime]) -> bool:
    """Replaces ``hours`` of ``silver.<table>`` with ``df``; writes nothing (returns False)
    when the table holds exactly those rows already."""
    path = settings.table_path("silver", table)
    condition = _hours_condition(hours)
    rows = local_checkpoint(_typed(df, table))
    if table_exists(spark, path):
        held = spark.read.format("delta").load(path).where(condition)
        if rows.exceptAll(held).isEmpty() and held.exceptAll(rows).isEmpty():
            return False
        rows.write.format("delta").mode("overwrite").option("replaceWhere", condition).save(path)
    else:
        rows.write.format("delta").save(path)
    return True


def insert_new_clips(spark, df, settings: Settings, table: str) -> int:
    """Inserts the rows of clips the table does not hold yet (matched by clip_id): a clip's
    rows land in one commit, and a clip already there is left as it is. Returns rows inserted."""
    from delta.tables import DeltaTable

    path = settings.table_path("silver", table)
    rows = _typed(df, table)
    if not table_exists(spark, path):
        rows.limit(0).write.format("delta").save(path)
    merge = (
        DeltaTable.forPath(spark, path)
        .alias("t")
        .merge(rows.alias("s"), "t.clip_id = s.clip_id")
        .whenNotMatchedInsertAll()
    )
    return execute_merge(spark, path, merge).inserted


def _stored_clips(spark, settings: Settings, hours: list[datetime]):
    """(hour, file) → clip_id of the clips silver holds for ``hours``, as pandas."""
    import pandas as pd

    path = settings.table_path("silver", tables.CLIPS)
    if not table_exists(spark, path):
        return pd.DataFrame(columns=["hour", "file", "clip_id"])
    return (
        spark.read.format("delta")
        .load(path)
        .where(_hours_condition(hours))
        .select("hour", "file", "clip_id")
        .toPandas()
    )


def _originals(spark, settings: Settings, clip_ids: list[str]) -> dict[str, str]:
    """clip_id → the file silver holds it under."""
    from pyspark.sql import functions as F

    path = settings.table_path("silver", tables.CLIPS)
    if not clip_ids or not table_exists(spark, path):
        return {}
    rows = spark.read.format("delta").load(path).where(F.col("clip_id").isin(clip_ids)).collect()
    return {r.clip_id: r.file for r in rows}


def _mark_duplicates(spark, settings: Settings, status):
    """``status`` (clip rows, pandas) with the clips already seen set aside as duplicates:
    bytes silver holds under another file (of any hour), or a second file of this run with
    the same bytes (the first by hour and file is kept)."""
    status = status.sort_values(["hour", "file"], kind="stable").reset_index(drop=True)
    candidates = status["status"].isin(["new", "duplicate"])
    stored = _originals(spark, settings, sorted(set(status.loc[candidates, "clip_id"])))
    first_file: dict[str, str] = {}
    for i, row in status[candidates].iterrows():
        original = stored.get(row["clip_id"]) or first_file.get(row["clip_id"])
        if original is None:
            first_file[row["clip_id"]] = row["file"]
            continue
        status.loc[i, ["status", "reason", "detail"]] = [
            "duplicate",
            tables.DUPLICATE_CLIP,
            f"the same bytes as {original} (clip {row['clip_id']}), kept in silver.{tables.CLIPS}",
        ]
    return status


def _build_events(spark, settings: Settings, registry: FrameRegistry, places, hours: list[datetime]):
    from pyspark.sql import functions as F

    condition = _hours_condition(hours)
    clips_path = settings.table_path("silver", tables.CLIPS)
    detections_path = settings.table_path("silver", tables.DETECTIONS)
    if not table_exists(spark, clips_path):
        return spark.createDataFrame([], tables.spark_schema(tables.EVENTS))
    clips = (
        spark.read.format("delta")
        .load(clips_path)
        .where(condition)
        .select("camera_id", "hour", "started_at", "frame_offsets_s")
    )
    if table_exists(spark, detections_path):
        detections = spark.read.format("delta").load(detections_path).where(condition)
    else:
        detections = spark.createDataFrame([], tables.spark_schema(tables.DETECTIONS))
    detections = detections.select("camera_id", "hour", "frame_time", "class", "score", "model_version")
    events = (
        clips.groupBy("camera_id", "hour")
        .cogroup(detections.groupBy("camera_id", "hour"))
        .applyInPandas(
            _eventer(registry, settings.frames_event_k, settings.frames_event_n), EVENT_BUILD_SCHEMA
        )
    )
    return events.join(F.broadcast(places), "camera_id", "left")


def _places(spark, cameras):
    schema = (
        "camera_id string, district_code string, street_code string, community_code string, "
        "grid_code string, lon double, lat double"
    )
    columns = [c.split()[0] for c in schema.split(", ")]
    return spark.createDataFrame(cameras[columns], schema)


def _score_clips(spark, settings: Settings, registry: FrameRegistry, batches: list[HourBatch], stored):
    """The executors' rows for the hours' clips (``OUTPUT_SCHEMA``), computed once."""
    import pandas as pd

    known = {
        (pd.Timestamp(h), f): c
        for h, f, c in zip(stored["hour"], stored["file"], stored["clip_id"], strict=True)
    }
    work = pd.DataFrame(
        [
            w | {"known_clip_id": known.get((pd.Timestamp(w["hour"]), w["file"]))}
            for b in batches
            for w in b.work
        ],
        columns=["file", "path", "camera_id", "kind", "started_at", "fps", "codec", "hour", "known_clip_id"],
    )
    if work.empty:
        return spark.createDataFrame([], OUTPUT_SCHEMA)
    versions = "+".join(sorted({served.version for served in registry.served.values()}))
    inferrer = _inferrer(
        tuple(str(folder) for folder in registry.folders),
        versions,
        settings.frame_sample_every_s,
        frozenset(stored["clip_id"]),
        frozenset(code for code, c in registry.classes.items() if c.event),
        str(settings.evidence),
    )
    # As many tasks as clips, up to a few per core: a long clip does not hold up the others.
    slices = max(1, min(len(work), 4 * spark.sparkContext.defaultParallelism))
    clips_in = spark.createDataFrame(
        work,
        "file string, path string, camera_id string, kind string, started_at timestamp, "
        "fps double, codec string, hour timestamp, known_clip_id string",
    ).repartition(slices)
    previous = spark.conf.get(_ARROW_BATCH_CONF, None)
    spark.conf.set(_ARROW_BATCH_CONF, str(ARROW_BATCH_ROWS))
    try:
        return local_checkpoint(clips_in.mapInPandas(inferrer, OUTPUT_SCHEMA))
    finally:
        if previous is None:
            spark.conf.unset(_ARROW_BATCH_CONF)
        else:
            spark.conf.set(_ARROW_BATCH_CONF, previous)


def run(spark, settings: Settings, logical_date: date, hour: int | None = None) -> IngestResult:
    """Ingests the camera landing of ``logical_date`` (only ``hour`` when given)."""
    import pandas as pd
    from pyspark.sql import functions as F

    from models.frame_detector.detector import verify_checksum

    check_rule(settings.frames_event_k, settings.frames_event_n)
    folders = hour_folders(settings, logical_date, hour)
    scope = f"{logical_date}" + ("" if hour is None else f" hour {hour:02d}")
    if not folders:
        note = f"no camera landing for {scope} under {Path(settings.landing) / LANDING}: nothing to ingest"
        log.info(note)
        return IngestResult(tables.FAMILY, str(logical_date), [], note=note)

    registry = load_registry()
    for folder in registry.folders:
        verify_checksum(Path(folder))  # a damaged model fails here, named, before any clip is read
    cameras = registered_cameras(spark, settings, logical_date)
    batches = [read_hour(folder, set(cameras["camera_id"])) for folder in folders]
    hours = [b.hour for b in batches]

    output = _score_clips(spark, settings, registry, batches, _stored_clips(spark, settings, hours))
    clip_columns = [c for c, _ in _OUTPUT if c not in ("frame_index", "frame_time", "class", "score")]
    status = _mark_duplicates(
        spark, settings, output.where("row_type = 'clip'").select(*clip_columns).toPandas()
    )

    # Detections first, then their clips: a run that stops in between decodes the clip again
    # next time, and finds its detections in silver already.
    pairs = list(
        status.loc[status["status"] == "new", ["clip_id", "file"]].itertuples(index=False, name=None)
    )
    accepted = F.broadcast(spark.createDataFrame(pairs, "clip_id string, file string"))
    detections_landed = clips_landed = 0
    if pairs:
        detections = output.where("row_type = 'detection'").join(accepted, ["clip_id", "file"])
        detections_landed = insert_new_clips(spark, detections, settings, tables.DETECTIONS)
        clips = output.where("row_type = 'clip'").join(accepted, ["clip_id", "file"])
        clips_landed = insert_new_clips(spark, clips, settings, tables.CLIPS)

    failed = status[status["status"].isin(["error", "duplicate"])]
    quarantine = pd.DataFrame(
        [q for b in batches for q in b.problems]
        + [{c: r[c] for c in tables.column_names(tables.QUARANTINE)} for r in failed.to_dict("records")],
        columns=list(tables.column_names(tables.QUARANTINE)),
    )
    quarantine_rows = spark.createDataFrame(quarantine, tables.spark_schema(tables.QUARANTINE))
    replace_hours(spark, quarantine_rows, settings, tables.QUARANTINE, hours)

    events = local_checkpoint(_build_events(spark, settings, registry, _places(spark, cameras), hours))
    replace_hours(spark, events, settings, tables.EVENTS, hours)

    result = IngestResult(
        tables.FAMILY,
        str(logical_date),
        [
            _reconcile(spark, settings, logical_date, batches, status, quarantine),
            _plain_result(tables.DETECTIONS, logical_date, detections_landed),
            _plain_result(tables.EVENTS, logical_date, events.count()),
        ],
    )
    log.info("ingest cameras %s: %d clips inserted, %s", scope, clips_landed, result.summary())
    return result


def _plain_result(table: str, day: date, rows: int) -> TableResult:
    """A table the run derives rather than receives (detections, events): the rows it wrote."""
    return TableResult(
        table=table,
        batch_date=str(day),
        extracted=True,
        source_rows=rows,
        silver_rows=rows,
        quarantined_rows=0,
        duplicate_rows=0,
    )


def _reconcile(
    spark, settings: Settings, day: date, batches: list[HourBatch], status, quarantine
) -> TableResult:
    """Per landing hour: manifest entries = clips silver holds for them + quarantine + duplicates,
    silver counted in the table after the writes. Recorded as ``camera_clips/<HH>``."""
    import pandas as pd

    stored = _stored_clips(spark, settings, [b.hour for b in batches])
    in_silver = set(zip(stored["hour"].map(pd.Timestamp), stored["file"], stored["clip_id"], strict=True))
    kept = status[status["status"].isin(["new", "known"])]
    totals = {"source": 0, "silver": 0, "quarantined": 0, "duplicates": 0}
    for batch in batches:
        at = pd.Timestamp(batch.hour)
        silver = sum(
            (pd.Timestamp(h), f, c) in in_silver
            for h, f, c in zip(kept["hour"], kept["file"], kept["clip_id"], strict=True)
            if pd.Timestamp(h) == at
        )
        reasons = quarantine.loc[quarantine["hour"].map(pd.Timestamp) == at, "reason"]
        duplicates = int((reasons == tables.DUPLICATE_CLIP).sum())
        quarantined = len(reasons) - duplicates
        record_reconciliation(
            spark,
            settings,
            f"{tables.CLIPS}/{batch.hour:%H}",
            day,
            source_rows=batch.entries,
            silver_rows=silver,
            quarantined=quarantined,
            duplicates=duplicates,
        )
        for key, value in zip(totals, (batch.entries, silver, quarantined, duplicates), strict=True):
            totals[key] += value
    reasons = quarantine.loc[quarantine["reason"] != tables.DUPLICATE_CLIP, "reason"].value_counts()
    return TableResult(
        table=tables.CLIPS,
        batch_date=str(day),
        extracted=True,
        source_rows=totals["source"],
        silver_rows=totals["silver"],
        quarantined_rows=totals["quarantined"],
        duplicate_rows=totals["duplicates"],
        quarantine_reasons=dict(sorted(reasons.items())),
        silver_total=len(stored),
    )


def main(logical_date: str, hour: int | None = None) -> IngestResult:
    from civiclake.settings import get_settings
    from civiclake.spark import spark_session

    settings = get_settings()
    spark = spark_session(settings, f"ingest_cameras_{logical_date}")
    return run(spark, settings, date.fromisoformat(logical_date), hour)

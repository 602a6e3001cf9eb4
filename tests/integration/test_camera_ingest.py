"""The camera ingest on Spark + Delta: a tiny landing hour of real-photo clips through
decoding and the shipped frame model into silver, with its quarantine, events, reruns, one
model load per Python worker, and a lake that holds no pixels.

The landing hour 2026-06-10 10 of a lake of its own holds:

* ``a.mp4`` CAM-A, 8 s at 2 fps: 3 s of an empty grey frame, then 5 s of a real street
  photo in which the shipped model finds event classes (picked at set-up: the classes it
  finds in every decoded frame of the photo and never in the grey) → one event per class,
  10:00:03 to 10:00:07, 5 of 5 frames;
* ``b.mp4`` CAM-B, 6 s of grey → a clip with nothing detected; ``c.jpg`` CAM-B, one frame
  of the photo → detections, but one frame is no event;
* ``d.mp4`` random bytes → corrupt_clip; ``e.mp4`` CAM-Z, not in the registry →
  unknown_camera; ``f.mp4`` the bytes of b.mp4 again → duplicate_clip; ``g.mp4`` listed, not
  delivered → missing_file; ``h.jpg`` delivered, not listed → not_in_manifest; ``i.mp4``
  stamped 12:30 → clock_off.
"""

from __future__ import annotations

import csv
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from deltalake import write_deltalake

from civiclake.contracts.catalog import silver_schema
from civiclake.frames import tables
from civiclake.frames.classes import load_registry
from civiclake.frames.clips import sample_frames
from civiclake.geography import load_geography
from models.frame_detector.data import DEFAULT_DATA_DIR

pytestmark = pytest.mark.integration

D = date(2026, 6, 10)
HOUR = datetime(2026, 6, 10, 10)
FPS = 2
GREY_S, PHOTO_S = 3, 5
IMAGES = DEFAULT_DATA_DIR  # ../shared/data/urban_event_images
XMP_NS = b"http://ns.adobe.com/xap/1.0/"
XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreatorTool="StreetCam"/></rdf:RDF></x:xmpmeta>'
)
SIGNATURES = {
    "JPEG": (b"\xff\xd8\xff\xe0", b"\xff\xd8\xff\xe1", b"\xff\xd8\xff\xdb", b"\xff\xd8\xff\xee"),
    "PNG": (b"\x89PNG\r\n\x1a\n",),
    "MP4": (b"ftypisom", b"ftypmp4", b"ftypM4V", b"ftypiso"),
}
LOAD_LOG = "CIVICLAKE_FRAME_MODEL_LOAD_LOG"


def _write_clip(path: Path, frames: list[np.ndarray], fps: int = FPS) -> None:
    import av

    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 640, 480, "yuv420p"
        stream.bit_rate = 4_000_000
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _event_classes_by_frame(model, path: Path, codec: str) -> list[set[str]]:
    """The event classes the model finds in each sampled frame of ``path``, as the job samples them."""
    registry = load_registry()
    events = {c for c, fc in registry.classes.items() if fc.event}
    found = []
    for _, _, image in sample_frames(path, codec, FPS if codec == "mpeg4" else 1, 1.0):
        found.append({d.cls for d in model.detect([image])[0]} & events)
    return found


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    """A real photo (640×480) in which the shipped model finds the same event classes in every
    decoded frame of a clip, and the classes it finds."""
    from PIL import Image

    from models.frame_detector.detector import DEFAULT_MODEL_DIR, FrameModel

    if not (IMAGES / "images.csv").is_file():
        pytest.skip(f"the real street photos are absent ({IMAGES}, ../shared/data/urban_event_images)")
    model = FrameModel.load(DEFAULT_MODEL_DIR)
    grey = np.full((480, 640, 3), 128, np.uint8)
    folder = tmp_path_factory.mktemp("photo")
    probe = folder / "probe.mp4"
    _write_clip(probe, [grey] * 2)
    assert _event_classes_by_frame(model, probe, "mpeg4") == [set()], "the model sees an event in grey"
    with (IMAGES / "images.csv").open(encoding="utf-8") as file:
        candidates = [r["image"] for r in csv.DictReader(file) if r["has_event"] == "True"][:40]
    for name in candidates:
        image = np.asarray(Image.open(IMAGES / "images" / name).convert("RGB").resize((640, 480)))
        _write_clip(probe, [image] * 4)
        seen = _event_classes_by_frame(model, probe, "mpeg4")
        if seen[0] and all(s == seen[0] for s in seen):
            return image, grey, seen[0]
    pytest.fail(f"none of {len(candidates)} real photos gives the shipped model a steady event class")


def _registry_rows(cameras: dict[str, str]) -> list[dict]:
    geo = load_geography()
    rows = []
    for camera_id, community in cameras.items():
        grid = geo.grids_of(community)[0]
        lon, lat = grid.box.centroid
        rows.append(
            {
                "camera_id": camera_id,
                "community_code": community,
                "grid_code": grid.code,
                "lon": lon,
                "lat": lat,
                "camera_type": "球机",
                "owner_department": "城市管理和综合执法局",
                "status": "online",
                "registered_on": D - timedelta(days=30),
                "updated_on": D - timedelta(days=30),
                "batch_date": D - timedelta(days=1),
                "_row_hash": camera_id,
                "valid_from": D - timedelta(days=1),
                "valid_to": None,
                "is_current": True,
                "is_deleted": False,
            }
        )
    return rows


COMMUNITIES = {"CAM-A": "440309006001", "CAM-B": "440309003001"}


@pytest.fixture(scope="module")
def lake(settings, tmp_path_factory, photo):
    image, grey, _ = photo
    own = settings.model_copy(update={"data_dir": tmp_path_factory.mktemp("cameras"), "lake_path": None})
    for cached in ("lake", "model_store"):
        own.__dict__.pop(cached, None)
    write_deltalake(
        own.table_path("silver", "resources_cameras"),
        pa.Table.from_pylist(_registry_rows(COMMUNITIES), schema=silver_schema("resources_cameras")),
    )
    hour = own.landing / "cameras" / "2026-06-10" / "10"
    hour.mkdir(parents=True)
    _write_clip(hour / "a.mp4", [grey] * (GREY_S * FPS) + [image] * (PHOTO_S * FPS))
    _write_clip(hour / "b.mp4", [grey] * (6 * FPS))
    from PIL import ExifTags, Image

    # The camera's upload carries EXIF with GPS and an XMP packet, as a phone's would.
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "StreetCam"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef], gps[ExifTags.GPS.GPSLatitude] = "N", (22.0, 39.0, 30.0)
    Image.fromarray(image).save(hour / "c.jpg", quality=92, exif=exif.tobytes(), xmp=XMP)
    (hour / "d.mp4").write_bytes(np.random.default_rng(7).bytes(20_000))
    _write_clip(hour / "e.mp4", [grey] * 4)
    shutil.copy(hour / "b.mp4", hour / "f.mp4")
    shutil.copy(hour / "c.jpg", hour / "h.jpg")
    shutil.copy(hour / "e.mp4", hour / "i.mp4")
    manifest = [
        ("a.mp4", "CAM-A", "2026-06-10 10:00:00", FPS, "mpeg4"),
        ("b.mp4", "CAM-B", "2026-06-10 10:05:00", FPS, "mpeg4"),
        ("c.jpg", "CAM-B", "2026-06-10 10:06:00", 1, "jpeg"),
        ("d.mp4", "CAM-A", "2026-06-10 10:20:00", FPS, "mpeg4"),
        ("e.mp4", "CAM-Z", "2026-06-10 10:21:00", FPS, "mpeg4"),
        ("f.mp4", "CAM-B", "2026-06-10 10:22:00", FPS, "mpeg4"),
        ("g.mp4", "CAM-A", "2026-06-10 10:23:00", FPS, "mpeg4"),
        ("i.mp4", "CAM-A", "2026-06-10 12:30:00", FPS, "mpeg4"),
    ]
    with (hour / "manifest.csv").open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["file", "camera_id", "started_at", "fps", "codec"])
        writer.writerows(manifest)
    return own


def _rows(spark, settings, table: str) -> list[dict]:
    return [
        r.asDict() for r in spark.read.format("delta").load(settings.table_path("silver", table)).collect()
    ]


def _versions(spark, settings) -> dict[str, int]:
    from civiclake.lake.writes import table_version

    return {t: table_version(spark, settings.table_path("silver", t)) for t in tables.TABLES}


@pytest.fixture(scope="module")
def ingested(spark, lake, tmp_path_factory):
    from spark_jobs import ingest_cameras

    log = tmp_path_factory.mktemp("loads") / "loads.txt"
    environment = spark.sparkContext.environment
    environment[LOAD_LOG] = str(log)
    try:
        first = ingest_cameras.run(spark, lake, D, hour=10)
        loads_first = log.read_text().split() if log.exists() else []
        state = {t: _rows(spark, lake, t) for t in tables.TABLES}
        versions = _versions(spark, lake)
        again = ingest_cameras.run(spark, lake, D, hour=10)
        loads_again = log.read_text().split() if log.exists() else []
    finally:
        environment.pop(LOAD_LOG, None)
    return first, state, versions, again, loads_first, loads_again


def test_clips_quarantine_and_counts_reconcile(spark, lake, ingested):
    first, state, _, _, _, _ = ingested
    clips = {r["file"]: r for r in state[tables.CLIPS]}
    assert set(clips) == {"2026-06-10/10/a.mp4", "2026-06-10/10/b.mp4", "2026-06-10/10/c.jpg"}
    a, b, c = (clips[f"2026-06-10/10/{n}"] for n in ("a.mp4", "b.mp4", "c.jpg"))
    assert (a["kind"], a["frames_sampled"], list(a["frame_offsets_s"])) == (
        "clip",
        8,
        [float(s) for s in range(8)],
    )
    assert (b["frames_sampled"], c["kind"], c["frames_sampled"]) == (6, "frame", 1)
    assert a["started_at"] == datetime(2026, 6, 10, 10) and a["hour"] == HOUR
    assert a["model_version"] == load_registry().served["garbage"].version
    import hashlib

    assert a["clip_id"] == hashlib.sha256((lake.landing / "cameras" / a["file"]).read_bytes()).hexdigest()

    reasons = {r["file"].rsplit("/", 1)[1]: r["reason"] for r in state[tables.QUARANTINE]}
    assert reasons == {
        "d.mp4": "corrupt_clip",
        "e.mp4": "unknown_camera",
        "f.mp4": "duplicate_clip",
        "g.mp4": "missing_file",
        "h.jpg": "not_in_manifest",
        "i.mp4": "clock_off",
    }
    duplicate = next(r for r in state[tables.QUARANTINE] if r["reason"] == "duplicate_clip")
    assert "2026-06-10/10/b.mp4" in duplicate["detail"] and duplicate["camera_id"] == "CAM-B"
    # Manifest rows (8) and the unlisted file (1) = 3 clips + 5 quarantined + 1 duplicate.
    clip_result = first.table(tables.CLIPS)
    assert (clip_result.source_rows, clip_result.silver_rows) == (9, 3)
    assert (clip_result.quarantined_rows, clip_result.duplicate_rows) == (5, 1)
    recorded = (
        spark.read.format("delta")
        .load(lake.table_path("state", "reconciliation"))
        .where("table_name = 'camera_clips/10'")
        .collect()
    )
    assert [(r.source_rows, r.silver_rows, r.quarantined_rows, r.duplicate_rows) for r in recorded] == [
        (9, 3, 5, 1)
    ]


def test_detections_are_the_models_on_the_sampled_frames(lake, ingested, photo):
    from models.frame_detector.detector import DEFAULT_MODEL_DIR, FrameModel

    _, state, _, _, _, _ = ingested
    model = FrameModel.load(DEFAULT_MODEL_DIR)
    clips = {r["file"]: r["clip_id"] for r in state[tables.CLIPS]}
    for name, codec, fps in (("a.mp4", "mpeg4", FPS), ("b.mp4", "mpeg4", FPS), ("c.jpg", "jpeg", 1)):
        expected = {}
        for index, _, image in sample_frames(lake.landing / "cameras/2026-06-10/10" / name, codec, fps, 1.0):
            for d in model.detect([image])[0]:
                expected.setdefault((index, d.cls), []).append(round(d.score, 5))
        stored = {}
        for r in state[tables.DETECTIONS]:
            if r["clip_id"] == clips[f"2026-06-10/10/{name}"]:
                stored.setdefault((r["frame_index"], r["class"]), []).append(round(r["score"], 5))
                assert (r["frame_width"], r["frame_height"]) == (640, 480)
                assert 0 <= r["xmin"] <= r["xmax"] <= 640 and 0 <= r["ymin"] <= r["ymax"] <= 480
        assert {k: sorted(v) for k, v in stored.items()} == {k: sorted(v) for k, v in expected.items()}, name
    # The photo's frames (from 3 s, frame 6 on) carry its event classes; the grey ones none.
    a = [r for r in state[tables.DETECTIONS] if r["clip_id"] == clips["2026-06-10/10/a.mp4"]]
    _, _, classes = photo
    assert {r["class"] for r in a if r["class"] in classes} == classes
    assert min(r["frame_index"] for r in a) == GREY_S * FPS
    assert {r["frame_time"] for r in a} == {
        HOUR + timedelta(seconds=s) for s in range(GREY_S, GREY_S + PHOTO_S)
    }


def test_events_from_persistent_detections_with_the_cameras_place(lake, ingested, photo):
    _, state, _, _, _, _ = ingested
    _, _, classes = photo
    registry = load_registry()
    geo = load_geography()
    grid = geo.grids_of(COMMUNITIES["CAM-A"])[0]
    events = {r["event_id"]: r for r in state[tables.EVENTS]}
    # CAM-B's single frame of the photo is no event; CAM-A's five seconds of it are.
    assert set(events) == {f"CE-CAM-A-{c}-20260610100003" for c in classes}
    for c in classes:
        event = events[f"CE-CAM-A-{c}-20260610100003"]
        assert (event["started_at"], event["ended_at"]) == (
            HOUR + timedelta(seconds=3),
            HOUR + timedelta(seconds=7),
        )
        assert (event["frames_seen"], event["frames_sampled"]) == (5, 5)
        assert event["category"] == registry.classes[c].category
        assert event["auto_dispatch"] == registry.auto_dispatch(c)
        assert event["model_version"] == registry.served[c].version
        best = max(
            r["score"] for r in state[tables.DETECTIONS] if r["class"] == c and r["camera_id"] == "CAM-A"
        )
        assert event["peak_score"] == pytest.approx(best)
        assert (event["district_code"], event["street_code"], event["community_code"]) == (
            geo.district.code,
            geo.street_of(COMMUNITIES["CAM-A"]),
            COMMUNITIES["CAM-A"],
        )
        assert (event["grid_code"], event["lon"], event["lat"]) == (grid.code, *grid.box.centroid)
        assert event["hour"] == HOUR
    assert "garbage_bin" not in {e["class"] for e in events.values()}


def test_a_rerun_of_the_hour_changes_nothing_and_loads_no_model(spark, lake, ingested):
    first, state, versions, again, loads_first, loads_again = ingested
    assert _versions(spark, lake) == versions
    for table in tables.TABLES:
        assert sorted(map(repr, _rows(spark, lake, table))) == sorted(map(repr, state[table])), table
    assert again.table(tables.CLIPS).summary() == first.table(tables.CLIPS).summary()
    assert loads_again == loads_first  # every clip known: nothing decoded, no model loaded


def test_one_model_load_per_python_worker(ingested):
    _, _, _, _, loads, _ = ingested
    assert loads, "no Python worker loaded the model"
    assert all(loads.count(pid) == 1 for pid in loads), loads


def test_the_lake_holds_no_pixels(spark, lake, ingested):
    from pyspark.sql.types import ArrayType, BinaryType

    root = Path(lake.lake)
    files = [p for p in root.rglob("*") if p.is_file()]
    assert any(p.suffix == ".parquet" for p in files)
    for path in files:
        data = path.read_bytes()
        for kind, signatures in SIGNATURES.items():
            assert not any(s in data for s in signatures), f"{path} holds a {kind} signature"
    for table in tables.TABLES:
        schema = spark.read.format("delta").load(lake.table_path("silver", table)).schema
        for field in schema.fields:
            kind = field.dataType.elementType if isinstance(field.dataType, ArrayType) else field.dataType
            assert not isinstance(kind, BinaryType), f"silver.{table}.{field.name} is binary"
        assert [f.name for f in schema.fields] == list(tables.column_names(table))


def test_evidence_images_outside_the_lake_are_rebuilt_from_pixels(lake, ingested):
    from PIL import Image

    _, state, _, _, _, _ = ingested
    registry = load_registry()
    root = lake.evidence / "cameras" / "2026-06-10" / "10"
    kept = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.jpg"))
    # One image per clip and event class detected in it: the best frame, with its box.
    expected = {
        f"{r['camera_id']}/{r['clip_id']}_{r['class']}.jpg"
        for r in state[tables.DETECTIONS]
        if registry.classes[r["class"]].event
    }
    clip_of = {r["clip_id"]: r["file"] for r in state[tables.CLIPS]}
    assert {clip_of[r["clip_id"]] for r in state[tables.DETECTIONS]} >= {"2026-06-10/10/c.jpg"}
    assert kept == sorted(expected) and kept
    assert (lake.landing / "cameras" / "2026-06-10" / "10" / "c.jpg").read_bytes().count(b"Exif") == 1
    for name in kept:
        data = (root / name).read_bytes()
        assert data[:2] == b"\xff\xd8"
        assert b"Exif" not in data and XMP_NS not in data and b"StreetCam" not in data
        with Image.open(root / name) as image:
            assert not image.getexif() and image.size == (640, 480)
    assert not any(Path(lake.lake) in p.parents for p in root.rglob("*"))


def test_the_quality_gate_passes_on_what_the_ingest_wrote(lake, ingested):
    from civiclake.cli.quality import family_suites
    from civiclake.families import families
    from quality.silver import gate

    reports = gate(lake, family_suites(families()[tables.FAMILY], None))
    assert [r.suite for r in reports] == [f"silver.{t}" for t in tables.TABLES]
    assert all(r.success for r in reports), [r.failures for r in reports]
    assert [r.rows for r in reports][:2] == [3, 6]  # clips, quarantine


def test_a_clip_seen_in_an_earlier_hour_is_a_duplicate_and_the_whole_day_reruns_alike(spark, lake, ingested):
    from spark_jobs import ingest_cameras

    _, state, _, _, _, _ = ingested
    later = lake.landing / "cameras" / "2026-06-10" / "11"
    later.mkdir()
    shutil.copy(lake.landing / "cameras/2026-06-10/10/a.mp4", later / "again.mp4")
    (later / "manifest.csv").write_text(
        "file,camera_id,started_at,fps,codec\nagain.mp4,CAM-A,2026-06-10 11:00:00,2,mpeg4\n", encoding="utf-8"
    )
    hour = ingest_cameras.run(spark, lake, D, hour=11).table(tables.CLIPS)
    assert (hour.source_rows, hour.silver_rows, hour.duplicate_rows) == (1, 0, 1)
    day = ingest_cameras.run(spark, lake, D)
    clips = day.table(tables.CLIPS)
    assert (clips.source_rows, clips.silver_rows, clips.quarantined_rows, clips.duplicate_rows) == (
        10,
        3,
        5,
        2,
    )
    duplicate = [r for r in _rows(spark, lake, tables.QUARANTINE) if r["file"] == "2026-06-10/11/again.mp4"]
    assert [(r["reason"], r["hour"]) for r in duplicate] == [("duplicate_clip", HOUR + timedelta(hours=1))]
    assert "2026-06-10/10/a.mp4" in duplicate[0]["detail"]
    # Hour 10 as the hour's own run left it; hour 11 adds nothing but its duplicate.
    for table in (tables.CLIPS, tables.DETECTIONS, tables.EVENTS):
        assert sorted(map(repr, _rows(spark, lake, table))) == sorted(map(repr, state[table])), table

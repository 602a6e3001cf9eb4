"""The street-camera simulator: a deterministic day of clips and frames at registered online
cameras, readable by the landing reader, with event clips, upload defects and residents'
echoes in the governance system."""

from __future__ import annotations

import csv
import hashlib
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from civiclake.frames.clips import (
    CLOCK_OFF,
    TRUNCATED_CLIP,
    ClipError,
    check_clock,
    landing_hour,
    read_manifest,
    sample_frames,
)
from civiclake.geography import load_geography
from civiclake.ingest import raw_exports
from civiclake.settings import Settings
from simulators import cameras, governance
from simulators.resources import snapshot

DAY = date(2026, 11, 25)
# A flat colour per kind of photo, so a decoded frame tells which photo it shows.
COLOURS = {
    "garbage_overflow": (200, 40, 40),
    "garbage": (40, 200, 40),
    "pothole": (40, 40, 200),
    None: (200, 200, 40),
}
LISTING = [  # image, classes, has_event: as ../shared/data/urban_event_images/images.csv
    ("overflow.jpg", "garbage;garbage_overflow", "True", "garbage_overflow"),
    ("litter.jpg", "garbage", "True", "garbage"),
    ("pothole.jpg", "pothole", "True", "pothole"),
    ("bins.jpg", "garbage_bin", "False", None),
]


@pytest.fixture(scope="module")
def photos_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("urban_event_images")
    (folder / "images").mkdir()
    with (folder / "images.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "source_dataset", "classes", "has_event"])
        for name, classes, has_event, shows in LISTING:
            writer.writerow([name, "test", classes, has_event])
            Image.new("RGB", (96, 64), COLOURS[shows]).save(
                folder / "images" / name, format="JPEG", quality=95
            )
    return folder


def settings_for(data_dir: Path, photos_dir: Path, **overrides) -> Settings:
    return Settings(
        data_dir=data_dir,
        sim_camera_images_dir=photos_dir,
        **({"sim_camera_files_per_day": 8, "sim_camera_count": 4} | overrides),
    )


def delivered(settings: Settings) -> dict[str, str]:
    root = cameras.cameras_root(settings)
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def day(tmp_path_factory, photos_dir):
    settings = settings_for(tmp_path_factory.mktemp("var"), photos_dir)
    return settings, cameras.simulate_day(DAY, settings)


def test_a_day_is_delivered_byte_for_byte_the_same(tmp_path, photos_dir, day):
    settings, delivery = day
    again = settings_for(tmp_path, photos_dir)
    assert cameras.simulate_day(DAY, again) == delivery
    files = delivered(settings)
    assert files == delivered(again)
    plans = cameras.day_plan(DAY, settings)
    assert len(files) == len(plans) + len(delivery.hours)  # the files and one manifest an hour
    assert (delivery.clips, delivery.frames) == (
        sum(p.kind == "clip" for p in plans),
        sum(p.kind == "frame" for p in plans),
    )
    assert delivery.hours == ["08", "10", "14", "17"] and delivery.skipped is None
    assert cameras.day_plan(DAY, settings) != cameras.day_plan(DAY + timedelta(days=1), settings)


def test_the_manifest_lists_registered_online_cameras_and_every_file_reads_as_planned(day):
    settings, _ = day
    registry = snapshot("cameras", DAY, settings)
    online = set(registry.loc[registry["status"] == "online", "camera_id"])
    plans = {p.file: p for p in cameras.day_plan(DAY, settings)}
    assert len({p.camera.camera_id for p in plans.values()}) > 1
    seen = []
    for hour_dir in sorted(cameras.cameras_root(settings).glob("*/*")):
        rows, problems = read_manifest(hour_dir)
        assert problems == []
        hour = landing_hour(hour_dir)
        for row in rows:
            plan = plans[row.file]
            assert row.camera_id == plan.camera.camera_id and row.camera_id in online
            seen.append(row.file)
            if plan.defect == CLOCK_OFF:
                assert check_clock(row, hour).reason == CLOCK_OFF
                continue
            assert check_clock(row, hour) is None and row.started_at == plan.started_at
            if plan.defect == cameras.TRUNCATED:
                with pytest.raises(ClipError) as error:
                    list(sample_frames(hour_dir / row.file, row.codec, row.fps, 1.0))
                assert error.value.reason == TRUNCATED_CLIP
                continue
            sampled = list(sample_frames(hour_dir / row.file, row.codec, row.fps, 1.0))
            expected = [0] if plan.kind == "frame" else list(range(0, plan.frames, cameras.FPS))
            assert [index for index, _, _ in sampled] == expected
            assert all(pixels.shape == (cameras.HEIGHT, cameras.WIDTH, 3) for _, _, pixels in sampled)
            if plan.scene == "photo":  # the centre of every sampled frame shows the planned photo
                for _, _, pixels in sampled:
                    centre = pixels[200:280, 280:360].reshape(-1, 3).mean(axis=0)
                    assert centre == pytest.approx(COLOURS[plan.event_class], abs=8)
    assert sorted(seen) == sorted(plans)
    event_clips = [p for p in plans.values() if p.kind == "clip" and p.event_class]
    assert event_clips and any(p.event_class is None for p in plans.values())


def test_defects_fall_on_event_free_clips_and_read_as_their_reason(tmp_path, photos_dir, monkeypatch):
    monkeypatch.setattr(cameras, "DEFECT_SHARE", 1.0)
    settings = settings_for(tmp_path, photos_dir, sim_camera_files_per_day=12)
    plans = cameras.day_plan(DAY, settings)
    for plan in plans:
        assert (plan.defect is not None) == (plan.kind == "clip" and plan.event_class is None)
    truncated = next(p for p in plans if p.defect == cameras.TRUNCATED)
    cameras.write_file(truncated, cameras.load_photos(photos_dir), tmp_path / truncated.file)
    with pytest.raises(ClipError) as error:
        list(sample_frames(tmp_path / truncated.file, "mpeg4", cameras.FPS, 1.0))
    assert error.value.reason == TRUNCATED_CLIP
    late = next(p for p in plans if p.defect == CLOCK_OFF)
    row = late.manifest_row()
    assert row.started_at == late.started_at - timedelta(hours=8)
    assert check_clock(row, late.hour).reason == CLOCK_OFF


def test_without_the_photos_nothing_is_delivered_and_the_day_says_why(tmp_path):
    settings = Settings(data_dir=tmp_path, sim_camera_images_dir=tmp_path / "absent")
    delivery = cameras.simulate_day(DAY, settings)
    assert str(tmp_path / "absent" / "images.csv") in delivery.skipped
    # The residents' reports are the governance system's: they stand, recordings or not.
    assert delivery.counts() == {
        "clips": 0,
        "frames": 0,
        "event_files": 0,
        "defects": 0,
        "resident_echoes": len(cameras.resident_echoes(DAY, settings)),
    }
    assert not cameras.cameras_root(settings).exists()


def test_a_day_delivered_again_replaces_it_except_hours_already_ingested(tmp_path, photos_dir):
    settings = settings_for(tmp_path, photos_dir, sim_camera_files_per_day=4)  # one file an hour
    cameras.simulate_day(DAY, settings)
    root = cameras.cameras_root(settings) / DAY.isoformat()
    for hour in ("08", "10"):
        (root / hour / "CAM99999999_20261125080000.mp4").write_bytes(b"an earlier delivery's")
    raw_exports.write_receipt(root / "10", DAY, [])
    delivery = cameras.simulate_day(DAY, settings)
    assert delivery.hours == ["08", "14", "17"] and "10 was ingested" in delivery.skipped
    assert not (root / "08" / "CAM99999999_20261125080000.mp4").exists()
    assert (root / "10" / "CAM99999999_20261125080000.mp4").exists()


def test_residents_echo_some_event_clips_nearby_in_the_governance_system():
    settings = Settings(sim_cases_per_day=150)
    geography = load_geography()
    days = [DAY - timedelta(days=k) for k in range(6)]
    echoes = []
    for day in days:
        plans = {p.relative_file: p for p in cameras.day_plan(day, settings, geography)}
        residents = {
            p.echo_of: p for p in governance.cases_reported_on(day, settings, geography) if p.echo_of
        }
        for echo in cameras.resident_echoes(day, settings, geography):
            clip, case = plans[echo.clip], residents[echo.clip]
            assert clip.kind == "clip" and clip.event_class == echo.event_class
            assert case.category == echo.governance_category == cameras._categories()[clip.event_class]
            assert echo.governance_category in ("garbage", "road_facility")
            assert (case.lon, case.lat, case.reported_at) == (echo.lon, echo.lat, echo.reported_at)
            assert case.channel in governance.RESIDENT_CHANNELS and case.reporter is not None
            assert 0 < echo.distance_m <= cameras.ECHO_METRES[1]
            lag = abs(echo.reported_at - clip.started_at)
            assert timedelta(minutes=4) < lag <= timedelta(minutes=cameras.ECHO_MINUTES[1])
            assert echo.reported_at.date() == day
            location = geography.locate(case.lon, case.lat)
            assert (location.community_code, location.grid_code) == (case.community_code, case.grid_code)
            echoes.append(echo)
        # The city's echoes are listed as pairs as before; the cameras' are not city cases.
        assert all(
            pair.city_case_id.startswith("CM") for pair in governance.echo_pairs(day, settings, geography)
        )
    event_clips = sum(
        p.kind == "clip" and p.event_class is not None for d in days for p in cameras.day_plan(d, settings)
    )
    assert 0.2 * event_clips < len(echoes) < 0.8 * event_clips
    assert any(e.resident_first for e in echoes) and not all(e.resident_first for e in echoes)
    assert cameras.resident_echoes(DAY, settings) == cameras.resident_echoes(DAY, settings)


REAL_PHOTOS = Settings().sim_camera_images_dir


@pytest.mark.skipif(not (REAL_PHOTOS / "images.csv").is_file(), reason=f"{REAL_PHOTOS} is absent")
def test_the_real_photos_give_every_class_and_photos_without_events():
    photos = cameras.load_photos(REAL_PHOTOS)
    with (REAL_PHOTOS / "images.csv").open(encoding="utf-8", newline="") as handle:
        listed = {row["image"]: row for row in csv.DictReader(handle)}
    for code, names in photos.by_class.items():
        assert len(names) >= 40, code
        for name in names:
            classes = listed[name]["classes"].split(";")
            assert code in classes and listed[name]["has_event"] == "True"
            if code == "garbage":  # dumped refuse, with no overflowing bin to confuse it
                assert "garbage_overflow" not in classes
    assert len(photos.without_event) >= 40
    assert all(listed[name]["has_event"] == "False" for name in photos.without_event)
    event = next(p for p in cameras.day_plan(DAY, Settings()) if p.event_class)
    frame = next(cameras.render_frames(event, photos))
    assert frame.shape == (cameras.HEIGHT, cameras.WIDTH, 3) and frame.dtype == np.uint8

"""Simulator of the street-camera platform: the day's clips and single frames in its landing.

A handful of the district's registered cameras send short recordings, the way a camera
platform hands them to the city: into ``<landing>/cameras/<YYYY-MM-DD>/<HH>/`` with a
``manifest.csv`` beside them (the layout of ``civiclake.frames.clips``). A clip is MPEG-4
Part 2 (``mpeg4``) at 640×480, 8–10 s at 5 frames a second; about one file in five is a
single JPEG frame. The recordings come in a few hours of the day (:data:`HOURS`).

The cameras are those of the basic-resource registry that are online on the day: the
platform knows its own cameras, and the registry is computed here as the registry office's
extract is (``simulators.resources.snapshot``), from the seed and the date, rather than read
from that extract, which the resources ingest removes once it has loaded it. A fixed few of
them, chosen by a hash of their id, send recordings, so the same cameras report day after day.

What a recording shows is public space, never people: about half of the clips hold one real
photo of an event (an overflowing bin, dumped refuse, a pothole) from
``../shared/data/urban_event_images`` letterboxed into the frame, shaken by a pixel or two
and grainy from frame to frame so that it persists as a real scene does; the others hold a
photo without any event (bins only, an intact road) or a drawn street. Without that folder
the simulator says so and delivers nothing (the rest of the day runs as usual).

Some event clips are echoed by a resident, who reports the same problem through the
governance system a few metres from the camera and some minutes before or after the clip
(:func:`resident_echoes`, read by ``simulators.governance`` like the city's echoes), so the
funnel has camera/resident pairs to link. A few event-free clips carry the defects real
uploads do — cut short, or stamped by a camera whose clock was left on UTC — for the
ingest's quarantine.

Everything is drawn from the seed and the date (the plan and the echoes without reading the
photos), so a day delivered again is byte-identical and any day can be made in any order.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import logging
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

import numpy as np

from civiclake.frames.classes import load_classes
from civiclake.frames.clips import MANIFEST, ManifestRow, write_manifest
from civiclake.geography import Geography, load_geography
from civiclake.ingest import raw_exports
from civiclake.settings import Settings
from simulators.city import distance_m, point_near
from simulators.resources import snapshot

log = logging.getLogger(__name__)

HOURS = (8, 10, 14, 17)  # the hours of the day the cameras' recordings come in
WIDTH, HEIGHT = 640, 480
FPS = 5
CLIP_SECONDS = (8, 10)
BIT_RATE = 300_000  # a small bitrate: the clips are for detection, not for watching
JPEG_QUALITY = 85
CLIP_CODEC, FRAME_CODEC = "mpeg4", "jpeg"

FRAME_SHARE = 0.2  # single JPEG frames among the day's files
EVENT_SHARE = 0.5  # files showing an event
# The event classes the recordings show (the shipped model's), by weight.
EVENT_CLASSES = {"garbage_overflow": 4, "garbage": 3, "pothole": 3}
PHOTO_SHARE_WITHOUT_EVENT = 0.5  # event-free files from a photo without events; the rest drawn
# Share of event clips a resident reports too, how far from the camera and how long before or
# after the clip (an assumption, like the city's echoes: often enough for the funnel to matter).
ECHO_SHARE = 0.5
ECHO_METRES = (3.0, 40.0)
ECHO_MINUTES = (5, 90)
# Share of event-free clips with an upload defect, and the defects.
DEFECT_SHARE = 0.08
TRUNCATED, CLOCK_OFF = "truncated_clip", "clock_off"
TRUNCATED_KEEP = 0.6  # share of the bytes an interrupted upload leaves
UTC_OFFSET = timedelta(hours=8)  # a camera whose clock runs on UTC stamps Shenzhen time minus 8 h


class CameraImagesMissingError(FileNotFoundError):
    """The real photos the recordings are made from are not there."""


# ---------------------------------------------------------------- the plan of a day


@dataclass(frozen=True)
class Camera:
    """A registered camera: its id and its point."""

    camera_id: str
    lon: float
    lat: float
    community_code: str
    grid_code: str


def _stable_hash(*parts: object) -> int:
    return int.from_bytes(
        hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest(), "little"
    )


def online_cameras(day: date, settings: Settings, geography: Geography | None = None) -> list[Camera]:
    """The ``sim_camera_count`` cameras that send recordings on ``day``: among the registry's
    cameras online at the end of the day, ranked by a hash of the seed and their id, first
    the best-ranked of each street (so every street's screen has cameras), then the next ones."""
    geography = geography or load_geography()
    registry = snapshot("cameras", day, settings, geography)
    online = registry[registry["status"] == "online"]
    ranked = sorted(online.itertuples(index=False), key=lambda c: _stable_hash(settings.seed, c.camera_id))
    first_of_street: dict[str, object] = {}
    for camera in ranked:
        first_of_street.setdefault(geography.street_of(camera.community_code), camera)
    leading = list(first_of_street.values())
    chosen = (leading + [c for c in ranked if c not in leading])[: settings.sim_camera_count]
    return [
        Camera(c.camera_id, float(c.lon), float(c.lat), c.community_code, c.grid_code)
        for c in sorted(chosen, key=lambda c: c.camera_id)
    ]


@dataclass(frozen=True)
class FilePlan:
    """One file a camera sends: what it shows and when it starts."""

    file: str  # its name in the hour folder
    camera: Camera
    started_at: datetime  # local wall clock, as the camera's clock should say
    kind: str  # "clip" or "frame"
    frames: int
    event_class: str | None  # what it shows; None: no event
    scene: str  # "photo" or "street" (drawn)
    pick: float  # which photo of those that fit, as a share of their sorted list
    pixel_seed: int  # the grain and shake of its frames
    defect: str | None = None  # TRUNCATED or CLOCK_OFF

    @property
    def hour(self) -> datetime:
        return self.started_at.replace(minute=0, second=0, microsecond=0)

    @property
    def relative_file(self) -> str:
        """``<YYYY-MM-DD>/<HH>/<file>``: the path the lake knows the file by."""
        return f"{self.hour:%Y-%m-%d/%H}/{self.file}"

    @property
    def codec(self) -> str:
        return CLIP_CODEC if self.kind == "clip" else FRAME_CODEC

    def manifest_row(self) -> ManifestRow:
        """The manifest's row of the file, with the camera's clock as it stamps it."""
        started_at = self.started_at - UTC_OFFSET if self.defect == CLOCK_OFF else self.started_at
        return ManifestRow(
            self.file, self.camera.camera_id, started_at, FPS if self.kind == "clip" else 1, self.codec
        )


def day_plan(day: date, settings: Settings, geography: Geography | None = None) -> list[FilePlan]:
    """The files the cameras send on ``day``, in the order drawn (a pure function of the seed,
    the day and the sim_camera settings; the photos are not read)."""
    cameras = online_cameras(day, settings, geography)
    if not cameras:
        return []
    rng = random.Random(f"cameras-{settings.seed}-{day.isoformat()}")
    # Defects from a generator of their own: adding them changed no file's content.
    defects = random.Random(f"camera-defects-{settings.seed}-{day.isoformat()}")
    classes, weights = list(EVENT_CLASSES), list(EVENT_CLASSES.values())
    plans, names = [], set()
    for n in range(settings.sim_camera_files_per_day):
        # Each camera's first file of the day is a clip of an event, so every camera sending
        # (one per street at least) has something to find; the other files are drawn.
        first_of_camera = n < len(cameras)
        camera = cameras[n] if first_of_camera else rng.choice(cameras)
        kind = "clip" if first_of_camera or rng.random() >= FRAME_SHARE else "frame"
        frames = 1 if kind == "frame" else FPS * rng.randint(*CLIP_SECONDS)
        hour = datetime.combine(day, time(HOURS[n % len(HOURS)]))
        started_at = hour + timedelta(seconds=rng.randint(0, 3599 - frames // FPS))
        shows_event = first_of_camera or rng.random() < EVENT_SHARE
        event_class = rng.choices(classes, weights)[0] if shows_event else None
        scene = "photo" if event_class or rng.random() < PHOTO_SHARE_WITHOUT_EVENT else "street"
        pick, pixel_seed = rng.random(), rng.getrandbits(32)
        defect = None
        if kind == "clip" and event_class is None and defects.random() < DEFECT_SHARE:
            defect = defects.choice((TRUNCATED, CLOCK_OFF))
        suffix = ".mp4" if kind == "clip" else ".jpg"
        name = f"{camera.camera_id}_{started_at:%Y%m%d%H%M%S}{suffix}"
        if name in names:  # the same camera and second twice: a second file of its own
            name = f"{camera.camera_id}_{started_at:%Y%m%d%H%M%S}_{n:02d}{suffix}"
        names.add(name)
        plans.append(
            FilePlan(name, camera, started_at, kind, frames, event_class, scene, pick, pixel_seed, defect)
        )
    return plans


# ---------------------------------------------------------------- residents' echoes


@functools.cache
def _categories() -> dict[str, str]:
    """Event class → the district category its cases take (the frame class catalogue)."""
    return {code: c.category for code, c in load_classes().items() if c.event and c.category}


@dataclass(frozen=True)
class CameraEcho:
    """A resident's report, through the governance system, of what an event clip shows."""

    clip: str  # the clip's path relative to the landing's cameras folder
    camera_id: str
    event_class: str
    governance_category: str
    clip_started_at: datetime
    camera_lon: float
    camera_lat: float
    reported_at: datetime  # the resident's report
    lon: float
    lat: float
    community_code: str
    grid_code: str

    @property
    def echo_of(self) -> str:
        """What the resident's case echoes, as governance's plans record it: the clip."""
        return self.clip

    @property
    def resident_first(self) -> bool:
        return self.reported_at < self.clip_started_at

    @property
    def distance_m(self) -> float:
        return distance_m(self.camera_lon, self.camera_lat, self.lon, self.lat)


def resident_echoes(day: date, settings: Settings, geography: Geography | None = None) -> list[CameraEcho]:
    """The reports residents make of the problems the event clips of ``day`` show: for about
    ``ECHO_SHARE`` of them, a point ``ECHO_METRES`` from the camera and a time ``ECHO_MINUTES``
    before or after the clip starts, on the same day, of the category the clip's class takes.
    A pure function of the seed and the day, from a generator of its own."""
    geography = geography or load_geography()
    rng = random.Random(f"camera-echoes-{settings.seed}-{day.isoformat()}")
    categories = _categories()
    echoes = []
    for plan in day_plan(day, settings, geography):
        if plan.kind != "clip" or plan.event_class is None or rng.random() >= ECHO_SHARE:
            continue
        lag = timedelta(minutes=rng.uniform(*ECHO_MINUTES))
        reported_at = plan.started_at - lag if rng.random() < 0.5 else plan.started_at + lag
        if reported_at.date() != day:  # the other way round keeps it on the day
            reported_at = plan.started_at + (lag if reported_at.date() < day else -lag)
        reported_at = reported_at.replace(microsecond=0)
        metres, bearing = rng.uniform(*ECHO_METRES), rng.uniform(0, 2 * math.pi)
        camera = plan.camera
        lon, lat, location = point_near(geography, camera.lon, camera.lat, metres, bearing)
        echoes.append(
            CameraEcho(
                clip=plan.relative_file,
                camera_id=camera.camera_id,
                event_class=plan.event_class,
                governance_category=categories[plan.event_class],
                clip_started_at=plan.started_at,
                camera_lon=camera.lon,
                camera_lat=camera.lat,
                reported_at=reported_at,
                lon=lon,
                lat=lat,
                community_code=location.community_code,
                grid_code=location.grid_code,
            )
        )
    return echoes


# ---------------------------------------------------------------- pixels


@dataclass(frozen=True)
class Photos:
    """The real photos a recording may show: per event class, and those without any event."""

    folder: Path
    by_class: dict[str, tuple[str, ...]]
    without_event: tuple[str, ...]

    def pick(self, event_class: str | None, share: float) -> Path:
        names = self.without_event if event_class is None else self.by_class[event_class]
        return self.folder / "images" / names[min(int(share * len(names)), len(names) - 1)]


def load_photos(folder: Path | str) -> Photos:
    """The photos of ``folder`` (``images.csv`` and ``images/``) by what they show. A class's
    photos are those with a box of it; dumped refuse (``garbage``) only those without an
    overflowing bin, so the clip shows the class it is planned for."""
    folder = Path(folder)
    listing = folder / "images.csv"
    if not listing.is_file() or not (folder / "images").is_dir():
        raise CameraImagesMissingError(
            f"the camera photos are not there: {listing} and {folder / 'images'} are the staged public "
            "images of ../shared/data/urban_event_images (see ../shared/data/README.md); point "
            "CIVICLAKE_SIM_CAMERA_IMAGES_DIR at a folder holding them"
        )
    by_class: dict[str, list[str]] = {code: [] for code in EVENT_CLASSES}
    without_event = []
    with listing.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            classes = set(filter(None, row["classes"].split(";")))
            if row["has_event"] != "True":
                without_event.append(row["image"])
                continue
            if "garbage_overflow" in classes:
                by_class["garbage_overflow"].append(row["image"])
            elif "garbage" in classes:
                by_class["garbage"].append(row["image"])
            if "pothole" in classes:
                by_class["pothole"].append(row["image"])
    empty = [code for code, names in by_class.items() if not names] + (
        ["no event"] if not without_event else []
    )
    if empty:
        raise CameraImagesMissingError(f"{listing} lists no photo of {', '.join(empty)}")
    return Photos(
        folder, {code: tuple(sorted(names)) for code, names in by_class.items()}, tuple(sorted(without_event))
    )


def _letterboxed(path: Path) -> np.ndarray:
    """The photo scaled to fit the frame, centred on a dark border (H×W×3 uint8)."""
    from PIL import Image

    with Image.open(path) as image:
        photo = image.convert("RGB")
    scale = min(WIDTH / photo.width, HEIGHT / photo.height)
    size = (round(photo.width * scale), round(photo.height * scale))
    canvas = np.full((HEIGHT, WIDTH, 3), 32, dtype=np.uint8)
    x, y = (WIDTH - size[0]) // 2, (HEIGHT - size[1]) // 2
    canvas[y : y + size[1], x : x + size[0]] = np.asarray(photo.resize(size, Image.Resampling.BILINEAR))
    return canvas


def _street(rng: np.random.Generator) -> np.ndarray:
    """A drawn street without events: sky, building fronts, pavements and a marked road."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (WIDTH, HEIGHT), (176, 190, 204))
    draw = ImageDraw.Draw(image)
    horizon = int(HEIGHT * rng.uniform(0.32, 0.42))
    x = 0
    while x < WIDTH:  # building fronts along the horizon, with rows of windows
        width = int(rng.integers(50, 130))
        top = horizon - int(rng.integers(40, horizon - 10))
        shade = int(rng.integers(110, 190))
        draw.rectangle((x, top, x + width, horizon), fill=(shade, shade - 8, shade - 16))
        for wy in range(top + 8, horizon - 12, 18):
            for wx in range(x + 6, x + width - 12, 16):
                draw.rectangle((wx, wy, wx + 7, wy + 9), fill=(70, 84, 100))
        x += width + int(rng.integers(0, 12))
    centre = WIDTH // 2 + int(rng.integers(-60, 60))
    draw.rectangle((0, horizon, WIDTH, HEIGHT), fill=(150, 146, 140))  # pavements
    road = [(centre - 30, horizon), (centre + 30, horizon), (WIDTH - 40, HEIGHT), (40, HEIGHT)]
    draw.polygon(road, fill=(72, 72, 76))
    for k in range(8):  # the centre line's dashes, longer nearer the camera
        near, far = (k + 0.3) / 8, (k + 0.7) / 8
        y0, y1 = horizon + (HEIGHT - horizon) * near**2, horizon + (HEIGHT - horizon) * far**2
        draw.line((centre, y0, centre, y1), fill=(228, 228, 220), width=max(1, int(1 + 5 * far)))
    return np.asarray(image, dtype=np.uint8).copy()


def render_frames(plan: FilePlan, photos: Photos) -> Iterator[np.ndarray]:
    """The RGB frames of ``plan``'s file: its scene, shaken by up to two pixels and with a
    little grain and flicker from frame to frame."""
    rng = np.random.default_rng(plan.pixel_seed)
    base = _letterboxed(photos.pick(plan.event_class, plan.pick)) if plan.scene == "photo" else _street(rng)
    padded = np.pad(base, ((2, 2), (2, 2), (0, 0)), mode="edge").astype(np.int16)
    # A few grain fields, drawn once and mixed per frame: as grainy as fresh noise to a
    # detector, at a fraction of the cost.
    grains = rng.integers(-3, 4, size=(4, HEIGHT, WIDTH, 1), dtype=np.int16)
    for _ in range(plan.frames):
        dy, dx, g = (int(v) for v in rng.integers(0, [5, 5, len(grains)]))
        flicker = int(rng.integers(-3, 4))
        frame = padded[dy : dy + HEIGHT, dx : dx + WIDTH] + grains[g] + flicker
        yield np.clip(frame, 0, 255).astype(np.uint8)


def encode_clip(frames: Iterator[np.ndarray], path: Path, fps: int = FPS) -> None:
    """Writes the frames to ``path`` as an MP4 of MPEG-4 Part 2 video, its index first
    (``faststart``), so a player (and the reader's truncation check) knows the length before
    the frames."""
    import av

    with av.open(str(path), mode="w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream(CLIP_CODEC, rate=fps)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.bit_rate = BIT_RATE
        stream.codec_context.thread_count = 1  # one thread: the same bytes on every run
        for pixels in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        container.mux(stream.encode())


def encode_frame(pixels: np.ndarray, path: Path) -> None:
    """Writes a single frame to ``path`` as a JPEG without metadata."""
    from PIL import Image

    Image.fromarray(pixels, "RGB").save(path, format="JPEG", quality=JPEG_QUALITY)


def write_file(plan: FilePlan, photos: Photos, target: Path) -> None:
    """Writes the file the camera delivers for ``plan`` to ``target`` (0600), under a hidden
    name first; an interrupted upload leaves the first part of the clip."""
    temporary = raw_exports.temporary_name(target)
    temporary.unlink(missing_ok=True)
    frames = render_frames(plan, photos)
    if plan.kind == "frame":
        encode_frame(next(frames), temporary)
    else:
        encode_clip(frames, temporary)
        if plan.defect == TRUNCATED:
            with temporary.open("r+b") as file:
                file.truncate(int(temporary.stat().st_size * TRUNCATED_KEEP))
    raw_exports.publish_private(temporary, target)


# ---------------------------------------------------------------- delivery


@dataclass
class Delivery:
    """What the platform delivered for a day."""

    day: date
    clips: int = 0
    frames: int = 0
    event_files: int = 0
    defects: int = 0
    echoes: int = 0  # residents' reports in the governance system of the day's event clips
    hours: list[str] = field(default_factory=list)  # the hour folders written
    skipped: str | None = None  # why nothing (or not everything) was delivered

    def counts(self) -> dict[str, int]:
        return {
            "clips": self.clips,
            "frames": self.frames,
            "event_files": self.event_files,
            "defects": self.defects,
            "resident_echoes": self.echoes,
        }


def cameras_root(settings: Settings) -> Path:
    return Path(settings.landing) / "cameras"


def simulate_day(day: date, settings: Settings) -> Delivery:
    """Delivers the day's files, hour by hour: each file written under a hidden name and
    renamed, the hour's manifest last, files of an earlier delivery of the day that the
    plan no longer has removed. An hour (or a day) that was ingested is not delivered again
    (``raw_exports.ingested_before``). The files are 0600 in 0700 folders: a street camera
    may catch a passer-by, so they are kept like other raw exports until ingested.

    Without the photos (``settings.sim_camera_images_dir``) nothing is written and
    ``skipped`` says why.
    """
    delivery = Delivery(day)
    geography = load_geography()
    plans = day_plan(day, settings, geography)
    delivery.echoes = len(resident_echoes(day, settings, geography))
    try:
        photos = load_photos(settings.sim_camera_images_dir)
    except CameraImagesMissingError as error:
        delivery.skipped = f"no camera recordings delivered for {day}: {error}"
        return delivery
    day_dir = cameras_root(settings) / day.isoformat()
    if day_dir.is_dir() and raw_exports.ingested_before(day_dir):
        delivery.skipped = f"{day_dir} was ingested; not delivered again"
        return delivery
    by_hour: dict[datetime, list[FilePlan]] = {}
    for plan in plans:
        by_hour.setdefault(plan.hour, []).append(plan)
    for hour, hour_plans in sorted(by_hour.items()):
        hour_dir = raw_exports.private_dir(Path(settings.landing), "cameras", day.isoformat(), f"{hour:%H}")
        if raw_exports.ingested_before(hour_dir):
            delivery.skipped = f"{hour_dir} was ingested; not delivered again"
            continue
        planned = {plan.file for plan in hour_plans}
        for stale in hour_dir.iterdir():
            delivered = stale.is_file() and stale.name != MANIFEST and not stale.name.startswith((".", "_"))
            if delivered and stale.name not in planned:
                stale.unlink()
        for plan in hour_plans:
            write_file(plan, photos, hour_dir / plan.file)
            delivery.clips += plan.kind == "clip"
            delivery.frames += plan.kind == "frame"
            delivery.event_files += plan.event_class is not None
            delivery.defects += plan.defect is not None
        write_manifest(hour_dir, [plan.manifest_row() for plan in sorted(hour_plans, key=lambda p: p.file)])
        delivery.hours.append(f"{hour:%H}")
        log.info("camera recordings %s %s: %d files", day, f"{hour:%H}", len(hour_plans))
    return delivery

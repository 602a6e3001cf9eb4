"""Evidence images rebuilt from their pixels, so no metadata leaves with them.

A camera frame or a resident's photo kept as evidence of a case may carry EXIF (the device,
the time, GPS coordinates), XMP, an ICC profile or comments. Stripping known tags leaves
whatever a tool put in a segment the stripper does not know; rebuilding does not: the image
is decoded, its pixels copied into a new image that has no metadata at all, and that image is
encoded as a JPEG. The orientation EXIF gives is applied to the pixels first, so the rebuilt
image shows what the original showed.

The camera job keeps, per clip and event class, the frame where the class scored highest,
with its box drawn, as evidence for the reviewer and the department
(``<data_dir>/evidence/cameras/<YYYY-MM-DD>/<HH>/<camera_id>/<clip_id>_<class>.jpg``):
encoded from the decoded pixels, so it never carries what the camera put in the file.
"""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageOps, UnidentifiedImageError

JPEG_QUALITY = 90
BOX_COLOUR = (255, 64, 0)


class EvidenceImageError(ValueError):
    """The input is not an image that can be decoded."""


def rebuild_image(source: bytes | str | Path, name: str | None = None, quality: int = JPEG_QUALITY) -> bytes:
    """The JPEG bytes of ``source`` (the image's bytes or its path) rebuilt from its pixels only.

    ``name`` labels bytes in an error (a path names itself). Raises EvidenceImageError naming
    the file when it cannot be read or is not a decodable image.
    """
    if isinstance(source, bytes | bytearray):
        label, data = name or "the image bytes", bytes(source)
    else:
        label = name or str(source)
        try:
            data = Path(source).read_bytes()
        except OSError as error:
            raise EvidenceImageError(f"{label}: cannot read the file ({error.strerror or error})") from None
    try:
        with Image.open(io.BytesIO(data)) as original:
            original.load()
            upright = ImageOps.exif_transpose(original).convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise EvidenceImageError(f"{label}: not a readable image ({error})") from None
    # A new image from the raw pixel bytes: nothing of the original's info dict comes along.
    clean = Image.frombytes("RGB", upright.size, upright.tobytes())
    out = io.BytesIO()
    clean.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def frame_evidence(pixels: np.ndarray, box: tuple[float, float, float, float] | None = None) -> bytes:
    """A decoded frame (H×W×3 uint8 RGB) as JPEG bytes, the detection's box drawn on it."""
    image = Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8), "RGB")
    if box is not None:
        ImageDraw.Draw(image).rectangle([round(v) for v in box], outline=BOX_COLOUR, width=3)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


def camera_evidence_path(root: str | Path, hour: datetime, camera_id: str, clip_id: str, cls: str) -> Path:
    """Where the evidence of ``cls`` in a clip is kept, under the evidence folder ``root``."""
    return Path(root) / "cameras" / f"{hour:%Y-%m-%d}" / f"{hour:%H}" / camera_id / f"{clip_id}_{cls}.jpg"


def write_evidence(path: Path, jpeg: bytes) -> None:
    """Writes ``jpeg`` to ``path`` whole or not at all (a rerun rewrites the same bytes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(jpeg)
    partial.replace(path)

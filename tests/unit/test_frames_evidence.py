"""Evidence images rebuilt from pixels: EXIF (GPS included), XMP, ICC and comments are gone."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import ExifTags, Image, ImageCms

from civiclake.frames.evidence import EvidenceImageError, rebuild_image

XMP_NS = b"http://ns.adobe.com/xap/1.0/"
XMP = (
    b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
    b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
    b'xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreatorTool="PhoneCam"/></rdf:RDF></x:xmpmeta>'
    b'<?xpacket end="w"?>'
)


def _pixels(width: int = 96, height: int = 64) -> np.ndarray:
    """A smooth colour gradient: JPEG keeps it within a few levels."""
    x = np.linspace(0, 255, width)[None, :].repeat(height, 0)
    y = np.linspace(0, 255, height)[:, None].repeat(width, 1)
    return np.stack([x, y, 255 - x], axis=2).astype(np.uint8)


def _photo_with_metadata(orientation: int = 1) -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SecretCam"
    exif[ExifTags.Base.Orientation] = orientation
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (22.0, 39.0, 30.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (114.0, 1.0, 45.0)
    out = io.BytesIO()
    Image.fromarray(_pixels()).save(
        out,
        format="JPEG",
        quality=95,
        exif=exif.tobytes(),
        xmp=XMP,
        comment=b"taken at home",
        icc_profile=ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes(),
    )
    return out.getvalue()


def _decoded(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"), dtype=np.int16)


def test_the_rebuilt_image_has_the_pixels_and_none_of_the_metadata():
    original = _photo_with_metadata()
    # The input does carry each kind of metadata, so their absence below means something.
    with Image.open(io.BytesIO(original)) as image:
        assert image.getexif().get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitude] == (22.0, 39.0, 30.0)
    for marker in (b"Exif\x00\x00", XMP_NS, b"SecretCam", b"taken at home", b"ICC_PROFILE"):
        assert marker in original

    rebuilt = rebuild_image(original)

    for marker in (b"Exif\x00\x00", XMP_NS, b"xmpmeta", b"SecretCam", b"taken at home", b"ICC_PROFILE"):
        assert marker not in rebuilt
    with Image.open(io.BytesIO(rebuilt)) as image:
        assert image.format == "JPEG"
        assert dict(image.getexif()) == {}
        assert image.getexif().get_ifd(ExifTags.IFD.GPSInfo) == {}
        assert "xmp" not in image.info and "icc_profile" not in image.info and "comment" not in image.info
    before, after = _decoded(original), _decoded(rebuilt)
    assert after.shape == before.shape == (64, 96, 3)
    assert np.abs(after - before).mean() < 2.0


def test_a_path_is_read_and_the_orientation_is_applied_to_the_pixels(tmp_path):
    path = tmp_path / "photo.jpg"
    path.write_bytes(_photo_with_metadata(orientation=6))  # 6: shown turned 90° clockwise
    rebuilt = rebuild_image(path)
    after = _decoded(rebuilt)
    assert after.shape == (96, 64, 3)
    expected = np.rot90(_decoded(_photo_with_metadata()), k=-1)
    assert np.abs(after - expected).mean() < 2.0


def test_a_png_with_transparency_comes_back_as_a_jpeg():
    rgba = np.dstack([_pixels(), np.full((64, 96), 128, np.uint8)])
    out = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(out, format="PNG")
    with Image.open(io.BytesIO(rebuild_image(out.getvalue()))) as image:
        assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (96, 64))


def test_input_that_is_not_an_image_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("not a picture", encoding="utf-8")
    with pytest.raises(EvidenceImageError, match=f"^{path}: not a readable image"):
        rebuild_image(path)
    with pytest.raises(EvidenceImageError, match="^upload-7.jpg: not a readable image"):
        rebuild_image(b"\xff\xd8\xff\xe0 truncated", name="upload-7.jpg")
    with pytest.raises(EvidenceImageError, match=f"^{tmp_path / 'absent.jpg'}: cannot read the file"):
        rebuild_image(tmp_path / "absent.jpg")

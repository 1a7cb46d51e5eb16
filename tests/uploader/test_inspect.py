"""inspect_upload: real content decides; every pixel decodes or the upload is refused."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import pytest
import pyvips
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loadtest.harness import imagegen
from proxy.animation import AnimationLimits
from proxy.errors import PixgateError, Unprocessable, UnsupportedCoding, UnsupportedMedia
from proxy.probe import gif_cut_short
from tests import codings
from uploader.inspect import Inspected, inspect_upload

MAX = 50_000_000

LENS_AND_PLACE = {
    "exif-ifd0-Make": "Canon",
    "exif-ifd0-Model": "Canon EOS R5",
    "exif-ifd2-LensModel": "RF50mm F1.8 STM",
    "exif-ifd2-FocalLength": "50/1",
    "exif-ifd2-FNumber": "18/10",
    "exif-ifd2-ExposureTime": "1/500",
    "exif-ifd2-ISOSpeedRatings": "400",
    "exif-ifd2-DateTimeOriginal": "2024:06:21 19:30:00",
    "exif-ifd3-GPSVersionID": "2 2 0 0",
    "exif-ifd3-GPSLatitudeRef": "N",
    "exif-ifd3-GPSLatitude": "48/1 51/1 2400/100",
    "exif-ifd3-GPSLongitudeRef": "W",
    "exif-ifd3-GPSLongitude": "2/1 21/1 300/100",
}
LENS_AND_PLACE_DECODED = {
    "camera_make": "Canon",
    "camera_model": "Canon EOS R5",
    "lens": "RF50mm F1.8 STM",
    "iso": 400,
    "aperture": "f/1.8",
    "f_number": 1.8,
    "shutter_speed": "1/500 s",
    "exposure_time": 0.002,
    "focal_length": "50 mm",
    "date_taken": "2024-06-21T19:30:00",
    "orientation": 1,
}
PARIS_WEST = {"latitude": 48.856667, "longitude": -2.350833}


def _inspect(data: bytes, **options: object) -> Inspected:
    return inspect_upload(data, max_pixels=MAX, keep_gps=False, **options)  # type: ignore[arg-type]


def _webp() -> bytes:
    return imagegen.webp(imagegen.quadrants(40, 30))


def _lossy_webp() -> bytes:
    return imagegen.webp(imagegen.detail_on_right(40, 30), lossless=False)


def _avif() -> bytes:
    return imagegen.avif(imagegen.quadrants(40, 30))


def _progressive_jpeg() -> bytes:
    return bytes(imagegen.detail_on_right(400, 300).jpegsave_buffer(Q=90, interlace=True))


def _detailed_gif(frames: int) -> bytes:
    """Distinct noisy frames: LZW data long enough that a cut lands inside a frame."""
    noisy = imagegen.detail_on_right(200, 150)
    variants = [noisy, noisy.fliphor(), noisy.flipver(), noisy.rot180()]
    return bytes(imagegen.animation(variants[:frames]).gifsave_buffer())


# factory -> (format, width, height, pages), dimensions as displayed
ACCEPTED: dict[str, tuple[Callable[[], bytes], tuple[str, int, int, int]]] = {
    "jpeg": (partial(imagegen.quadrant_jpeg, 40, 30), ("jpeg", 40, 30, 1)),
    "jpeg-progressive": (_progressive_jpeg, ("jpeg", 400, 300, 1)),
    "jpeg-exif-6": (partial(imagegen.oriented_jpeg, 40, 30, 6), ("jpeg", 40, 30, 1)),
    "jpeg-exif-8": (partial(imagegen.oriented_jpeg, 40, 30, 8), ("jpeg", 40, 30, 1)),
    "jpeg-exif-3": (partial(imagegen.oriented_jpeg, 40, 30, 3), ("jpeg", 40, 30, 1)),
    "jpeg-cmyk": (partial(imagegen.cmyk_jpeg, 40, 30, icc=True), ("jpeg", 40, 30, 1)),
    "png-alpha": (partial(imagegen.alpha_png, 40, 30), ("png", 40, 30, 1)),
    "png-16-bit": (partial(imagegen.png16, 40, 30), ("png", 40, 30, 1)),
    "gif-still": (partial(imagegen.still_gif, 40, 30), ("gif", 40, 30, 1)),
    "gif-animated": (partial(imagegen.animated_gif, 40, 30, 5), ("gif", 40, 30, 5)),
    "webp-lossless": (_webp, ("webp", 40, 30, 1)),
    "webp-lossy": (_lossy_webp, ("webp", 40, 30, 1)),
    "webp-animated": (partial(imagegen.animated_webp, 40, 30, 3), ("webp", 40, 30, 3)),
    "avif": (_avif, ("avif", 40, 30, 1)),
}


@pytest.mark.parametrize(("make", "expected"), ACCEPTED.values(), ids=ACCEPTED.keys())
def test_accepted(make: Callable[[], bytes], expected: tuple[str, int, int, int]) -> None:
    inspected = _inspect(make())
    assert (inspected.format, inspected.width, inspected.height, inspected.pages) == expected


def test_orientation_6_swaps_the_stored_dimensions() -> None:
    data = imagegen.oriented_jpeg(400, 300, 6)
    stored = pyvips.Image.new_from_buffer(data, "")
    assert (stored.width, stored.height) == (300, 400)
    inspected = _inspect(data)
    assert (inspected.width, inspected.height) == (400, 300)
    assert inspected.exif["orientation"] == 6


CONTENT_TYPES = {
    "jpeg": (partial(imagegen.quadrant_jpeg, 8, 8), "image/jpeg"),
    "png": (partial(imagegen.alpha_png, 8, 8), "image/png"),
    "gif": (partial(imagegen.still_gif, 8, 8), "image/gif"),
    "webp": (_webp, "image/webp"),
    "avif": (_avif, "image/avif"),
}


@pytest.mark.parametrize(("make", "expected"), CONTENT_TYPES.values(), ids=CONTENT_TYPES.keys())
def test_content_type(make: Callable[[], bytes], expected: str) -> None:
    assert _inspect(make()).content_type == expected


# factory -> words the 415 message must contain
UNSUPPORTED: dict[str, tuple[Callable[[], bytes], str]] = {
    "tiff": (partial(imagegen.tiff, 40, 30), "TIFF"),
    "tiff-big-endian": (lambda: b"MM\x00*" + imagegen.tiff(40, 30)[4:], "TIFF"),
    "svg": (imagegen.svg, "SVG"),
    "svg-with-xml-prolog": (lambda: b'<?xml version="1.0"?>\n' + imagegen.svg(), "SVG"),
    "pdf": (imagegen.pdf, "PDF"),
    "text-named-as-image": (imagegen.text_named_as_image, "unrecognised"),
    "html": (lambda: b"<!doctype html><html><body><img src=x></body></html>", "unrecognised"),
}


@pytest.mark.parametrize(("make", "words"), UNSUPPORTED.values(), ids=UNSUPPORTED.keys())
def test_unsupported_media(make: Callable[[], bytes], words: str) -> None:
    with pytest.raises(UnsupportedMedia) as caught:
        _inspect(make())
    assert caught.value.status == 415
    assert words in caught.value.message
    assert "upload a JPEG, PNG, GIF, WebP, AVIF or HEIC image" in caught.value.message


def _hevc_encoder() -> bool:
    try:
        imagegen.quadrants(16, 16).heifsave_buffer(compression="hevc")
    except pyvips.Error:
        return False
    return True


@pytest.mark.skipif(not _hevc_encoder(), reason="this libvips cannot write HEVC")
def test_heic_accepted_where_libvips_has_hevc() -> None:
    data = bytes(imagegen.quadrants(40, 30).heifsave_buffer(compression="hevc"))
    inspected = _inspect(data)
    assert (inspected.format, inspected.width, inspected.height) == ("heif", 40, 30)


@pytest.mark.skipif(_hevc_encoder(), reason="this libvips has HEVC")
def test_heic_refused_where_libvips_lacks_hevc() -> None:
    """The pyvips-binary wheels have no HEVC decoder: storing a HEIC would store an image
    the proxy can never render, so it is refused as unsupported, not as corrupt."""
    with pytest.raises(UnsupportedCoding) as caught:
        _inspect(codings.hevc_heic())
    assert (caught.value.status, caught.value.code) == (415, "unsupported_format")
    assert caught.value.message == (
        "HEIF with HEVC compression is not supported: convert it to JPEG, PNG, WebP or AVIF"
    )


# factory -> the message, which names the coding
UNDECODABLE_CODINGS: dict[str, tuple[Callable[[], bytes], str]] = {
    "jpeg-12-bit": (codings.twelve_bit_jpeg, "12-bit JPEG is not supported"),
    "jpeg-hierarchical": (codings.hierarchical_jpeg, "hierarchical JPEG is not supported"),
}


@pytest.mark.parametrize(
    ("make", "message"), UNDECODABLE_CODINGS.values(), ids=UNDECODABLE_CODINGS.keys()
)
def test_codings_libvips_cannot_decode_are_415(make: Callable[[], bytes], message: str) -> None:
    with pytest.raises(UnsupportedCoding) as caught:
        _inspect(make())
    assert (caught.value.status, caught.value.code) == (415, "unsupported_format")
    assert caught.value.message == f"{message}: convert it to JPEG, PNG, WebP or AVIF"


# factory -> (expected code, max_frames)
UNPROCESSABLE: dict[str, tuple[Callable[[], bytes], str]] = {
    "zero-bytes": (lambda: imagegen.ZERO_BYTES, "corrupt_image"),
    "jpeg-header-only": (lambda: imagegen.quadrant_jpeg(40, 30)[:20], "corrupt_image"),
    "jpeg-truncated": (
        lambda: imagegen.truncated(imagegen.quadrant_jpeg(400, 300)),
        "corrupt_image",
    ),
    "jpeg-without-end-marker": (
        lambda: imagegen.quadrant_jpeg(400, 300)[:-2],
        "corrupt_image",
    ),
    "jpeg-progressive-truncated": (
        lambda: imagegen.truncated(_progressive_jpeg(), 0.8),
        "corrupt_image",
    ),
    "png-truncated": (
        lambda: imagegen.truncated(imagegen.png(imagegen.detail_on_right(400, 300))),
        "corrupt_image",
    ),
    "png-truncated-late": (
        lambda: imagegen.truncated(imagegen.png(imagegen.detail_on_right(400, 300)), 0.98),
        "corrupt_image",
    ),
    "gif-still-truncated": (
        lambda: imagegen.truncated(imagegen.still_gif(400, 300)),
        "corrupt_image",
    ),
    "gif-animated-truncated": (lambda: imagegen.truncated(_detailed_gif(3), 0.9), "corrupt_image"),
    "gif-animated-cut-in-first-frame": (
        lambda: imagegen.truncated(_detailed_gif(3), 0.2),
        "corrupt_image",
    ),
    "webp-truncated": (lambda: imagegen.truncated(_lossy_webp(), 0.9), "corrupt_image"),
    "webp-animated-truncated": (
        lambda: imagegen.truncated(imagegen.animated_webp(40, 30, 3), 0.9),
        "corrupt_image",
    ),
    "avif-truncated": (lambda: imagegen.truncated(_avif(), 0.9), "corrupt_image"),
    "jpeg-magic-then-garbage": (lambda: b"\xff\xd8\xff" + b"\x00" * 200, "corrupt_image"),
    "pixel-bomb-header": (lambda: imagegen.png_claiming(30_000, 30_000), "source_too_large"),
}


@pytest.mark.parametrize(("make", "code"), UNPROCESSABLE.values(), ids=UNPROCESSABLE.keys())
def test_unprocessable(make: Callable[[], bytes], code: str) -> None:
    with pytest.raises(Unprocessable) as caught:
        _inspect(make())
    assert (caught.value.status, caught.value.code) == (422, code)


def test_pixel_limit_is_checked_from_the_header() -> None:
    data = imagegen.quadrant_jpeg(400, 300)
    assert inspect_upload(data, max_pixels=120_000, keep_gps=False).width == 400
    with pytest.raises(Unprocessable, match="exceeds 119999 pixels"):
        inspect_upload(data, max_pixels=119_999, keep_gps=False)


# 5 frames of 40x30 (1200 pixels each): limits -> the refusal's code, or None (accepted)
ANIMATION_LIMITS: dict[str, tuple[AnimationLimits, str | None]] = {
    "within-both": (AnimationLimits(5, 6000, 1), None),
    "one-frame-too-many": (AnimationLimits(4, 10**9, 100), "too_many_frames"),
    "one-pixel-too-many": (AnimationLimits(1000, 5999, 100), "animation_too_large"),
}


@pytest.mark.parametrize(("limits", "code"), ANIMATION_LIMITS.values(), ids=ANIMATION_LIMITS.keys())
def test_animation_limits_count_every_frame(limits: AnimationLimits, code: str | None) -> None:
    """An upload is kept whole or refused naming the limit: never accepted and cut short."""
    data = imagegen.animated_gif(40, 30, 5)
    if code is None:
        inspected = inspect_upload(data, max_pixels=1200, keep_gps=False, animation=limits)
        assert (inspected.pages, inspected.duration_ms, inspected.loop) == (5, 500, 0)
        return
    with pytest.raises(Unprocessable) as caught:
        inspect_upload(data, max_pixels=1200, keep_gps=False, animation=limits)
    assert (caught.value.status, caught.value.code) == (422, code)
    setting = {
        "too_many_frames": "MAX_UPLOAD_FRAMES",
        "animation_too_large": "MAX_ANIMATION_PIXELS",
    }
    assert f"PIXGATE_{setting[code]}" in caught.value.message
    assert "5 frames" in caught.value.message


def test_canvas_is_checked_per_frame() -> None:
    data = imagegen.animated_gif(40, 30, 5)
    with pytest.raises(Unprocessable, match="exceeds 1199 pixels") as caught:
        inspect_upload(data, max_pixels=1199, keep_gps=False)
    assert caught.value.code == "source_too_large"


def test_camera_jpeg_yields_decoded_exif() -> None:
    camera = imagegen.CameraTags(make="Nikon", model="Z 6", iso=1600, f_number=(56, 10))
    inspected = _inspect(imagegen.camera_jpeg(64, 48, camera))
    assert inspected.exif == {
        "camera_make": "Nikon",
        "camera_model": "Z 6",
        "iso": 1600,
        "aperture": "f/5.6",
        "f_number": 5.6,
        "shutter_speed": "1/250 s",
        "exposure_time": 0.004,
        "date_taken": "2024-06-21T19:30:00",
        "orientation": 1,
    }


@pytest.mark.parametrize("keep_gps", [True, False], ids=["gps-kept", "gps-dropped"])
def test_lens_focal_length_and_gps(keep_gps: bool) -> None:
    data = imagegen.tagged_jpeg(64, 48, LENS_AND_PLACE)
    inspected = inspect_upload(data, max_pixels=MAX, keep_gps=keep_gps)
    expected = {**LENS_AND_PLACE_DECODED, **({"gps": PARIS_WEST} if keep_gps else {})}
    assert inspected.exif == expected


EXIF_CONTAINERS = {
    "png": imagegen.png,
    "webp": imagegen.webp,
    "avif": imagegen.avif,
}


@pytest.mark.parametrize("encode", EXIF_CONTAINERS.values(), ids=EXIF_CONTAINERS.keys())
def test_exif_read_from_other_formats(encode: Callable[[object], bytes]) -> None:
    image = imagegen.with_exif_fields(imagegen.quadrants(64, 48), LENS_AND_PLACE)
    exif = inspect_upload(encode(image), max_pixels=MAX, keep_gps=True).exif
    assert exif["lens"] == "RF50mm F1.8 STM"
    assert exif["gps"] == PARIS_WEST


def test_no_exif_is_an_empty_dict() -> None:
    assert _inspect(imagegen.animated_gif(40, 30, 2)).exif == {}


# --- the GIF block walk -------------------------------------------------------------------


def test_gif_complete_files_are_not_cut_short() -> None:
    data = _detailed_gif(3)
    assert not gif_cut_short(data)
    assert not gif_cut_short(data + b"trailing junk after the trailer")


def test_gif_cut_inside_any_block_is_cut_short() -> None:
    """Every cut is caught except the few that fall exactly between blocks (dropping whole
    frames or extensions, but damaging none)."""
    data = _detailed_gif(3)
    clean_cuts = [cut for cut in range(len(data)) if not gif_cut_short(data[:cut])]
    assert 0 < len(clean_cuts) < 12
    # What is left is refused outright (no frame at all) or has whole frames only; without
    # just the trailer, all three.
    outcomes = {_pages_or_status(data[:cut]) for cut in clean_cuts}
    assert outcomes <= {1, 2, 3, 422}
    assert _pages_or_status(data[:-1]) == _pages_or_status(data) == 3


def _pages_or_status(data: bytes) -> int:
    """Frames of an accepted upload, or the status of the refusal."""
    try:
        return _inspect(data).pages
    except PixgateError as error:
        return error.status


# --- any bytes: an Inspected or one of our errors ----------------------------------------

MAGIC = st.sampled_from(
    [
        b"",
        b"\xff\xd8\xff",
        b"\x89PNG\r\n\x1a\n",
        b"GIF89a",
        b"RIFF\x00\x00\x00\x00WEBPVP8 ",
        b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00mif1avif",
        b"II*\x00",
    ]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(head=MAGIC, body=st.binary(max_size=300))
def test_any_bytes_are_inspected_or_refused(head: bytes, body: bytes) -> None:
    assert _pages_or_status(head + body) in (1, 415, 422)

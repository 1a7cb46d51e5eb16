"""render: real pixels out of real encoders, checked by decoding the result."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import pyvips

from loadtest.harness import imagegen
from loadtest.harness.imagegen import BLUE, GREEN, RED, WHITE, YELLOW, Rgb
from proxy.errors import Unprocessable
from proxy.options import Color, Gravity, GravityType, Options, OutputFormat, ResizingType
from proxy.plan import EncoderDefaults, Limits, Plan, plan_transform
from proxy.probe import probe
from proxy.quality import encoder_quality
from proxy.render import Rendered, render

LIMITS = Limits(max_output_pixels=50_000_000, max_animation_frames=100)
SAMPLE = Path(__file__).resolve().parents[2] / "proxy" / "assets" / "sample.jpg"
FILL = ResizingType.FILL


def plan_of(
    data: bytes,
    options: Options,
    output_format: OutputFormat,
    limits: Limits = LIMITS,
) -> Plan:
    info = probe(data, max_pixels=100_000_000)
    return plan_transform(options, info, output_format, limits, EncoderDefaults())


def run(
    data: bytes,
    options: Options | None = None,
    output_format: OutputFormat = OutputFormat.PNG,
    limits: Limits = LIMITS,
) -> Rendered:
    return render(data, plan_of(data, options or Options(), output_format, limits))


def decode(rendered: Rendered, *, all_frames: bool = False) -> Any:
    return pyvips.Image.new_from_buffer(rendered.data, "n=-1" if all_frames else "")


def colour_at(image: Any, x: int, y: int) -> list[float]:
    return [float(v) for v in image.getpoint(x, y)]


def assert_colour(actual: Sequence[float], expected: Sequence[int], tolerance: float = 40) -> None:
    assert len(actual) >= len(expected)
    for got, want in zip(actual, expected, strict=False):
        assert abs(got - want) <= tolerance, f"{list(actual)} is not close to {list(expected)}"


def quadrant_colours(image: Any) -> tuple[list[float], ...]:
    """Colours at the centres of the four quadrants: TL, TR, BL, BR."""
    left, right, top, bottom = (
        image.width // 4,
        3 * image.width // 4,
        image.height // 4,
        3 * image.height // 4,
    )
    return tuple(
        colour_at(image, x, y)
        for x, y in ((left, top), (right, top), (left, bottom), (right, bottom))
    )


def assert_quadrants(image: Any, expected: Sequence[Rgb]) -> None:
    for actual, want in zip(quadrant_colours(image), expected, strict=True):
        assert_colour(actual, want)


UPRIGHT = (RED, GREEN, BLUE, YELLOW)

# --- formats -----------------------------------------------------------------------------

FORMAT_CASES = {
    "jpeg": (OutputFormat.JPEG, b"\xff\xd8\xff", "jpegload_buffer"),
    "png": (OutputFormat.PNG, b"\x89PNG\r\n\x1a\n", "pngload_buffer"),
    "webp": (OutputFormat.WEBP, b"RIFF", "webpload_buffer"),
    "avif": (OutputFormat.AVIF, b"\x00\x00\x00", "heifload_buffer"),
    "gif": (OutputFormat.GIF, b"GIF89a", "gifload_buffer"),
}


@pytest.mark.parametrize(
    ("output_format", "magic", "loader"), FORMAT_CASES.values(), ids=FORMAT_CASES.keys()
)
def test_each_format_encodes_at_the_planned_size(
    output_format: OutputFormat, magic: bytes, loader: str
) -> None:
    rendered = run(imagegen.quadrant_jpeg(400, 300), Options(width=200), output_format)
    assert rendered.data.startswith(magic)
    if output_format is OutputFormat.AVIF:
        assert rendered.data[4:12] == b"ftypavif"
    image = decode(rendered)
    assert image.get("vips-loader") == loader
    assert (image.width, image.height) == (rendered.width, rendered.height) == (200, 150)
    assert rendered.format is output_format
    assert_quadrants(image, UPRIGHT)


@pytest.mark.parametrize(
    ("output_format", "quality"),
    [
        (OutputFormat.JPEG, 80),
        (OutputFormat.WEBP, 80),
        (OutputFormat.AVIF, 80),
        (OutputFormat.PNG, 0),
    ],
)
def test_quality_reported_is_the_encoders(output_format: OutputFormat, quality: int) -> None:
    rendered = run(imagegen.quadrant_jpeg(40, 30), Options(quality=80), output_format)
    expected = encoder_quality(output_format, quality) if quality else 0
    assert rendered.quality == expected


# --- orientation -------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", range(1, 9), ids=[f"exif-{n}" for n in range(1, 9)])
def test_exif_orientation_is_applied(orientation: int) -> None:
    rendered = run(imagegen.oriented_jpeg(80, 60, orientation), Options(width=40))
    image = decode(rendered)
    assert (image.width, image.height) == (40, 30)
    assert_quadrants(image, UPRIGHT)


def test_auto_rotate_off_keeps_stored_pixels() -> None:
    # Stored for orientation 6 = upright turned counter-clockwise: green top-left.
    rendered = run(imagegen.oriented_jpeg(80, 60, 6), Options(width=30, auto_rotate=False))
    image = decode(rendered)
    assert (image.width, image.height) == (30, 40)
    assert_quadrants(image, (GREEN, YELLOW, RED, BLUE))


ROTATE_CASES = {
    "rotate-90": (90, (40, 53), (BLUE, RED, YELLOW, GREEN)),
    "rotate-180": (180, (40, 30), (YELLOW, BLUE, GREEN, RED)),
    "rotate-270": (270, (40, 53), (GREEN, YELLOW, RED, BLUE)),
}


@pytest.mark.parametrize(
    ("angle", "size", "quadrants"), ROTATE_CASES.values(), ids=ROTATE_CASES.keys()
)
def test_user_rotation_after_orientation(
    angle: int, size: tuple[int, int], quadrants: tuple[Rgb, ...]
) -> None:
    rendered = run(imagegen.oriented_jpeg(80, 60, 6), Options(width=40, rotate=angle))
    image = decode(rendered)
    assert (image.width, image.height) == size
    assert_quadrants(image, quadrants)


# --- colour ------------------------------------------------------------------------------


@pytest.mark.parametrize("icc", [True, False], ids=["with-icc", "without-icc"])
@pytest.mark.parametrize(
    "output_format", [OutputFormat.JPEG, OutputFormat.PNG], ids=["jpeg", "png"]
)
def test_cmyk_becomes_srgb(icc: bool, output_format: OutputFormat) -> None:
    rendered = run(imagegen.cmyk_jpeg(64, 48, RED, icc=icc), Options(width=32), output_format)
    image = decode(rendered)
    assert image.bands == 3
    assert image.interpretation == "srgb"
    red, green, blue = colour_at(image, 16, 12)
    assert red > 180 and green < 80 and blue < 80  # red through a CMYK gamut round trip


def test_cmyk_with_and_without_profile_agree() -> None:
    tagged = decode(run(imagegen.cmyk_jpeg(32, 32, BLUE, icc=True)))
    untagged = decode(run(imagegen.cmyk_jpeg(32, 32, BLUE, icc=False)))
    assert_colour(colour_at(tagged, 16, 16), [int(v) for v in colour_at(untagged, 16, 16)], 6)


@pytest.mark.parametrize(
    "output_format",
    [OutputFormat.JPEG, OutputFormat.WEBP, OutputFormat.PNG],
    ids=["jpeg", "webp", "png"],
)
def test_icc_tagged_pixels_become_srgb(output_format: OutputFormat) -> None:
    colour = (30, 160, 90)
    source = imagegen.p3_jpeg(32, 32, colour)
    stored = colour_at(pyvips.Image.new_from_buffer(source, ""), 16, 16)
    assert abs(stored[0] - colour[0]) > 30  # P3 numbers, not sRGB ones
    image = decode(run(source, Options(width=16), output_format))
    assert image.get_typeof("icc-profile-data") == 0  # stripped: the pixels are plain sRGB
    assert_colour(colour_at(image, 8, 8), colour, 6)


def test_16_bit_png_becomes_8_bit() -> None:
    image = decode(run(imagegen.png16(32, 32, (200, 100, 50)), Options(width=16)))
    assert image.format == "uchar"
    assert image.interpretation == "srgb"
    assert_colour(colour_at(image, 8, 8), (200, 100, 50), 2)


def test_greyscale_becomes_srgb() -> None:
    grey = imagegen.solid(32, 32, (90,)).copy(interpretation="b-w")
    image = decode(run(imagegen.png(grey), Options(width=16), OutputFormat.JPEG))
    assert image.bands == 3
    assert_colour(colour_at(image, 8, 8), (90, 90, 90), 4)


# --- alpha and background ----------------------------------------------------------------

ALPHA_FORMATS = {
    "png": OutputFormat.PNG,
    "webp": OutputFormat.WEBP,
    "avif": OutputFormat.AVIF,
    "gif": OutputFormat.GIF,
}


@pytest.mark.parametrize("output_format", ALPHA_FORMATS.values(), ids=ALPHA_FORMATS.keys())
def test_alpha_is_kept(output_format: OutputFormat) -> None:
    # A fixed quality: q:auto rightly takes AVIF of this flat image down to Q9, where alpha
    # is off by one level; what is tested here is that alpha survives.
    image = decode(run(imagegen.alpha_png(64, 48), Options(width=32, quality=80), output_format))
    assert image.hasalpha()
    assert_colour(colour_at(image, 4, 12), (*RED, 255), 8)
    assert colour_at(image, 28, 12)[3] == 0


@pytest.mark.parametrize(
    ("background", "expected"),
    [(None, WHITE), (Color(0, 0, 255), BLUE)],
    ids=["default-white", "asked-blue"],
)
def test_jpeg_flattens_on_background(background: Color | None, expected: Rgb) -> None:
    options = Options(width=32, background=background)
    image = decode(run(imagegen.alpha_png(64, 48), options, OutputFormat.JPEG))
    assert image.bands == 3
    assert_colour(colour_at(image, 4, 12), RED)
    assert_colour(colour_at(image, 28, 12), expected)


def test_png_with_background_is_flattened() -> None:
    options = Options(width=32, background=Color(0, 255, 0))
    image = decode(run(imagegen.alpha_png(64, 48), options, OutputFormat.PNG))
    assert not image.hasalpha()
    assert_colour(colour_at(image, 28, 12), GREEN, 0)


# --- crop, extend, filters ---------------------------------------------------------------

GRAVITY_CASES = {
    # 400x200 quadrants -> fill 100x100: the crop is exactly one half
    "west": (400, 200, GravityType.WEST, (RED, RED, BLUE, BLUE)),
    "east": (400, 200, GravityType.EAST, (GREEN, GREEN, YELLOW, YELLOW)),
    "centre": (400, 200, GravityType.CENTER, (RED, GREEN, BLUE, YELLOW)),
    # 200x400 quadrants: top or bottom half
    "north": (200, 400, GravityType.NORTH, (RED, GREEN, RED, GREEN)),
    "south": (200, 400, GravityType.SOUTH, (BLUE, YELLOW, BLUE, YELLOW)),
    "south-east": (200, 400, GravityType.SOUTH_EAST, (BLUE, YELLOW, BLUE, YELLOW)),
}


@pytest.mark.parametrize(
    ("width", "height", "gravity", "quadrants"), GRAVITY_CASES.values(), ids=GRAVITY_CASES.keys()
)
def test_gravity_crop(
    width: int, height: int, gravity: GravityType, quadrants: tuple[Rgb, ...]
) -> None:
    options = Options(resizing_type=FILL, width=100, height=100, gravity=Gravity(gravity))
    image = decode(run(imagegen.quadrant_jpeg(width, height), options))
    assert (image.width, image.height) == (100, 100)
    assert_quadrants(image, quadrants)


def test_smart_crop_finds_the_detail() -> None:
    source = imagegen.png(imagegen.detail_on_right(400, 200))
    options = Options(resizing_type=FILL, width=100, height=100, gravity=Gravity(GravityType.SMART))
    image = decode(run(source, options))
    assert (image.width, image.height) == (100, 100)
    # The busy quarter (the right 50 px once resized) must fill the crop's right half; a
    # centre crop would show only flat grey there.
    assert image.crop(60, 0, 40, 100).deviate() > 30
    assert image.crop(0, 0, 40, 100).deviate() < 5


EXTEND_CASES = {
    "png-transparent": (OutputFormat.PNG, None, (0, 0, 0, 0)),
    "webp-transparent": (OutputFormat.WEBP, None, (0, 0, 0, 0)),
    "jpeg-white": (OutputFormat.JPEG, None, WHITE),
    "png-background": (OutputFormat.PNG, Color(0, 0, 255), BLUE),
    "jpeg-background": (OutputFormat.JPEG, Color(0, 255, 0), GREEN),
}


@pytest.mark.parametrize(
    ("output_format", "background", "padding"), EXTEND_CASES.values(), ids=EXTEND_CASES.keys()
)
def test_extend_pads_to_the_requested_size(
    output_format: OutputFormat, background: Color | None, padding: Sequence[int]
) -> None:
    options = Options(width=80, height=80, extend=True, background=background)
    image = decode(run(imagegen.quadrant_jpeg(40, 30), options, output_format))
    assert (image.width, image.height) == (80, 80)
    assert_colour(colour_at(image, 2, 2), padding, 8)
    assert_quadrants(image.crop(20, 25, 40, 30), UPRIGHT)


def test_extend_gravity_places_the_image() -> None:
    options = Options(
        width=80, height=80, extend=True, extend_gravity=Gravity(GravityType.NORTH_WEST)
    )
    image = decode(run(imagegen.quadrant_jpeg(40, 30), options))
    assert_quadrants(image.crop(0, 0, 40, 30), UPRIGHT)
    assert colour_at(image, 60, 60)[3] == 0


def test_blur_mixes_the_edge() -> None:
    image = decode(run(imagegen.png(imagegen.halves(64, 16)), Options(blur=4.0)))
    red, _, blue = colour_at(image, 32, 8)
    assert 40 < red < 215 and 40 < blue < 215
    assert_colour(colour_at(image, 2, 8), RED, 10)


def test_blur_with_alpha_has_no_dark_fringe() -> None:
    image = decode(run(imagegen.alpha_png(64, 16), Options(blur=3.0)))
    edge = [colour_at(image, x, 8) for x in range(26, 40)]
    soft = [pixel for pixel in edge if 10 < pixel[3] < 245]
    assert soft, "the blur softened the alpha edge"
    for pixel in soft:
        assert pixel[0] > 200 and pixel[1] < 40, pixel  # still red, not darkened


def test_sharpen_keeps_size_and_colour() -> None:
    image = decode(run(imagegen.quadrant_jpeg(80, 60), Options(width=40, sharpen=1.0)))
    assert (image.width, image.height) == (40, 30)
    assert_quadrants(image, UPRIGHT)


# --- metadata ----------------------------------------------------------------------------


def _has_exif(image: Any) -> bool:
    return any(name.startswith("exif-") for name in image.get_fields())


STRIP_FORMATS = {
    "jpeg": OutputFormat.JPEG,
    "webp": OutputFormat.WEBP,
    "avif": OutputFormat.AVIF,
    "png": OutputFormat.PNG,
}


@pytest.mark.parametrize("output_format", STRIP_FORMATS.values(), ids=STRIP_FORMATS.keys())
def test_metadata_stripped_by_default(output_format: OutputFormat) -> None:
    source = imagegen.camera_jpeg(40, 30)
    assert _has_exif(pyvips.Image.new_from_buffer(source, ""))
    image = decode(run(source, Options(width=20), output_format))
    assert not _has_exif(image)
    assert image.get_typeof("icc-profile-data") == 0


def test_camera_tags_round_trip_when_kept() -> None:
    source = imagegen.camera_jpeg(40, 30)
    image = decode(run(source, Options(width=20, strip_metadata=False), OutputFormat.JPEG))
    fields = {name: str(image.get(name)) for name in image.get_fields() if name.startswith("exif-")}
    assert fields["exif-ifd0-Make"].startswith("pixgate ")
    assert fields["exif-ifd0-Model"].startswith("Synthetic One ")
    assert fields["exif-ifd2-ISOSpeedRatings"].startswith("200 ")
    assert "f/2.8" in fields["exif-ifd2-FNumber"]
    assert fields["exif-ifd2-ExposureTime"].startswith("1/250 ")
    assert fields["exif-ifd2-DateTimeOriginal"].startswith("2024:06:21 19:30:00 ")


# --- animation ---------------------------------------------------------------------------

ANIMATION_CASES = {
    "gif-to-gif": (imagegen.animated_gif, OutputFormat.GIF),
    "gif-to-webp": (imagegen.animated_gif, OutputFormat.WEBP),
    "webp-to-webp": (imagegen.animated_webp, OutputFormat.WEBP),
    "webp-to-gif": (imagegen.animated_webp, OutputFormat.GIF),
}


def _frames(image: Any) -> list[Any]:
    page_height = image.get("page-height")
    return [
        image.crop(0, top, image.width, page_height) for top in range(0, image.height, page_height)
    ]


@pytest.mark.parametrize(
    ("make", "output_format"), ANIMATION_CASES.values(), ids=ANIMATION_CASES.keys()
)
def test_animation_keeps_its_frames(make: Any, output_format: OutputFormat) -> None:
    rendered = run(make(40, 30, 4), Options(width=20), output_format)
    image = decode(rendered, all_frames=True)
    assert image.get("n-pages") == 4
    assert (image.width, image.get("page-height")) == (20, 15)
    assert (rendered.width, rendered.height) == (20, 15)
    for frame, colour in zip(_frames(image), imagegen.FRAME_COLOURS, strict=False):
        assert_colour(colour_at(frame, 10, 7), colour, 8)
    assert list(image.get("delay")) == [100] * 4


def test_animation_frames_are_capped() -> None:
    limits = Limits(max_output_pixels=50_000_000, max_animation_frames=2)
    image = decode(
        run(imagegen.animated_gif(40, 30, 5), None, OutputFormat.GIF, limits), all_frames=True
    )
    assert image.get("n-pages") == 2
    assert list(image.get("delay")) == [100, 100]


def test_animation_crop_and_extend_per_frame() -> None:
    options = Options(resizing_type=FILL, width=20, height=20)  # 27x20 frames, cropped
    cropped = decode(
        run(imagegen.animated_gif(40, 30, 3), options, OutputFormat.GIF), all_frames=True
    )
    assert (cropped.width, cropped.get("page-height"), cropped.get("n-pages")) == (20, 20, 3)
    for frame, colour in zip(_frames(cropped), imagegen.FRAME_COLOURS, strict=False):
        assert_colour(colour_at(frame, 10, 10), colour, 8)

    padded_options = Options(width=60, height=60, extend=True)
    padded = decode(
        run(imagegen.animated_gif(40, 30, 3), padded_options, OutputFormat.WEBP), all_frames=True
    )
    assert (padded.width, padded.get("page-height"), padded.get("n-pages")) == (60, 60, 3)
    for frame, colour in zip(_frames(padded), imagegen.FRAME_COLOURS, strict=False):
        assert frame.getpoint(2, 2)[3] == 0  # transparent padding on every frame
        assert_colour(colour_at(frame, 30, 30), (*colour, 255), 8)


@pytest.mark.parametrize("angle", [90, 180, 270])
def test_rotation_of_a_large_streamed_image(angle: int) -> None:
    # Loaders stream lines in order; rotating needs the whole image, so it must be in memory.
    source = imagegen.quadrant_jpeg(3000, 2000)
    image = decode(run(source, Options(width=1600, rotate=angle), OutputFormat.JPEG))
    assert image.width == 1600


def test_smart_crop_of_a_large_streamed_png() -> None:
    source = imagegen.png(imagegen.detail_on_right(3000, 1500))
    options = Options(
        resizing_type=FILL, width=1000, height=1000, gravity=Gravity(GravityType.SMART)
    )
    image = decode(run(source, options, OutputFormat.JPEG))
    assert (image.width, image.height) == (1000, 1000)


def test_animation_rotated_per_frame() -> None:
    rendered = run(imagegen.animated_gif(40, 30, 3), Options(rotate=90), OutputFormat.GIF)
    image = decode(rendered, all_frames=True)
    assert (image.width, image.get("page-height"), image.get("n-pages")) == (30, 40, 3)


def test_animation_to_still_format_is_first_frame() -> None:
    image = decode(run(imagegen.animated_gif(40, 30, 4), None, OutputFormat.JPEG))
    assert (image.width, image.height) == (40, 30)
    assert_colour(colour_at(image, 20, 15), imagegen.FRAME_COLOURS[0])


# --- max_bytes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "output_format", [OutputFormat.JPEG, OutputFormat.WEBP], ids=["jpeg", "webp"]
)
def test_max_bytes_lowers_quality_until_it_fits(output_format: OutputFormat) -> None:
    source = imagegen.jpeg(imagegen.landscape(400, 300))
    full = run(source, Options(width=300), output_format)
    limit = len(full.data) * 2 // 3
    fitted = run(source, Options(width=300, max_bytes=limit), output_format)
    assert len(fitted.data) <= limit
    assert fitted.quality < full.quality
    assert (decode(fitted).width, decode(fitted).height) == (300, 225)


def test_max_bytes_unreachable_returns_the_smallest_attempt() -> None:
    source = imagegen.jpeg(imagegen.landscape(200, 150))
    fitted = run(source, Options(max_bytes=10), OutputFormat.JPEG)
    assert fitted.quality == 10
    assert decode(fitted).width == 200


# --- failures ----------------------------------------------------------------------------

TRUNCATED_CASES = {
    "jpeg": lambda: imagegen.quadrant_jpeg(400, 300),
    "png": lambda: imagegen.png(imagegen.landscape(200, 150)),
}


@pytest.mark.parametrize("make", TRUNCATED_CASES.values(), ids=TRUNCATED_CASES.keys())
def test_truncated_body_is_unprocessable(make: Any) -> None:
    data = imagegen.truncated(make(), 0.6)
    plan = plan_of(data, Options(width=100), OutputFormat.JPEG)  # the header still parses
    with pytest.raises(Unprocessable) as caught:
        render(data, plan)
    assert caught.value.status == 422
    assert caught.value.message == "the source image is truncated or corrupt"
    assert "/" not in caught.value.message


# --- shrink-on-load and libvips set-up ---------------------------------------------------


@pytest.fixture(scope="module")
def big_jpeg() -> bytes:
    return imagegen.jpeg(imagegen.quadrants(6000, 4000), quality=85)


def _best_of(runs: int, action: Any) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def test_large_jpeg_shrinks_on_load(big_jpeg: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, dict[str, Any]]] = []
    thumbnail_buffer = pyvips.Image.thumbnail_buffer

    def spy(data: bytes, width: int, **kwargs: Any) -> Any:
        calls.append((width, kwargs))
        return thumbnail_buffer(data, width, **kwargs)

    monkeypatch.setattr(pyvips.Image, "thumbnail_buffer", spy)
    # A fixed quality, so the time compared is the decode's, not q:auto's search.
    rendered = run(big_jpeg, Options(width=300, quality=80), OutputFormat.JPEG)
    assert (rendered.width, rendered.height) == (300, 200)
    expected = {
        "height": 200,
        "size": "force",
        "no_rotate": False,
        "option_string": "fail_on=truncated",
    }
    assert calls == [(300, expected)]
    monkeypatch.undo()

    # Decoding 24 MP at 1/8 scale is several times cheaper than a full decode.
    shrunk = _best_of(3, lambda: run(big_jpeg, Options(width=300, quality=80), OutputFormat.JPEG))
    full = _best_of(3, lambda: pyvips.Image.new_from_buffer(big_jpeg, "").avg())
    assert shrunk < full * 0.6, (shrunk, full)


def test_sample_asset() -> None:
    data = SAMPLE.read_bytes()
    assert len(data) < 1_500_000
    info = probe(data, max_pixels=50_000_000)
    assert info.orientation == 6
    assert (info.oriented_width, info.oriented_height) == (3000, 2000)
    header = pyvips.Image.new_from_buffer(data, "")
    assert str(header.get("exif-ifd0-Make")).startswith("pixgate ")
    assert str(header.get("exif-ifd0-Model")).startswith("Synthetic One ")
    assert str(header.get("exif-ifd2-ISOSpeedRatings")).startswith("200 ")

    image = decode(run(data, Options(width=300), OutputFormat.PNG))
    assert (image.width, image.height) == (300, 200)
    sky_red, _, sky_blue = colour_at(image, 150, 5)
    ground = colour_at(image, 150, 195)
    assert sky_blue > sky_red + 40  # upright: sky on top
    assert ground[1] > ground[0] and ground[1] > ground[2]  # green hills at the bottom


_CONFIGURE_CHECK = """
import pyvips
from proxy.errors import UnsupportedMedia
from proxy.probe import probe
from proxy.render import configure_libvips
from loadtest.harness import imagegen

configure_libvips(concurrency=1)
assert pyvips.cache_get_max() == 0 and pyvips.concurrency_get() == 1
for data in (imagegen.quadrant_jpeg(8, 8), imagegen.alpha_png(8, 8), imagegen.animated_gif(8, 8),
             imagegen.webp(imagegen.quadrants(8, 8)), imagegen.tiff(8, 8),
             imagegen.avif(imagegen.quadrants(8, 8))):
    pyvips.Image.thumbnail_buffer(data, 4).avg()
try:
    pyvips.Image.new_from_buffer(imagegen.svg(), "")
except pyvips.Error:
    pass
else:
    raise AssertionError("svgload should be blocked")
try:
    probe(imagegen.svg(), max_pixels=100)
except UnsupportedMedia:
    print("ok")
"""


def test_configure_libvips_blocks_all_but_our_loaders() -> None:
    # A subprocess: blocking loaders is process-wide and would leak into other tests.
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", _CONFIGURE_CHECK],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


@pytest.mark.parametrize(
    ("output_format", "size"),
    [
        pytest.param(OutputFormat.WEBP, (1, 16_383), id="webp-tall"),
        pytest.param(OutputFormat.AVIF, (16_384, 1), id="avif-wide"),
        pytest.param(OutputFormat.JPEG, (1, 20_000), id="jpeg-fits-as-is"),
        pytest.param(OutputFormat.PNG, (20_000, 1), id="png-fits-as-is"),
    ],
)
def test_outputs_beyond_the_format_limit_are_scaled_down_to_fit(
    output_format: OutputFormat, size: tuple[int, int]
) -> None:
    # A 1x20000 strip: a valid source no WebP or AVIF encoder can write at full size.
    strip = (1, 20_000) if size[0] == 1 else (20_000, 1)
    source = imagegen.png(imagegen.solid(*strip, RED))
    rendered = run(source, output_format=output_format)
    image = decode(rendered)
    assert (rendered.width, rendered.height) == (image.width, image.height) == size
    assert_colour(colour_at(image, 0, 0), RED)

"""ThumbHash and dominant colour: reference vectors, known pixels, round trips, real uploads'
inspection (libvips makes the small image), and the page's PNG."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import pyvips

from loadtest.harness import imagegen
from uploader.inspect import inspect_upload, placeholder_of
from uploader.placeholder import (
    Pixels,
    aspect_text,
    compute_placeholder,
    decode_thumbhash_text,
    dominant_color,
    encode_png,
    placeholder_data_url,
    placeholder_size,
    thumbhash_aspect_ratio,
    thumbhash_average_rgba,
    thumbhash_decode,
    thumbhash_encode,
)

REFERENCE = json.loads((Path(__file__).parent / "thumbhash_reference.json").read_text())
VECTORS = REFERENCE["vectors"]
Rgb = tuple[int, int, int]


def noisy_gradient(width: int, height: int, seed: int, alpha: bool) -> Pixels:
    """The reference vectors' pixels: gradients with integer LCG noise (no symmetry, so no
    term sits on a rounding boundary by accident), the same on every machine."""
    state = seed
    out = bytearray()
    for y in range(height):
        for x in range(width):
            state = (state * 1103515245 + 12345) % 2**31
            noise = state >> 24
            if width == 80:  # the "smooth" vector: little noise
                noise //= 16
            r = (x * 255 // max(1, width - 1) + noise) // 2
            g = (y * 255 // max(1, height - 1) * 3 + noise) // 4
            b = ((x * y) * 255 // max(1, (width - 1) * (height - 1)) + (255 - noise)) // 2
            a = min(255, (x + y) * 255 // (width + height - 2) + noise // 4) if alpha else 255
            out += bytes((r, g, b, a))
    return Pixels(width, height, bytes(out))


def solid(width: int, height: int, rgba: tuple[int, int, int, int]) -> Pixels:
    return Pixels(width, height, bytes(rgba) * (width * height))


def split(width: int, height: int, left: Rgb, right: Rgb, left_columns: int) -> Pixels:
    """`left` in the first `left_columns` columns, `right` in the rest; opaque."""
    row = bytes((*left, 255)) * left_columns + bytes((*right, 255)) * (width - left_columns)
    return Pixels(width, height, row * height)


def pixel(pixels: Pixels, x: int, y: int) -> tuple[int, ...]:
    start = 4 * (y * pixels.width + x)
    return tuple(pixels.rgba[start : start + 4])


@pytest.mark.parametrize("vector", VECTORS, ids=[vector["name"] for vector in VECTORS])
def test_encode_matches_the_reference_implementation(vector: dict[str, Any]) -> None:
    pixels = noisy_gradient(vector["width"], vector["height"], vector["seed"], vector["alpha"])
    assert base64.b64encode(thumbhash_encode(pixels)).decode() == vector["thumbhash"]


@pytest.mark.parametrize("vector", VECTORS, ids=[vector["name"] for vector in VECTORS])
def test_decode_matches_the_reference_implementation(vector: dict[str, Any]) -> None:
    decoded = thumbhash_decode(base64.b64decode(vector["thumbhash"]))
    expected = vector["decoded"]
    assert (decoded.width, decoded.height) == (expected["width"], expected["height"])
    reference = base64.b64decode(expected["rgba"])
    # The same sums in another order: at most one step of 255 apart.
    assert max(abs(a - b) for a, b in zip(decoded.rgba, reference, strict=True)) <= 1


@pytest.mark.parametrize(
    ("rgba", "expected"),
    [
        pytest.param((20, 140, 160, 255), "#148ca0", id="teal"),
        pytest.param((255, 0, 0, 255), "#ff0000", id="red"),
        pytest.param((0, 0, 0, 255), "#000000", id="black"),
        pytest.param((255, 255, 255, 255), "#ffffff", id="white"),
        pytest.param((250, 200, 10, 128), "#fac80a", id="half-transparent"),
    ],
)
def test_a_solid_colour_is_its_own_dominant_colour_and_the_hash_average(
    rgba: tuple[int, int, int, int], expected: str
) -> None:
    pixels = solid(40, 30, rgba)
    assert dominant_color(pixels) == expected
    hash_bytes = thumbhash_encode(pixels)
    r, g, b, a = thumbhash_average_rgba(hash_bytes)
    # The hash keeps 6 bits of luminance and of each chroma axis: within 3% of the colour.
    assert abs(r * 255 - rgba[0]) <= 8 and abs(g * 255 - rgba[1]) <= 8
    assert abs(b * 255 - rgba[2]) <= 8
    assert a == (1.0 if rgba[3] == 255 else pytest.approx(rgba[3] / 255, abs=1 / 15))
    # Decoded, every pixel is that colour (no AC term survives the quantisation).
    decoded = thumbhash_decode(hash_bytes)
    assert len(set(zip(*[iter(decoded.rgba)] * 4, strict=True))) == 1
    assert all(abs(c - e) <= 8 for c, e in zip(pixel(decoded, 0, 0), rgba, strict=True))


@pytest.mark.parametrize(
    ("left", "right", "left_columns", "expected"),
    [
        pytest.param((255, 0, 0), (0, 0, 255), 60, "#ff0000", id="red-majority"),
        pytest.param((255, 0, 0), (0, 0, 255), 40, "#0000ff", id="blue-majority"),
        pytest.param((30, 30, 30), (240, 240, 240), 55, "#1e1e1e", id="dark-majority"),
        pytest.param((10, 120, 40), (200, 60, 90), 99, "#0a7828", id="one-column-of-other"),
    ],
)
def test_the_majority_colour_wins(left: Rgb, right: Rgb, left_columns: int, expected: str) -> None:
    assert dominant_color(split(100, 10, left, right, left_columns)) == expected


def test_a_gradient_split_over_cells_still_beats_a_smaller_flat_patch() -> None:
    # 70% a sky from (90, 140, 220) to (130, 180, 250) across several Lab cells, 30% red.
    width, height = 100, 10
    out = bytearray()
    for _ in range(height):
        for x in range(width):
            if x < 70:
                t = x / 69
                out += bytes((round(90 + 40 * t), round(140 + 40 * t), round(220 + 30 * t), 255))
            else:
                out += bytes((200, 30, 30, 255))
    colour = dominant_color(Pixels(width, height, bytes(out)))
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    assert b > r and b > g, colour  # blue, not the red patch


def test_transparent_pixels_have_no_say() -> None:
    # Three quarters fully transparent green, a quarter opaque orange.
    rgba = bytes((0, 255, 0, 0)) * 300 + bytes((255, 128, 0, 255)) * 100
    assert dominant_color(Pixels(20, 20, rgba)) == "#ff8000"
    # Nothing opaque at all: the plain average.
    assert dominant_color(solid(4, 4, (10, 20, 30, 0))) == "#0a141e"


@pytest.mark.parametrize(
    ("width", "height", "ratio", "landscape"),
    [
        pytest.param(100, 50, 7 / 4, True, id="2:1"),
        pytest.param(100, 75, 7 / 5, True, id="4:3"),
        pytest.param(50, 100, 4 / 7, False, id="1:2"),
        pytest.param(60, 60, 1.0, False, id="square"),
        pytest.param(100, 10, 7 / 1, True, id="10:1"),
    ],
)
def test_the_hash_records_the_aspect_ratio(
    width: int, height: int, ratio: float, landscape: bool
) -> None:
    hash_bytes = thumbhash_encode(noisy_gradient(width, height, 7, False))
    assert thumbhash_aspect_ratio(hash_bytes) == pytest.approx(ratio)
    assert bool(hash_bytes[4] & 0x80) is landscape
    decoded = thumbhash_decode(hash_bytes)
    # 32 pixels on the longer side, the other at the hash's ratio (to the nearest pixel).
    long_side, short_side = max(decoded.width, decoded.height), min(decoded.width, decoded.height)
    assert long_side == 32
    assert abs(short_side - 32 / max(ratio, 1 / ratio)) <= 0.5


@pytest.mark.parametrize(
    ("make", "has_alpha", "size"),
    [
        pytest.param(lambda: noisy_gradient(64, 48, 1, False), False, 21, id="opaque-landscape"),
        pytest.param(lambda: noisy_gradient(30, 80, 2, False), False, 17, id="opaque-portrait"),
        pytest.param(lambda: noisy_gradient(50, 50, 3, True), True, 25, id="alpha"),
    ],
)
def test_round_trip_keeps_the_picture(
    make: Callable[[], Pixels], has_alpha: bool, size: int
) -> None:
    pixels = make()
    hash_bytes = thumbhash_encode(pixels)
    assert len(hash_bytes) == size
    assert bool(hash_bytes[2] & 0x80) is has_alpha
    # Decoded at the source's own size, the low frequencies are there: the mean colour
    # of each half (premultiplied by alpha, as it shows) is close to the source's.
    decoded = thumbhash_decode(hash_bytes, pixels.width, pixels.height)
    for image in (pixels, decoded):
        assert (image.width, image.height) == (pixels.width, pixels.height)
    half = pixels.width // 2

    def mean(image: Pixels, x0: int, x1: int, channel: int) -> float:
        values = [
            pixel(image, x, y)[channel] * (pixel(image, x, y)[3] if channel < 3 else 255) / 255
            for y in range(image.height)
            for x in range(x0, x1)
        ]
        return sum(values) / len(values)

    for x0, x1 in ((0, half), (half, pixels.width)):
        for channel in range(4 if has_alpha else 3):
            assert abs(mean(decoded, x0, x1, channel) - mean(pixels, x0, x1, channel)) < 16
    # Encoding the decoded image again gives the same average colour, to a few steps of 63.
    again = thumbhash_average_rgba(thumbhash_encode(decoded))
    for first, second in zip(thumbhash_average_rgba(hash_bytes), again, strict=True):
        assert first == pytest.approx(second, abs=3 / 63)


def test_left_red_right_blue_decodes_red_on_the_left() -> None:
    decoded = thumbhash_decode(thumbhash_encode(split(60, 40, (255, 0, 0), (0, 0, 255), 30)))
    left, right = pixel(decoded, 2, decoded.height // 2), pixel(decoded, -3 % decoded.width, 10)
    assert left[0] > 180 and left[2] < 90, left
    assert right[2] > 180 and right[0] < 90, right


def test_invalid_input_is_refused() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        thumbhash_encode(solid(101, 10, (0, 0, 0, 255)))
    with pytest.raises(ValueError, match="RGBA needs"):
        Pixels(2, 2, b"\x00" * 15)
    with pytest.raises(ValueError, match="at least 5 bytes"):
        thumbhash_decode(b"\x00\x01")
    with pytest.raises(ValueError, match="base64"):
        decode_thumbhash_text("not base64!")


@pytest.mark.parametrize(
    ("make", "expected_colour", "landscape"),
    [
        pytest.param(
            lambda: imagegen.png(imagegen.solid(300, 200, (20, 140, 160))),
            "#148ca0",
            True,
            id="png-solid",
        ),
        pytest.param(lambda: imagegen.png(imagegen.halves(300, 200)), None, True, id="png-halves"),
        pytest.param(lambda: imagegen.alpha_png(120, 200), "#ff0000", False, id="png-alpha"),
        pytest.param(lambda: imagegen.animated_gif(60, 40, 3), None, True, id="gif-first-frame"),
        pytest.param(lambda: imagegen.oriented_jpeg(400, 200, 6), None, True, id="jpeg-exif-6"),
        pytest.param(lambda: imagegen.png16(100, 100), "#ff0000", False, id="png-16-bit"),
        pytest.param(lambda: imagegen.avif(imagegen.quadrants(90, 60)), None, True, id="avif"),
    ],
)
def test_inspection_computes_the_placeholder_from_its_small_image(
    make: Callable[[], bytes], expected_colour: str | None, landscape: bool
) -> None:
    inspected = inspect_upload(make(), max_pixels=50_000_000, keep_gps=False)
    placeholder = inspected.placeholder
    assert placeholder is not None
    hash_bytes = decode_thumbhash_text(placeholder.thumbhash)
    # The hash describes the image as displayed (after the EXIF orientation).
    assert (thumbhash_aspect_ratio(hash_bytes) > 1) is landscape
    assert (inspected.width > inspected.height) is landscape
    if expected_colour is not None:
        assert placeholder.dominant_color == expected_colour


def test_halves_jpeg_dominant_colour_is_the_larger_half() -> None:
    upright = imagegen.halves(300, 200, left=(255, 0, 0), right=(0, 0, 255))
    # Two thirds red: put a red band over the blue half's left part.
    image = upright.insert(pyvips.Image.black(50, 200).new_from_image([255, 0, 0]), 150, 0)
    inspected = inspect_upload(imagegen.png(image), max_pixels=50_000_000, keep_gps=False)
    assert inspected.placeholder is not None
    assert inspected.placeholder.dominant_color == "#ff0000"


def test_compute_placeholder_is_base64_and_hex() -> None:
    placeholder = compute_placeholder(noisy_gradient(64, 48, 1, False))
    assert placeholder.thumbhash == VECTORS[0]["thumbhash"]
    assert placeholder.dominant_color.startswith("#") and len(placeholder.dominant_color) == 7


@pytest.mark.parametrize(
    ("width", "height", "text", "size"),
    [
        pytest.param(1600, 1200, "4:3", (32, 24), id="4:3"),
        pytest.param(1920, 1080, "16:9", (32, 18), id="16:9"),
        pytest.param(1080, 1920, "9:16", (18, 32), id="9:16"),
        pytest.param(500, 500, "1:1", (32, 32), id="square"),
        pytest.param(4000, 2667, "4000:2667", (32, 21), id="not-quite-3:2"),
        pytest.param(5000, 10, "500:1", (32, 1), id="banner"),
    ],
)
def test_aspect_text_and_placeholder_size(
    width: int, height: int, text: str, size: tuple[int, int]
) -> None:
    assert aspect_text(width, height) == text
    assert placeholder_size(width, height) == size


@pytest.mark.parametrize("alpha", [False, True], ids=["rgb", "rgba"])
def test_placeholder_png_decodes_to_the_same_pixels(alpha: bool) -> None:
    pixels = thumbhash_decode(thumbhash_encode(noisy_gradient(50, 50, 3, alpha)), 32, 24)
    png = encode_png(pixels)
    image = pyvips.Image.new_from_buffer(png, "")
    assert (image.width, image.height, image.bands) == (32, 24, 4 if alpha else 3)
    memory = image.write_to_memory()
    expected = pixels.rgba if alpha else bytes(b for i, b in enumerate(pixels.rgba) if i % 4 != 3)
    assert memory == expected


def test_placeholder_data_url_keeps_the_image_ratio() -> None:
    thumbhash = base64.b64encode(thumbhash_encode(noisy_gradient(64, 48, 1, False))).decode()
    url = placeholder_data_url(thumbhash, 1920, 1080)
    assert url.startswith("data:image/png;base64,")
    image = pyvips.Image.new_from_buffer(base64.b64decode(url.split(",", 1)[1]), "")
    assert (image.width, image.height) == (32, 18)
    assert len(url) < 2000


def test_a_libvips_failure_costs_the_placeholder_not_the_upload(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A lazily loaded image whose pixels fail to decode when the placeholder reads them.
    broken = pyvips.Image.new_from_buffer(
        imagegen.truncated(imagegen.png(imagegen.detail_on_right(200, 100))),
        "",
        fail_on="truncated",
    )
    assert placeholder_of(broken) is None
    assert "event=placeholder_failed" in caplog.text

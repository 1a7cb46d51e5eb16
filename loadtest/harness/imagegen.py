"""Test images made with pyvips at test time, so the repository holds no binary blobs.

Every function returns encoded bytes (or, for the building blocks, a `pyvips.Image`) with a
layout a test can check by pixel colour: quadrants for gravity and orientation, halves for
crops, one colour per frame for animations.

Also builds the demo photo shipped in `proxy/assets/sample.jpg`:

    python -m loadtest.harness.imagegen sample proxy/assets/sample.jpg
"""

from __future__ import annotations

import functools
import sys
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyvips

Rgb = tuple[int, int, int]

RED: Rgb = (255, 0, 0)
GREEN: Rgb = (0, 255, 0)
BLUE: Rgb = (0, 0, 255)
YELLOW: Rgb = (255, 255, 0)
WHITE: Rgb = (255, 255, 255)
BLACK: Rgb = (0, 0, 0)

# Colours of the quadrants of `quadrants()`, as seen upright.
TOP_LEFT, TOP_RIGHT, BOTTOM_LEFT, BOTTOM_RIGHT = RED, GREEN, BLUE, YELLOW

FRAME_COLOURS: tuple[Rgb, ...] = (RED, GREEN, BLUE, YELLOW, (0, 255, 255), (255, 0, 255))

# The transform that stores an upright image so that applying EXIF orientation `n` restores
# it (checked against libvips' own autorot in tests/proxy/test_render.py).
_STORE_FOR_ORIENTATION: dict[int, Callable[[Any], Any]] = {
    1: lambda image: image,
    2: lambda image: image.fliphor(),
    3: lambda image: image.rot180(),
    4: lambda image: image.flipver(),
    5: lambda image: image.rot90().fliphor(),
    6: lambda image: image.rot270(),
    7: lambda image: image.rot270().fliphor(),
    8: lambda image: image.rot90(),
}


@dataclass(frozen=True, slots=True)
class CameraTags:
    """EXIF camera tags; libvips writes `exif-ifd0-*` / `exif-ifd2-*` string fields on save."""

    make: str = "pixgate"
    model: str = "Synthetic One"
    iso: int = 200
    f_number: tuple[int, int] = (28, 10)
    exposure_time: tuple[int, int] = (1, 250)
    taken_at: datetime = datetime(2024, 6, 21, 19, 30, 0)

    def fields(self) -> dict[str, str]:
        """libvips metadata field name -> value in libexif's string form."""
        return {
            "exif-ifd0-Make": self.make,
            "exif-ifd0-Model": self.model,
            "exif-ifd2-ISOSpeedRatings": str(self.iso),
            "exif-ifd2-FNumber": f"{self.f_number[0]}/{self.f_number[1]}",
            "exif-ifd2-ExposureTime": f"{self.exposure_time[0]}/{self.exposure_time[1]}",
            "exif-ifd2-DateTimeOriginal": self.taken_at.strftime("%Y:%m:%d %H:%M:%S"),
        }


# --- building blocks (pyvips images) -------------------------------------------------------


def solid(width: int, height: int, colour: Sequence[int]) -> Any:
    """A `width`x`height` sRGB image of one colour (3 bands, or 4 with an alpha value)."""
    image = (pyvips.Image.black(width, height, bands=len(colour)) + list(colour)).cast("uchar")
    return image.copy(interpretation="srgb")


def quadrants(width: int, height: int) -> Any:
    """Upright quadrants: red top-left, green top-right, blue bottom-left, yellow bottom-right."""
    left, top = width // 2, height // 2
    upper = solid(left, top, TOP_LEFT).join(solid(width - left, top, TOP_RIGHT), "horizontal")
    lower = solid(left, height - top, BOTTOM_LEFT).join(
        solid(width - left, height - top, BOTTOM_RIGHT), "horizontal"
    )
    return upper.join(lower, "vertical").copy(interpretation="srgb")


def halves(width: int, height: int, left: Rgb = RED, right: Rgb = BLUE) -> Any:
    """Left half one colour, right half another."""
    half = width // 2
    joined = solid(half, height, left).join(solid(width - half, height, right), "horizontal")
    return joined.copy(interpretation="srgb")


def detail_on_right(width: int, height: int) -> Any:
    """Flat grey with a busy, saturated patch in the right quarter: what smartcrop must find."""
    grey = solid(width, height, (128, 128, 128))
    patch_width = max(1, width // 4)
    noise = pyvips.Image.gaussnoise(patch_width, height, sigma=90, mean=128, seed=5)
    patch = noise.bandjoin([noise.flipver(), noise.fliphor()]).cast("uchar")
    return grey.insert(patch, width - patch_width, 0).copy(interpretation="srgb")


def with_metadata(image: Any, *, orientation: int = 1, camera: CameraTags | None = None) -> Any:
    """A copy of `image` carrying an EXIF orientation and, optionally, camera tags."""
    tagged = image.copy()
    if orientation != 1:
        tagged.set_type(pyvips.GValue.gint_type, "orientation", orientation)
    if camera is not None:
        for name, value in camera.fields().items():
            tagged.set_type(pyvips.GValue.gstr_type, name, value)
    return tagged


def stored_for_orientation(upright: Any, orientation: int) -> Any:
    """`upright` transformed and tagged so that honouring `orientation` shows it upright."""
    return with_metadata(_STORE_FOR_ORIENTATION[orientation](upright), orientation=orientation)


def animation(frames: Sequence[Any], *, delay_ms: int = 100) -> Any:
    """Frames of one size stacked into libvips' "toilet roll" with page-height and delays."""
    roll = pyvips.Image.arrayjoin(list(frames), across=1).copy()
    roll.set_type(pyvips.GValue.gint_type, "page-height", frames[0].height)
    roll.set_type(pyvips.GValue.array_int_type, "delay", [delay_ms] * len(frames))
    roll.set_type(pyvips.GValue.gint_type, "loop", 0)
    return roll


# --- encoded test inputs ------------------------------------------------------------------


def jpeg(image: Any, *, quality: int = 90) -> bytes:
    """`image` as a JPEG, keeping whatever metadata it carries."""
    return bytes(image.jpegsave_buffer(Q=quality))


def quadrant_jpeg(width: int, height: int) -> bytes:
    return jpeg(quadrants(width, height))


def halves_jpeg(width: int, height: int, left: Rgb = RED, right: Rgb = BLUE) -> bytes:
    return jpeg(halves(width, height, left, right))


def oriented_jpeg(width: int, height: int, orientation: int) -> bytes:
    """A JPEG that shows `quadrants(width, height)` once its EXIF orientation is applied."""
    return jpeg(stored_for_orientation(quadrants(width, height), orientation))


def camera_jpeg(width: int, height: int, camera: CameraTags | None = None) -> bytes:
    """Quadrants with EXIF camera tags (Make, Model, ISO, FNumber, ExposureTime, date)."""
    return jpeg(with_metadata(quadrants(width, height), camera=camera or CameraTags()))


def cmyk_jpeg(width: int, height: int, colour: Rgb = RED, *, icc: bool) -> bytes:
    """A CMYK JPEG of `colour`, with or without the embedded CMYK profile libvips ships."""
    cmyk = solid(width, height, colour).icc_export(output_profile="cmyk")
    if icc:
        return bytes(cmyk.jpegsave_buffer(Q=95))
    return bytes(cmyk.jpegsave_buffer(Q=95, keep="none"))


def p3_jpeg(width: int, height: int, colour: Rgb) -> bytes:
    """sRGB `colour` stored as Display P3 pixels with the P3 profile embedded: its numbers
    differ from `colour`, so only a colour-managed reader gets `colour` back."""
    p3 = solid(width, height, colour).icc_transform("p3", input_profile="srgb")
    return bytes(p3.jpegsave_buffer(Q=95))


def alpha_image(width: int, height: int, colour: Rgb = RED) -> Any:
    """Left half opaque `colour`, right half fully transparent."""
    half = width // 2
    opaque = solid(half, height, (*colour, 255))
    clear = solid(width - half, height, (*colour, 0))
    return opaque.join(clear, "horizontal").copy(interpretation="srgb")


def alpha_png(width: int, height: int, colour: Rgb = RED) -> bytes:
    return bytes(alpha_image(width, height, colour).pngsave_buffer())


def png(image: Any) -> bytes:
    return bytes(image.pngsave_buffer())


def png16(width: int, height: int, colour: Rgb = RED) -> bytes:
    """A 16-bit RGB PNG of `colour` (each channel scaled to 0-65535)."""
    deep = (pyvips.Image.black(width, height, bands=3) + [c * 257 for c in colour]).cast("ushort")
    return bytes(deep.copy(interpretation="rgb16").pngsave_buffer(bitdepth=16))


def _frames(width: int, height: int, count: int) -> list[Any]:
    return [solid(width, height, FRAME_COLOURS[i % len(FRAME_COLOURS)]) for i in range(count)]


def animated_gif(width: int, height: int, count: int = 4) -> bytes:
    """`count` frames, frame i filled with FRAME_COLOURS[i]."""
    return bytes(animation(_frames(width, height, count)).gifsave_buffer())


def animated_webp(width: int, height: int, count: int = 4) -> bytes:
    return bytes(animation(_frames(width, height, count)).webpsave_buffer(lossless=True))


def panning(width: int, height: int, count: int, *, delay_ms: int = 40, loop: int = 0) -> Any:
    """A photographic animation: a camera panning across `landscape` (sky, hills, grain),
    `count` distinct frames of `width`x`height`, each shown `delay_ms`, played `loop` times."""
    scene = landscape(width * 3, height * 2).copy_memory()
    frames = []
    for index in range(count):
        left = (scene.width - width) * index // max(1, count - 1)
        top = (scene.height - height) * (index % 60) // 120  # a slow tilt, back and forth
        frames.append(scene.crop(left, top, width, height))
    roll = animation(frames, delay_ms=delay_ms)
    roll.set_type(pyvips.GValue.gint_type, "loop", loop)
    return roll


@functools.cache
def panning_gif(width: int, height: int, count: int, *, delay_ms: int = 40, loop: int = 0) -> bytes:
    """`panning` as a GIF, quantised frame by frame (libvips' default effort and dither).
    Cached: a long one takes seconds to quantise, and several tests share it."""
    return bytes(panning(width, height, count, delay_ms=delay_ms, loop=loop).gifsave_buffer())


def still_gif(width: int, height: int) -> bytes:
    return bytes(quadrants(width, height).gifsave_buffer())


def webp(image: Any, *, lossless: bool = True) -> bytes:
    return bytes(image.webpsave_buffer(lossless=lossless))


def tiff(width: int, height: int) -> bytes:
    return bytes(quadrants(width, height).tiffsave_buffer())


def avif(image: Any) -> bytes:
    return bytes(image.heifsave_buffer(compression="av1", Q=90, effort=0))


def svg(width: int = 120, height: int = 40) -> bytes:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">'
        f'<text x="4" y="{height - 10}" font-size="20">pixgate</text></svg>'
    ).encode()


def pdf() -> bytes:
    """The first bytes of a PDF: enough for content sniffing."""
    return b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n"


def truncated(data: bytes, keep: float = 0.5) -> bytes:
    """The first `keep` fraction of `data`: a header that parses, a body that does not."""
    return data[: max(1, int(len(data) * keep))]


def text_named_as_image() -> bytes:
    """What a text file renamed `photo.jpg` contains."""
    return b"This is not an image, whatever its file name says.\n"


ZERO_BYTES = b""


# --- uploads: arbitrary EXIF tags, HEIC, header bombs ---------------------------------------


def with_exif_fields(image: Any, fields: Mapping[str, str]) -> Any:
    """A copy of `image` carrying libvips EXIF fields (``exif-ifd3-GPSLatitude``:
    ``"48/1 51/1 2400/100"``, ...); libvips writes them into the EXIF block on save."""
    tagged = image.copy()
    for name, value in fields.items():
        tagged.set_type(pyvips.GValue.gstr_type, name, value)
    return tagged


def tagged_jpeg(width: int, height: int, fields: Mapping[str, str]) -> bytes:
    """Quadrants as a JPEG with the given EXIF fields (lens, focal length, GPS, ...)."""
    return jpeg(with_exif_fields(quadrants(width, height), fields))


def _box(kind: bytes, payload: bytes) -> bytes:
    return (8 + len(payload)).to_bytes(4, "big") + kind + payload


def _full_box(kind: bytes, payload: bytes, version: int = 0) -> bytes:
    return _box(kind, bytes([version, 0, 0, 0]) + payload)


def hevc_heic(width: int, height: int, stream: bytes = b"\x00" * 64) -> bytes:
    """A HEIC as phones write it, as far as the header goes: one HEVC (`hvc1`) item of
    `width`x`height` with a well-formed `hvcC`, but `stream` in place of a real HEVC
    bitstream. A libvips without an HEVC decoder refuses it the way it refuses a real one."""
    # Main profile, level 3, 4:2:0 8-bit, 4-byte NAL lengths, no parameter-set arrays.
    hvcc = bytes.fromhex("01 01 60000000 900000000000 5a f000 fc fd f8 f8 0000 0f 00")
    ispe = _full_box(b"ispe", width.to_bytes(4, "big") + height.to_bytes(4, "big"))
    iprp = _box(
        b"iprp",
        _box(b"ipco", _box(b"hvcC", hvcc) + ispe)
        # item 1: property 1 (hvcC, essential) and property 2 (ispe)
        + _full_box(b"ipma", (1).to_bytes(4, "big") + b"\x00\x01\x02\x81\x02"),
    )
    infe = _full_box(b"infe", b"\x00\x01\x00\x00hvc1\x00", version=2)
    iinf = _full_box(b"iinf", b"\x00\x01" + infe)

    def meta(offset: int) -> bytes:
        # iloc v0: 4-byte offsets and lengths, one item with one extent.
        extent = offset.to_bytes(4, "big") + len(stream).to_bytes(4, "big")
        iloc = _full_box(b"iloc", b"\x44\x00\x00\x01\x00\x01\x00\x00\x00\x01" + extent)
        hdlr = _full_box(b"hdlr", b"\x00" * 4 + b"pict" + b"\x00" * 13)
        pitm = _full_box(b"pitm", b"\x00\x01")
        return _full_box(b"meta", hdlr + pitm + iloc + iinf + iprp)

    ftyp = _box(b"ftyp", b"heic" + b"\x00" * 4 + b"mif1heic")
    offset = len(ftyp) + len(meta(0)) + 8  # the stream starts after the mdat box header
    return ftyp + meta(offset) + _box(b"mdat", stream)


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header says `width`x`height`: a decompression bomb as a header
    reader sees it (the pixel data is that of a 1x1 image)."""
    small = png(solid(1, 1, RED))
    ihdr_data = width.to_bytes(4, "big") + height.to_bytes(4, "big") + small[24:29]
    ihdr = b"IHDR" + ihdr_data
    chunk = len(ihdr_data).to_bytes(4, "big") + ihdr + zlib.crc32(ihdr).to_bytes(4, "big")
    return small[:8] + chunk + small[33:]


# --- the demo photo --------------------------------------------------------------------------


def _lerp_rows(
    height: int, width: int, top: Rgb, bottom: Rgb, power: float = 1.0, reach: float = 1.0
) -> Any:
    """A vertical gradient from `top` to `bottom`, reaching `bottom` at `reach` of the height."""
    t = (pyvips.Image.xyz(width, height)[1] / max(1.0, (height - 1) * reach)).clamp(max=1.0)
    t = t**power
    delta = [b - a for a, b in zip(top, bottom, strict=True)]
    return t * delta + list(top)


def _ridge_mask(
    width: int, height: int, base: float, amplitude: float, cell: int, seed: int
) -> Any:
    """0-255 mask of the ground below a noisy ridge line at `base` (fraction of height)."""
    profile = pyvips.Image.perlin(width, 1, cell_size=cell, seed=seed)
    detail = pyvips.Image.perlin(width, 1, cell_size=max(8, cell // 6), seed=seed + 1)
    ridge = (profile + detail * 0.25) * (amplitude * height) + base * height
    y = pyvips.Image.xyz(width, height)[1]
    mask = (y - ridge.replicate(1, height)).linear(255.0, 0).cast("uchar")
    return mask.gaussblur(0.8)


def landscape(width: int, height: int) -> Any:
    """A synthetic evening landscape: sky gradient, low sun, clouds, three ranges of hills."""
    sky = _lerp_rows(height, width, (34, 70, 150), (255, 186, 120), power=1.8, reach=0.6)

    sun_x, sun_y, radius = width * 0.68, height * 0.42, height * 0.05
    xy = pyvips.Image.xyz(width, height)
    distance = ((xy[0] - sun_x) ** 2 + (xy[1] - sun_y) ** 2) ** 0.5
    glow = (distance * (-1.0 / (radius * 2.5))).exp()
    disc = ((radius - distance) * 0.5).clamp(min=0.0, max=1.0)  # antialiased edge
    sky = sky + glow * [120, 80, 30] + disc * [255, 245, 220]

    cloud_noise = pyvips.Image.perlin(width, height, cell_size=max(16, width // 6), seed=7)
    fade = _lerp_rows(height, width, (1, 1, 1), (0, 0, 0), power=0.7)[0]  # none near hills
    clouds = ((cloud_noise - 0.15) * 3.0).clamp(min=0.0, max=1.0) * fade
    sky = sky * (1 - clouds * 0.5) + clouds * 0.5 * 245.0

    image = sky
    ranges = (
        (0.50, 0.10, width // 3, 11, (128, 132, 170)),
        (0.63, 0.08, width // 4, 21, (70, 118, 104)),
        (0.78, 0.09, width // 5, 31, (46, 96, 50)),
    )
    for base, amplitude, cell, seed, colour in ranges:
        mask = _ridge_mask(width, height, base, amplitude, cell, seed)
        texture = pyvips.Image.worley(width, height, cell_size=max(8, width // 60), seed=seed)
        shade = (texture / max(1, width // 60)).linear(-0.2, 1.0)
        depth = _lerp_rows(height, width, (1, 1, 1), (0, 0, 0), reach=1.0)[0]  # darker below
        ground = shade * depth.linear(0.45, 0.55) * list(colour)
        image = mask.ifthenelse(ground, image, blend=True)

    grain = pyvips.Image.gaussnoise(width, height, sigma=2.0, mean=0.0, seed=3)
    return (image + grain).cast("uchar").copy(interpretation="srgb")


def sample_photo(width: int = 3000, height: int = 2000, quality: int = 82) -> bytes:
    """The demo photo: `landscape`, stored rotated with EXIF orientation 6 and camera tags."""
    upright = landscape(width, height)
    stored = with_metadata(_STORE_FOR_ORIENTATION[6](upright), orientation=6, camera=CameraTags())
    return bytes(stored.jpegsave_buffer(Q=quality, optimize_coding=True, interlace=False))


def main(argv: Sequence[str]) -> int:
    if len(argv) != 2 or argv[0] != "sample":
        print("usage: python -m loadtest.harness.imagegen sample OUTPUT.jpg", file=sys.stderr)
        return 2
    data = sample_photo()
    Path(argv[1]).write_bytes(data)
    print(f"wrote {argv[1]}: {len(data)} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

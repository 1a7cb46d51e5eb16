"""Hostile inputs, written by code so the repository holds no binary blobs of unknown origin.

Decompression bombs whose headers tell the truth about a huge canvas, headers that lie,
truncated and bit-flipped files of every format pixgate reads, files that are something
else under an image's name, polyglots that are an image and a script at once, and
metadata blocks far bigger than their pixels. Each generator returns the file's bytes;
`CORPUS` names them all, for tests that feed every one through the proxy and the uploader.

Bombs are written by hand (PNG rows streamed through zlib, GIF and WebP blocks, a patched
JPEG SOF), never by asking libvips to build a huge image.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import random
import struct
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyvips

from loadtest.harness import imagegen

# Something a browser would run if it ever took these bytes for a page or a script.
SCRIPT_PAYLOAD = b"<script>alert('pixgate')</script>"
HTML_PAYLOAD = b"<html><body><h1>pixgate</h1>" + SCRIPT_PAYLOAD + b"</body></html>"
GIF_JS_PAYLOAD = b"*/=alert('pixgate');"

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_DEFLATE_BLOCK_ROWS = 256


# --- building blocks ----------------------------------------------------------------------


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")


def _zeros_zlib_stream(row: bytes, rows: int) -> bytes:
    """A zlib stream of `row` repeated `rows` times, built without compressing it all.

    After a full flush a deflate compressor starts afresh, so every block of
    `_DEFLATE_BLOCK_ROWS` rows compresses to the same bytes: compress one block, repeat it,
    and finish with the remainder and the Adler-32 of the whole (computed block by block).
    """
    block = row * _DEFLATE_BLOCK_ROWS
    full_blocks, rest = divmod(rows, _DEFLATE_BLOCK_ROWS)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block_deflated = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    tail = zlib.compressobj(9, zlib.DEFLATED, -15)
    tail_deflated = tail.compress(row * rest) + tail.flush()
    checksum = 1
    for _ in range(full_blocks):
        checksum = zlib.adler32(block, checksum)
    checksum = zlib.adler32(row * rest, checksum)
    header = b"\x78\xda"  # deflate, 32 KiB window, best compression; 0x78da % 31 == 0
    return header + block_deflated * full_blocks + tail_deflated + checksum.to_bytes(4, "big")


def _jpeg_segments(data: bytes) -> Iterator[tuple[int, int, int]]:
    """(marker, offset of the marker, offset after the segment) up to the start of scan."""
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            raise ValueError(f"no JPEG marker at {position}")
        marker = data[position + 1]
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        yield marker, position, position + 2 + length
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            return
        position += 2 + length


def jpeg_segment(marker: int, payload: bytes) -> bytes:
    if len(payload) > 65533:
        raise ValueError("a JPEG segment holds at most 65533 bytes")
    return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload


def with_jpeg_segments(data: bytes, segments: bytes) -> bytes:
    """`data` (a JPEG) with `segments` inserted right after SOI."""
    return data[:2] + segments + data[2:]


def _junk(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def _vp8l_1x1() -> bytes:
    """The VP8L chunk (header included) of a lossless 1x1 WebP."""
    data = imagegen.webp(imagegen.solid(1, 1, imagegen.RED), lossless=True)
    position = 12
    while position + 8 <= len(data):
        kind = data[position : position + 4]
        size = int.from_bytes(data[position + 4 : position + 8], "little")
        if kind == b"VP8L":
            return data[position : position + 8 + size + (size & 1)]
        position += 8 + size + (size & 1)
    raise AssertionError("libvips wrote no VP8L chunk")


def _riff_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        kind + len(payload).to_bytes(4, "little") + payload + (b"\0" if len(payload) & 1 else b"")
    )


def _riff_webp(chunks: bytes) -> bytes:
    return b"RIFF" + (4 + len(chunks)).to_bytes(4, "little") + b"WEBP" + chunks


def _u24(value: int) -> bytes:
    return value.to_bytes(3, "little")


# GIF pieces: 1x1 frames whose LZW data (min code size 2) is clear, colour index, end.
_GIF_ONE_PIXEL = b"\x02\x02\x44\x01\x00"  # colour 0 (black)
_GIF_ONE_WHITE_PIXEL = b"\x02\x02\x4c\x01\x00"  # colour 1 (white)
_GIF_TWO_COLOURS = b"\x00\x00\x00\xff\xff\xff"
_GIF_LOOP = b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"


def _gif_frame(left: int, top: int, *, white: bool, delay_cs: int = 2) -> bytes:
    control = b"\x21\xf9\x04\x00" + struct.pack("<H", delay_cs) + b"\x00\x00"
    descriptor = b"\x2c" + struct.pack("<HHHH", left, top, 1, 1) + b"\x00"
    return control + descriptor + (_GIF_ONE_WHITE_PIXEL if white else _GIF_ONE_PIXEL)


def _gif_screen(width: int, height: int) -> bytes:
    # Global colour table of two entries (packed 0x80), background index 0, no aspect.
    return struct.pack("<HH", width, height) + b"\x80\x00\x00" + _GIF_TWO_COLOURS


# --- decompression bombs: honest headers, huge canvases -----------------------------------


@functools.cache
def png_bomb(width: int = 50_000, height: int = 50_000) -> bytes:
    """A complete, valid 1-bit greyscale PNG of `width`x`height` zero pixels: a few hundred
    kilobytes that decode to `width`x`height` pixels (2.5 gigapixels by default)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\0" * (1 + (width + 7) // 8)  # filter byte "none", then the packed bits
    idat = _zeros_zlib_stream(row, height)
    return (
        _PNG_SIGNATURE
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def jpeg_claiming(width: int = 65_000, height: int = 65_000) -> bytes:
    """A small JPEG whose SOF0 header is patched to claim `width`x`height`."""
    data = bytearray(imagegen.quadrant_jpeg(64, 48))
    for marker, offset, _ in _jpeg_segments(bytes(data)):
        if marker == 0xC0:
            # SOF0: length (2), precision (1), height (2), width (2)
            data[offset + 5 : offset + 9] = struct.pack(">HH", height, width)
            return bytes(data)
    raise AssertionError("libvips wrote no baseline SOF0")


def gif_many_frames(frames: int = 5000, width: int = 1000, height: int = 1000) -> bytes:
    """An animated GIF of `frames` 1x1 frames, black and white by turns, on a
    `width`x`height` logical screen: tiny on disk, `frames` full canvases once decoded."""
    body = b"".join(
        _gif_frame(i % width, (i // width) % height, white=bool(i % 2)) for i in range(frames)
    )
    return b"GIF89a" + _gif_screen(width, height) + _GIF_LOOP + body + b"\x3b"


def webp_claiming_canvas(width: int = 16_383, height: int = 16_383, *, animated: bool) -> bytes:
    """A WebP whose VP8X chunk declares a `width`x`height` canvas around one 1x1 image.

    Animated, the canvas is what a decoder allocates per frame; still, the canvas must
    match the image, so the header lies."""
    flags = 0x02 if animated else 0x00
    vp8x = _riff_chunk(b"VP8X", bytes([flags, 0, 0, 0]) + _u24(width - 1) + _u24(height - 1))
    image = _vp8l_1x1()
    if not animated:
        return _riff_webp(vp8x + image)
    anim = _riff_chunk(b"ANIM", b"\0\0\0\0" + b"\0\0")
    frame = _u24(0) + _u24(0) + _u24(0) + _u24(0) + _u24(100) + b"\x00" + image
    return _riff_webp(vp8x + anim + _riff_chunk(b"ANMF", frame))


def _tiff_directory(entries: list[bytes], next_offset: int = 0) -> bytes:
    entries = sorted(entries, key=lambda entry: int.from_bytes(entry[:2], "little"))
    return (
        len(entries).to_bytes(2, "little") + b"".join(entries) + next_offset.to_bytes(4, "little")
    )


def tiff_many_tags(extra_tags: int = 4000, *, page: int = 1) -> bytes:
    """A valid 8x8 TIFF whose directory (of page 1, or of a second page 2) also holds
    `extra_tags` unknown private tags: libtiff registers each at a cost growing with the
    square of their number, seconds of CPU for some 50 KB."""
    base = bytes(imagegen.solid(8, 8, imagegen.RED).tiffsave_buffer(keep="none"))
    offset = int.from_bytes(base[4:8], "little")
    count = int.from_bytes(base[offset : offset + 2], "little")
    entries = [base[offset + 2 + 12 * i : offset + 14 + 12 * i] for i in range(count)]
    unknown = [struct.pack("<HHII", 65_535 - i, 4, 1, i) for i in range(extra_tags)]
    data = bytearray(base)
    if page == 1:
        data[4:8] = len(data).to_bytes(4, "little")
        return bytes(data) + _tiff_directory(entries + unknown)
    second = _tiff_directory(entries + unknown)
    data[4:8] = (len(data) + len(second)).to_bytes(4, "little")
    return bytes(data) + second + _tiff_directory(entries, next_offset=len(base))


def tiff_directory_claiming(entries: int = 65_535) -> bytes:
    """A TIFF whose first directory declares `entries` entries and holds none."""
    return b"II*\x00" + (8).to_bytes(4, "little") + entries.to_bytes(2, "little") + b"\0" * 4


def bigtiff_huge_ifd(entries: int = 2**40) -> bytes:
    """A BigTIFF whose first IFD claims `entries` (a 64-bit count) entries."""
    return b"II+\x00" + struct.pack("<HHQ", 8, 0, 16) + struct.pack("<Q", entries) + b"\0" * 20


# --- lies and damage ------------------------------------------------------------------------


def truncated_at(data: bytes, keep: float) -> bytes:
    """The first `keep` fraction of `data` (at least one byte)."""
    return data[: max(1, int(len(data) * keep))]


def bit_flipped(data: bytes, *, flips: int = 24, seed: int = 6, skip: int = 32) -> bytes:
    """`data` with `flips` bits flipped at seeded positions past the first `skip` bytes, so
    the file still starts like its format and reaches the decoder."""
    damaged = bytearray(data)
    rng = random.Random(seed)
    for _ in range(flips):
        position = rng.randrange(min(skip, len(data) - 1), len(data))
        damaged[position] ^= 1 << rng.randrange(8)
    return bytes(damaged)


def html_document() -> bytes:
    return b"<!DOCTYPE html>\n" + HTML_PAYLOAD + b"\n"


def html_behind_jpeg_magic() -> bytes:
    """HTML behind the three bytes that say JPEG: the sniffer says JPEG, no header parses."""
    return b"\xff\xd8\xff" + html_document()


def svg_with_script() -> bytes:
    """An SVG that runs a script and fetches from the cloud metadata address if rendered."""
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'
        b' width="200" height="200" onload="alert(1)">'
        b'<script type="text/javascript">alert(document.domain)</script>'
        b'<image xlink:href="http://169.254.169.254/latest/meta-data/" width="200" height="200"/>'
        b'<use xlink:href="file:///etc/passwd#x"/>'
        b"</svg>\n"
    )


def svg_padded() -> bytes:
    """An SVG behind a byte-order mark and blank lines, as sniffers are sometimes fooled."""
    return b"\xef\xbb\xbf\n\n  " + svg_with_script()


# --- valid images carrying something else ---------------------------------------------------


def jpeg_with_html_tail() -> bytes:
    """A valid JPEG with HTML and a script after its EOI marker."""
    return imagegen.quadrant_jpeg(64, 48) + HTML_PAYLOAD


def png_with_html_tail() -> bytes:
    """A valid PNG with HTML after IEND."""
    return imagegen.png(imagegen.quadrants(64, 48)) + HTML_PAYLOAD


def gif_javascript_polyglot() -> bytes:
    """A GIF that is also a valid JavaScript program: ``GIF89a/*<binary>*/=alert(...);``.

    The logical screen width's two bytes are ``/*`` (10799 px), opening a JS comment that
    the payload after the GIF trailer closes; JS sees ``GIF89a = alert(...)``."""
    width = int.from_bytes(b"/*", "little")
    image = (
        b"GIF89a"
        + _gif_screen(width, 10)
        + b"\x2c"
        + struct.pack("<HHHH", 0, 0, 1, 1)
        + b"\x00"
        + _GIF_ONE_PIXEL
        + b"\x3b"
    )
    if b"*/" in image:
        raise AssertionError("the GIF bytes would close the JavaScript comment early")
    return image + GIF_JS_PAYLOAD


def jpeg_huge_exif(total: int = 1 << 20) -> bytes:
    """A JPEG with about `total` bytes of junk in APP1 "Exif" segments after its real EXIF."""
    base = imagegen.camera_jpeg(64, 48)
    segments = b"".join(
        jpeg_segment(0xE1, b"Exif\0\0" + _junk(65_000, seed)) for seed in range(total // 65_000)
    )
    return with_jpeg_segments(base, segments)


def jpeg_huge_icc(total: int = 1 << 20) -> bytes:
    """A JPEG with an about `total`-byte junk ICC profile in APP2 ICC_PROFILE chunks."""
    chunk_size = 65_000
    profile = _junk(total, 11)
    chunks = [profile[i : i + chunk_size] for i in range(0, len(profile), chunk_size)]
    segments = b"".join(
        jpeg_segment(0xE2, b"ICC_PROFILE\0" + bytes([number, len(chunks)]) + chunk)
        for number, chunk in enumerate(chunks, start=1)
    )
    return with_jpeg_segments(imagegen.quadrant_jpeg(64, 48), segments)


def jpeg_huge_xmp(size: int = 60_000) -> bytes:
    """A JPEG whose APP1 XMP packet is `size` bytes of text carrying a script."""
    packet = (b"<x:xmpmeta xmlns:x='adobe:ns:meta/'>" + SCRIPT_PAYLOAD).ljust(size, b" ")
    segment = jpeg_segment(0xE1, b"http://ns.adobe.com/xap/1.0/\0" + packet + b"</x:xmpmeta>")
    return with_jpeg_segments(imagegen.quadrant_jpeg(64, 48), segment)


def strip_png(width: int, height: int) -> bytes:
    """A red PNG of an extreme aspect ratio (1x30000, 30000x1)."""
    return imagegen.png(imagegen.solid(width, height, imagegen.RED))


def strip_jpeg(width: int, height: int) -> bytes:
    return imagegen.jpeg(imagegen.solid(width, height, imagegen.RED))


# --- the corpus -----------------------------------------------------------------------------


def _damaged(kind: str) -> dict[str, Callable[[], bytes]]:
    makers: dict[str, Callable[[], bytes]] = {
        "jpeg": lambda: imagegen.quadrant_jpeg(160, 120),
        "png": lambda: imagegen.png(imagegen.quadrants(160, 120)),
        "gif": lambda: imagegen.animated_gif(40, 30, 3),
        "webp": lambda: imagegen.webp(imagegen.quadrants(160, 120), lossless=False),
        "avif": lambda: imagegen.avif(imagegen.quadrants(160, 120)),
    }
    make = makers[kind]
    return {
        f"{kind}-truncated-header": lambda: truncated_at(make(), 0.05),
        f"{kind}-truncated-half": lambda: truncated_at(make(), 0.5),
        f"{kind}-bit-flipped": lambda: bit_flipped(make()),
    }


CORPUS: dict[str, Callable[[], bytes]] = {
    # bombs
    "png-bomb-50000x50000": png_bomb,
    "jpeg-sof-65000x65000": jpeg_claiming,
    "gif-5000-frames-big-canvas": gif_many_frames,
    "gif-5000-tiny-frames": lambda: gif_many_frames(5000, 1, 1),
    "webp-animated-huge-canvas": lambda: webp_claiming_canvas(animated=True),
    "webp-still-canvas-lies": lambda: webp_claiming_canvas(animated=False),
    "tiff-4000-tags": tiff_many_tags,
    "tiff-4000-tags-on-page-2": lambda: tiff_many_tags(page=2),
    "tiff-claims-65535-entries": tiff_directory_claiming,
    "bigtiff-claims-2e40-entries": bigtiff_huge_ifd,
    # damage
    **_damaged("jpeg"),
    **_damaged("png"),
    **_damaged("gif"),
    **_damaged("webp"),
    **_damaged("avif"),
    # not images
    "zero-bytes": lambda: b"",
    "text-as-jpg": imagegen.text_named_as_image,
    "html-as-jpg": html_document,
    "html-behind-jpeg-magic": html_behind_jpeg_magic,
    "svg-script-xlink": svg_with_script,
    "svg-bom-padded": svg_padded,
    # valid images carrying payloads
    "jpeg-html-after-eoi": jpeg_with_html_tail,
    "png-html-after-iend": png_with_html_tail,
    "gif-javascript-polyglot": gif_javascript_polyglot,
    "jpeg-1mb-exif": jpeg_huge_exif,
    "jpeg-1mb-icc": jpeg_huge_icc,
    "jpeg-xmp-script": jpeg_huge_xmp,
    # extreme aspect ratios
    "png-1x30000": lambda: strip_png(1, 30_000),
    "png-30000x1": lambda: strip_png(30_000, 1),
    "jpeg-1x30000": lambda: strip_jpeg(1, 30_000),
    "jpeg-30000x1": lambda: strip_jpeg(30_000, 1),
}


# Valid images with something riding along: served, and what is served must be clean.
CARRIERS = (
    "jpeg-html-after-eoi",
    "png-html-after-iend",
    "gif-javascript-polyglot",
    "jpeg-1mb-exif",
    "jpeg-1mb-icc",
    "jpeg-xmp-script",
)

# Damage a decoder may or may not notice: refused, or served clean, never a 5xx.
BIT_FLIPPED = tuple(name for name in CORPUS if name.endswith("-bit-flipped"))


# --- checking what comes out ----------------------------------------------------------------

# CPU seconds: a decoded bomb would take minutes and gigabytes. CPU time, not wall time, is
# bounded tightly because a busy shared machine (or a store's hiccup) stretches the wall
# clock without the work growing; the wall clock only catches hangs, at WALL_FACTOR times.
SECONDS = 2.0
WALL_FACTOR = 5
MEGABYTES = 256
MAX_FRAMES = 100  # PIXGATE_MAX_ANIMATION_FRAMES' default

# Byte strings no served image may contain, whatever its input carried.
PAYLOAD_MARKERS = (b"<script", b"<html", b"alert(", b"*/=")


def assert_safety_headers(response: Any) -> None:
    """The headers that keep a served file from ever running as a page."""
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "sandbox" in policy


def assert_clean_image(body: bytes, content_type: str) -> Any:
    """Decodes without a warning, ends where its format ends, holds no payload and no
    metadata. Returns the decoded image."""
    assert container_end(body, content_type) == len(body), "trailing bytes"
    lowered = body.lower()
    for marker in PAYLOAD_MARKERS:
        assert marker not in lowered, marker
    image = pyvips.Image.new_from_buffer(body, "", fail_on="warning")
    image.avg()  # decode every pixel
    fields = set(image.get_fields())
    assert not fields & {"exif-data", "icc-profile-data", "xmp-data", "iptc-data"}, fields
    return image


def container_end(data: bytes, content_type: str) -> int:
    """Where the encoded image of `content_type` ends by its own structure: anything from
    there to the end of `data` is a trailing payload. Raises ValueError if it is malformed."""
    walkers = {
        "image/jpeg": _jpeg_end,
        "image/png": _png_end,
        "image/gif": _gif_end,
        "image/webp": _riff_end,
        "image/avif": _isobmff_end,
    }
    return walkers[content_type](data)


def _jpeg_end(data: bytes) -> int:
    """After the EOI that follows the entropy-coded data of the last scan."""
    if not data.startswith(b"\xff\xd8"):
        raise ValueError("no SOI")
    position = 2
    while True:
        if data[position] != 0xFF:
            raise ValueError(f"no JPEG marker at {position}")
        marker = data[position + 1]
        if marker == 0xD9:
            return position + 2
        position += 2 + int.from_bytes(data[position + 2 : position + 4], "big")
        if marker != 0xDA:
            continue
        # Entropy-coded data ends at a marker other than stuffing (FF00) and restarts (RSTn).
        while True:
            position = data.index(b"\xff", position)
            following = data[position + 1]
            if following != 0x00 and not 0xD0 <= following <= 0xD7:
                break
            position += 2


def _png_end(data: bytes) -> int:
    if not data.startswith(_PNG_SIGNATURE):
        raise ValueError("no PNG signature")
    position = len(_PNG_SIGNATURE)
    while position + 8 <= len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        kind = data[position + 4 : position + 8]
        position += 12 + length
        if kind == b"IEND":
            return position
    raise ValueError("no IEND")


def _gif_end(data: bytes) -> int:
    """After the trailer, found by walking the blocks (as `proxy.probe.gif_cut_short`)."""
    position = 13 + _gif_colour_table(data[10])
    while position < len(data):
        block = data[position]
        if block == 0x3B:
            return position + 1
        if block == 0x21:
            position = _gif_sub_blocks(data, position + 2)
        elif block == 0x2C:
            position += 10 + _gif_colour_table(data[position + 9]) + 1
            position = _gif_sub_blocks(data, position)
        else:
            raise ValueError(f"unknown GIF block {block:#x}")
    raise ValueError("no GIF trailer")


def _gif_colour_table(packed: int) -> int:
    return 3 * 2 ** ((packed & 0x07) + 1) if packed & 0x80 else 0


def _gif_sub_blocks(data: bytes, position: int) -> int:
    while data[position]:
        position += 1 + data[position]
    return position + 1


def _riff_end(data: bytes) -> int:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ValueError("no RIFF WEBP header")
    return 8 + int.from_bytes(data[4:8], "little")


def _isobmff_end(data: bytes) -> int:
    """After the last top-level box, each box's size leading to the next."""
    position = 0
    while position + 8 <= len(data):
        size = int.from_bytes(data[position : position + 4], "big")
        if size == 1:
            size = int.from_bytes(data[position + 8 : position + 16], "big")
        elif size == 0:
            return len(data)
        if size < 8:
            raise ValueError("malformed box")
        position += size
    return position


# --- raw HTTP ---------------------------------------------------------------------------------


def get(target: bytes, *headers: bytes, method: bytes = b"GET", body: bytes = b"") -> bytes:
    """A raw HTTP/1.1 request, byte for byte as given (no client-side normalisation)."""
    request_line = method + b" " + target + b" HTTP/1.1"
    length = [b"Content-Length: %d" % len(body)] if body else []
    lines = [request_line, b"Host: x", b"Connection: close", *headers, *length]
    return b"\r\n".join([*lines, b"", b""]) + body


async def raw_exchange(client: Any, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw request bytes to an aiohttp test client's server: the status, the headers
    (lower-case names) and the body."""
    server = client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(request)
    await writer.drain()
    response = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    await writer.wait_closed()
    head, _, body = response.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split(" ", 2)[1]), headers, body


# --- bounding time and memory ---------------------------------------------------------------

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_megabytes(field: str) -> float:
    for line in _STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise LookupError(field)


@contextlib.contextmanager
def bounded(seconds: float, megabytes: float) -> Iterator[None]:
    """Assert that the block costs this process (every thread: the app, libvips) less than
    `seconds` of CPU, ends within WALL_FACTOR times that, and that the process's resident
    memory (libvips included: it allocates outside Python) never rises more than
    `megabytes` above where it stood. The peak (VmHWM) is reset first, where Linux lets a
    process do so; elsewhere the peak since start-up is compared, which only errs lenient."""
    with contextlib.suppress(OSError):
        _CLEAR_REFS.write_text("5")  # reset VmHWM to the current RSS
    before = _status_megabytes("VmRSS")
    # The test process's own cycle collector stays out of the measurement: a full collection
    # of the whole test session's heap costs up to 2.6 s of CPU and lands in whichever
    # block is running (measured; it failed this bound twice in CI).
    collecting = gc.isenabled()
    gc.disable()
    started, cpu_started = time.monotonic(), time.process_time()
    try:
        yield
    finally:
        elapsed, cpu = time.monotonic() - started, time.process_time() - cpu_started
        if collecting:
            gc.enable()
    peak = _status_megabytes("VmHWM")
    assert cpu < seconds, f"cost {cpu:.2f} s of CPU (bound {seconds} s)"
    assert elapsed < seconds * WALL_FACTOR, (
        f"took {elapsed:.2f} s (bound {seconds * WALL_FACTOR} s)"
    )
    assert peak - before < megabytes, f"memory rose {peak - before:.0f} MB (bound {megabytes})"

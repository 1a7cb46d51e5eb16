"""Each system's answer checked before any load: status, type, size, and its quality as
PSNR against the same system's lossless PNG of the same geometry (so differences in
resampling or crop offsets do not count as codec loss)."""

from __future__ import annotations

import math
import time
import urllib.error
import urllib.request
from typing import Any

import pyvips

from loadtest.peer_results import Check
from loadtest.peer_servers import CONTENT_TYPES, Transform


def fetch(url: str) -> tuple[int, str, bytes, float]:
    """Status, media type, body and milliseconds of one GET."""
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            body = response.read()
            status, content_type = response.status, response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        body, status, content_type = error.read(), error.code, ""
    return status, content_type.split(";")[0], body, (time.perf_counter() - started) * 1000


def _comparable(data: bytes) -> Any:
    """Decoded to 8-bit sRGB, alpha flattened on white (as every JPEG here is)."""
    image = pyvips.Image.new_from_buffer(data, "")
    if image.hasalpha():
        image = image.flatten(background=[255, 255, 255])
    if image.interpretation != "srgb":
        image = image.colourspace("srgb")
    return image.cast("uchar")


def psnr_db(encoded: bytes, reference: bytes) -> float:
    """PSNR of `encoded` against `reference` (same size), over R, G and B."""
    image, truth = _comparable(encoded), _comparable(reference)
    if (image.width, image.height) != (truth.width, truth.height):
        return math.nan
    difference = image.cast("float") - truth.cast("float")
    mse = float((difference * difference).avg())
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def check(url: str, reference_url: str, transform: Transform) -> Check:
    status, content_type, body, elapsed_ms = fetch(url)
    if status != 200:
        return Check(False, f"HTTP {status}: {body[:160]!r}")
    expected = CONTENT_TYPES[transform.output_format]
    if content_type != expected:
        return Check(False, f"unsupported: asked for {expected}, got {content_type or '?'}")
    image = pyvips.Image.new_from_buffer(body, "")
    width, height = transform.expected_size()
    if abs(image.width - width) > 1 or abs(image.height - height) > 1:
        return Check(False, f"wrong size {image.width}x{image.height}, expected {width}x{height}")
    ref_status, _, reference, _ = fetch(reference_url)
    quality = psnr_db(body, reference) if ref_status == 200 else math.nan
    return Check(True, "", len(body), f"{image.width}x{image.height}", elapsed_ms, quality)

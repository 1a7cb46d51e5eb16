"""Hostile originals through the proxy over HTTP: bombs, lies, damage, polyglots.

Each input from `tests.hostile.CORPUS` is put in local storage under a `.jpg` name and asked
for with a signed URL. A refusal is a JSON 4xx decided quickly with bounded memory (from the
header where the header tells); a valid image carrying a payload is served re-encoded, with
nothing after the format's end, no script or markup anywhere, and no metadata. Every
response carries the safety headers, and the server answers /health after each.
"""

from __future__ import annotations

import contextlib
import gc
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from pixgate_signing import UrlBuilder

from tests import hostile
from tests.hostile import (
    BIT_FLIPPED,
    CARRIERS,
    MAX_FRAMES,
    MEGABYTES,
    SECONDS,
    assert_clean_image,
    assert_safety_headers,
)
from tests.proxy.conftest import ClientFactory

Client = TestClient[Any, Any]

BROWSER_ACCEPT = "image/avif,image/webp,image/apng,*/*;q=0.8"
FORMATS = ("jpeg", "png", "webp", "avif", "gif")

# name in the corpus -> (status, error code, words the message must hold)
REFUSED: dict[str, tuple[int, str, str]] = {
    "png-bomb-50000x50000": (422, "source_too_large", "50000x50000"),
    "jpeg-sof-65000x65000": (422, "source_too_large", "65000x65000"),
    "gif-5000-frames-big-canvas": (422, "source_too_large", "1000x1000 x 100 frames"),
    "webp-animated-huge-canvas": (422, "source_too_large", "16383x16383"),
    "webp-still-canvas-lies": (422, "corrupt_image", "header"),
    "tiff-4000-tags": (422, "unprocessable", "more than 1024 entries"),
    "tiff-4000-tags-on-page-2": (422, "unprocessable", "more than 1024 entries"),
    "tiff-claims-65535-entries": (422, "unprocessable", "more than 1024 entries"),
    "bigtiff-claims-2e40-entries": (422, "unprocessable", "more than 1024 entries"),
    "jpeg-truncated-header": (422, "corrupt_image", "header"),
    "jpeg-truncated-half": (422, "corrupt_image", "truncated"),
    "png-truncated-header": (422, "corrupt_image", "header"),
    "png-truncated-half": (422, "corrupt_image", "truncated"),
    "gif-truncated-header": (422, "corrupt_image", "truncated"),
    "gif-truncated-half": (422, "corrupt_image", "truncated"),
    "webp-truncated-header": (422, "corrupt_image", "header"),
    "webp-truncated-half": (422, "corrupt_image", "truncated"),
    "avif-truncated-header": (422, "corrupt_image", "header"),
    "avif-truncated-half": (422, "corrupt_image", "truncated"),
    "zero-bytes": (422, "corrupt_image", "empty"),
    "text-as-jpg": (415, "unsupported_format", "unrecognised"),
    "html-as-jpg": (415, "unsupported_format", "unrecognised"),
    "html-behind-jpeg-magic": (422, "corrupt_image", "header"),
    "svg-script-xlink": (415, "unsupported_format", "SVG"),
    "svg-bom-padded": (415, "unsupported_format", "SVG"),
}

# name -> (width, height) of the source
STRIPS: dict[str, tuple[int, int]] = {
    "png-1x30000": (1, 30_000),
    "png-30000x1": (30_000, 1),
    "jpeg-1x30000": (1, 30_000),
    "jpeg-30000x1": (30_000, 1),
}
# Largest side each output format holds; bigger results are scaled down to fit.
FORMAT_LIMITS = {"jpeg": 65_500, "png": 1 << 31, "webp": 16_383, "avif": 16_384, "gif": 65_535}


def test_every_corpus_entry_has_an_expectation() -> None:
    covered = {*REFUSED, *CARRIERS, *BIT_FLIPPED, *STRIPS, "gif-5000-tiny-frames"}
    assert covered == set(hostile.CORPUS)


def _burn_cpu(seconds: float) -> None:
    started = time.process_time()
    while time.process_time() - started < seconds:
        pass


@pytest.mark.parametrize(
    ("work", "failure"),
    [
        pytest.param(lambda: time.sleep(0.3), None, id="waiting-is-not-work"),
        pytest.param(lambda: _burn_cpu(0.3), "of CPU", id="cpu-over-the-bound"),
        pytest.param(lambda: time.sleep(1.1), "took", id="a-hang-past-the-wall-bound"),
        pytest.param(lambda: bytearray(64 * 2**20), "memory rose", id="memory-over-the-bound"),
    ],
)
def test_the_bound_itself(work: Callable[[], object], failure: str | None) -> None:
    """CPU 0.2 s, wall 5 x 0.2 s, memory 32 MB: what the hostile tests rely on."""
    with contextlib.ExitStack() as stack:
        if failure is not None:
            stack.enter_context(pytest.raises(AssertionError, match=failure))
        with hostile.bounded(0.2, 32):
            assert not gc.isenabled()  # the test session's own collections are not measured
            kept = work()
    assert gc.isenabled()
    del kept


def test_the_png_bomb_is_a_real_one() -> None:
    """Not just a lying header: its IDAT inflates to 50000 rows of 50000 pixels (312 MB)."""
    data = hostile.png_bomb()
    assert len(data) < 400_000
    idat_length = int.from_bytes(data[33:37], "big")
    assert data[37:41] == b"IDAT"
    inflate = zlib.decompressobj()
    pending, total = data[41 : 41 + idat_length], 0
    while pending:
        chunk = inflate.decompress(pending, 1 << 24)
        assert chunk.count(0) == len(chunk)
        total += len(chunk)
        pending = inflate.unconsumed_tail
    assert inflate.eof
    assert total == 50_000 * (1 + 50_000 // 8)


@pytest.fixture(scope="module")
def corpus() -> dict[str, bytes]:
    return {name: make() for name, make in hostile.CORPUS.items()}


@pytest.fixture
async def hostile_client(
    make_client: ClientFactory, storage_dir: Path, corpus: dict[str, bytes]
) -> Client:
    folder = storage_dir / "hostile"
    folder.mkdir()
    for name, data in corpus.items():
        (folder / f"{name}.jpg").write_bytes(data)
    # No source cache: every request below reads, probes and renders for itself.
    return await make_client(PIXGATE_SOURCE_CACHE_BYTES="0")


async def fetch(client: Client, path: str, accept: str = BROWSER_ACCEPT) -> tuple[Any, bytes]:
    """GET within the time and memory bounds; the server must answer /health afterwards."""
    with hostile.bounded(SECONDS, MEGABYTES):
        response = await client.get(path, headers={"Accept": accept})
        body = await response.read()
    assert response.status < 500, body[:300]
    assert_safety_headers(response)
    assert (await client.get("/health")).status == 200
    return response, body


@pytest.mark.parametrize(("name", "expected"), REFUSED.items(), ids=REFUSED.keys())
async def test_refused_quickly_with_a_clear_4xx(
    hostile_client: Client, urls: UrlBuilder, name: str, expected: tuple[int, str, str]
) -> None:
    status, code, words = expected
    response, _ = await fetch(hostile_client, urls.path(f"hostile/{name}.jpg", width=300))
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["Cache-Control"] == "no-store"
    error = (await response.json())["error"]
    assert (response.status, error["code"]) == (status, code), error
    assert words in error["message"]


@pytest.mark.parametrize("fmt", [None, *FORMATS])
@pytest.mark.parametrize("name", CARRIERS)
async def test_payloads_and_metadata_do_not_survive(
    hostile_client: Client, urls: UrlBuilder, name: str, fmt: str | None
) -> None:
    response, body = await fetch(hostile_client, urls.path(f"hostile/{name}.jpg", format=fmt))
    assert response.status == 200, body[:300]
    content_type = response.headers["Content-Type"]
    assert content_type == (f"image/{fmt}" if fmt else "image/avif")
    assert_clean_image(body, content_type)


@pytest.mark.parametrize("name", BIT_FLIPPED)
async def test_bit_flips_are_refused_or_served_clean(
    hostile_client: Client, urls: UrlBuilder, name: str
) -> None:
    response, body = await fetch(hostile_client, urls.path(f"hostile/{name}.jpg", format="png"))
    if response.status == 200:
        assert_clean_image(body, "image/png")
    else:
        assert response.status == 422
        assert (await response.json())["error"]["code"] == "corrupt_image"


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("name", "size"), STRIPS.items(), ids=STRIPS.keys())
async def test_extreme_aspect_ratios_fit_every_format(
    hostile_client: Client, urls: UrlBuilder, name: str, size: tuple[int, int], fmt: str
) -> None:
    response, body = await fetch(hostile_client, urls.path(f"hostile/{name}.jpg", format=fmt))
    assert response.status == 200, body[:300]
    image = assert_clean_image(body, f"image/{fmt}")
    long_side = min(max(size), FORMAT_LIMITS[fmt])
    expected = (1, long_side) if size[0] == 1 else (long_side, 1)
    assert (image.width, image.height) == expected
    assert image(0, 0)[:3] == pytest.approx([255, 0, 0], abs=60)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        pytest.param({"width": 100}, (100, 1), id="width"),
        pytest.param({"width": 100, "height": 100, "fit": "fill"}, (100, 1), id="fill"),
        pytest.param({"height": 100}, (16_383, 1), id="height-no-enlarge"),
    ],
)
async def test_extreme_aspect_ratio_resized(
    hostile_client: Client, urls: UrlBuilder, options: dict[str, Any], expected: tuple[int, int]
) -> None:
    path = urls.path("hostile/png-30000x1.jpg", format="webp", **options)
    response, body = await fetch(hostile_client, path)
    assert response.status == 200, body[:300]
    image = assert_clean_image(body, "image/webp")
    assert (image.width, image.height) == expected


@pytest.mark.parametrize(("fmt", "content_type"), [("gif", "image/gif"), ("webp", "image/webp")])
async def test_thousands_of_frames_are_cut_to_the_frame_limit(
    hostile_client: Client, urls: UrlBuilder, fmt: str, content_type: str
) -> None:
    path = urls.path("hostile/gif-5000-tiny-frames.jpg", format=fmt)
    response, body = await fetch(hostile_client, path)
    assert response.status == 200, body[:300]
    image = assert_clean_image(body, content_type)
    assert image.get("n-pages") == MAX_FRAMES
    assert response.headers["X-Pixgate-Frames-Dropped"] == str(5000 - MAX_FRAMES)

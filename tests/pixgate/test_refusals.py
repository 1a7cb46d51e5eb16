"""One failure, one answer: the same bytes are refused with the same status and code by the
proxy (a signed transform of a stored original) and by the uploader (POST
/api/v1/images), on one app over local storage and SQLite.

Valid files whose coding this libvips cannot decode are 415 `unsupported_format` naming
the coding; empty, truncated or damaged files are 422 `corrupt_image`; a header claiming
too many pixels is 422 `source_too_large`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pyvips
from aiohttp.test_utils import TestClient
from pixgate_signing import UrlBuilder

from config import load_settings
from loadtest.harness import imagegen
from pixgate.app import create_app
from tests import codings

Client = TestClient[Any, Any]

KEY, SALT = "736563726574", "68656C6C6F"
BROWSER_ACCEPT = "image/avif,image/webp,*/*;q=0.8"


def _hevc_decoder_missing() -> bool:
    try:
        pyvips.Image.new_from_buffer(codings.hevc_heic(), "").avg()
    except pyvips.Error as error:
        return "not been built in" in str(error) or "no decoding plugin" in str(error).lower()
    return False


# With an HEVC decoder the sample's stand-in bitstream is what fails: damage, not coding.
HEVC = (
    (415, "unsupported_format", "HEIF with HEVC compression is not supported")
    if _hevc_decoder_missing()
    else (422, "corrupt_image", "truncated or corrupt")
)

# name -> (bytes, (status, code, words in the message)), the same for both roles
CASES: dict[str, tuple[Callable[[], bytes], tuple[int, str, str]]] = {
    "heic-hevc": (codings.hevc_heic, HEVC),
    "jpeg-12-bit": (
        codings.twelve_bit_jpeg,
        (415, "unsupported_format", "12-bit JPEG is not supported"),
    ),
    "jpeg-hierarchical": (
        codings.hierarchical_jpeg,
        (415, "unsupported_format", "hierarchical JPEG is not supported"),
    ),
    "svg": (imagegen.svg, (415, "unsupported_format", "SVG")),
    "text-named-jpg": (imagegen.text_named_as_image, (415, "unsupported_format", "unrecognised")),
    "jpeg-truncated": (
        lambda: imagegen.truncated(imagegen.quadrant_jpeg(400, 300)),
        (422, "corrupt_image", "truncated or corrupt"),
    ),
    "jpeg-without-end-marker": (
        lambda: imagegen.quadrant_jpeg(400, 300)[:-2],
        (422, "corrupt_image", "truncated or corrupt"),
    ),
    "jpeg-header-cut": (
        lambda: imagegen.quadrant_jpeg(400, 300)[:40],
        (422, "corrupt_image", "header is unreadable or truncated"),
    ),
    "jpeg-magic-then-garbage": (
        lambda: b"\xff\xd8\xff" + b"\x00" * 200,
        (422, "corrupt_image", "header is unreadable or truncated"),
    ),
    "png-truncated": (
        lambda: imagegen.truncated(imagegen.png(imagegen.detail_on_right(400, 300))),
        (422, "corrupt_image", "truncated or corrupt"),
    ),
    "gif-truncated": (
        lambda: imagegen.truncated(imagegen.still_gif(400, 300)),
        (422, "corrupt_image", "truncated"),
    ),
    "webp-truncated": (
        lambda: imagegen.truncated(imagegen.webp(imagegen.detail_on_right(400, 300)), 0.9),
        (422, "corrupt_image", "truncated"),
    ),
    "avif-truncated": (
        lambda: imagegen.truncated(imagegen.avif(imagegen.quadrants(400, 300)), 0.9),
        (422, "corrupt_image", "truncated"),
    ),
    "pixel-bomb-header": (
        lambda: imagegen.png_claiming(30_000, 30_000),
        (422, "source_too_large", "30000x30000"),
    ),
}


@pytest.fixture
async def app(aiohttp_client: Any, tmp_path: Path) -> Client:
    """Both roles in one app: local storage and SQLite under `tmp_path`."""
    settings = load_settings(
        {
            "PIXGATE_KEY": KEY,
            "PIXGATE_SALT": SALT,
            "PIXGATE_STORAGE_URL": f"file://{tmp_path / 'storage'}",
            "PIXGATE_DATABASE_URL": f"sqlite:///{tmp_path / 'pixgate.db'}",
            "PIXGATE_MIGRATE_ON_START": "true",
            "PIXGATE_UPLOAD_RATE": "0",
            "PIXGATE_SOURCE_CACHE_BYTES": "0",
        }
    )
    (tmp_path / "storage").mkdir()
    client: Client = await aiohttp_client(create_app(settings))
    return client


async def _error(response: aiohttp.ClientResponse) -> tuple[int, str, str]:
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["Cache-Control"] == "no-store"
    error = (await response.json())["error"]
    return response.status, error["code"], error["message"]


@pytest.mark.parametrize(("make", "expected"), CASES.values(), ids=CASES.keys())
async def test_proxy_and_uploader_refuse_alike(
    app: Client, tmp_path: Path, make: Callable[[], bytes], expected: tuple[int, str, str]
) -> None:
    status, code, words = expected
    data = make()
    (tmp_path / "storage" / "original.jpg").write_bytes(data)

    path = UrlBuilder("", KEY, SALT).path("original.jpg", width=100)
    served = await _error(await app.get(path, headers={"Accept": BROWSER_ACCEPT}))

    form = aiohttp.FormData()
    form.add_field("image", data, filename="photo.jpg", content_type="image/jpeg")
    uploaded = await _error(await app.post("/api/v1/images", data=form))

    for role, (got_status, got_code, message) in (("proxy", served), ("upload", uploaded)):
        assert (got_status, got_code) == (status, code), (role, message)
        assert words in message, (role, message)

"""Direct links (`/img_..._m.jpg`, signed query form) through the real app."""

from __future__ import annotations

import string
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import pyvips
from aiohttp.test_utils import TestClient
from hypothesis import given
from hypothesis import strategies as st
from pixgate_signing import DIRECT_FITS, DIRECT_SIZES, FORMATS, UrlBuilder, parse_key_pairs

from loadtest.harness import imagegen
from proxy.direct import DirectRequest, parse_direct
from proxy.errors import BadRequest, Forbidden
from proxy.option_parsers import MAX_DIMENSION
from proxy.options import FORMAT_EXTENSIONS, ResizingType
from proxy.probe import gif_screen_end

Client = TestClient[Any, Any]
IMAGE_ID = "img_Direct0Test1Image2ab"


@pytest.fixture
def stored(storage_dir: Path) -> str:
    (storage_dir / "originals" / IMAGE_ID).write_bytes(imagegen.quadrant_jpeg(1600, 1200))
    return IMAGE_ID


def size_of(body: bytes) -> tuple[int, int]:
    image = pyvips.Image.new_from_buffer(body, "")
    return image.width, image.height


@pytest.mark.parametrize(
    ("suffix", "content_type", "size"),
    [
        pytest.param(".jpg", "image/jpeg", (1600, 1200), id="original-jpg"),
        pytest.param(".png", "image/png", (1600, 1200), id="original-as-png"),
        pytest.param("_s.jpg", "image/jpeg", (150, 113), id="small"),
        pytest.param("_m.webp", "image/webp", (500, 375), id="medium-webp"),
        pytest.param("_l.avif", "image/avif", (1200, 900), id="large-avif"),
        pytest.param("_t.jpg", "image/jpeg", (32, 24), id="tiny"),
    ],
)
async def test_fixed_links(
    client: Client, stored: str, suffix: str, content_type: str, size: tuple[int, int]
) -> None:
    response = await client.get(f"/{stored}{suffix}")
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"] == content_type
    assert "Vary" not in response.headers
    assert response.headers["Cache-Tag"] == response.headers["Surrogate-Key"] == stored
    assert size_of(await response.read()) == size


async def test_without_extension_negotiates(client: Client, stored: str) -> None:
    response = await client.get(f"/{stored}_s", headers={"Accept": "image/avif,image/webp"})
    assert response.headers["Content-Type"] == "image/avif"
    assert response.headers["Vary"] == "Accept"
    plain = await client.get(f"/{stored}_s", headers={"Accept": "*/*"})
    assert plain.headers["Content-Type"] == "image/jpeg"


@pytest.mark.parametrize(
    ("kwargs", "size"),
    [
        pytest.param({"width": 800}, (800, 600), id="width"),
        pytest.param({"width": 300, "height": 300, "fit": "cover"}, (300, 300), id="cover"),
        pytest.param({"width": 300, "height": 300, "fit": "crop"}, (300, 300), id="crop"),
        pytest.param({"width": 300, "height": 300, "fit": "contain"}, (300, 300), id="contain"),
        pytest.param({"width": 300, "height": 100, "fit": "fill"}, (300, 100), id="fill"),
        pytest.param({"height": 60, "format": "webp", "quality": 85}, (80, 60), id="fmt-q"),
    ],
)
async def test_signed_query_form(
    client: Client, urls: UrlBuilder, stored: str, kwargs: dict[str, Any], size: tuple[int, int]
) -> None:
    response = await client.get(urls.direct_url(stored, ext="jpg", **kwargs))
    assert response.status == 200, await response.text()
    assert size_of(await response.read()) == size


async def test_query_order_does_not_matter(client: Client, urls: UrlBuilder, stored: str) -> None:
    url = urls.direct_url(stored, ext="jpg", width=200, height=100, fit="cover")
    path, _, query = url.partition("?")
    reordered = "&".join(reversed(query.split("&")))
    response = await client.get(f"{path}?{reordered}")
    assert response.status == 200


async def test_both_grammars_render_the_same_pixels(
    client: Client, urls: UrlBuilder, stored: str
) -> None:
    direct = await client.get(urls.direct_url(stored, ext="png", width=120))
    signed = await client.get(urls.path(f"originals/{stored}", width=120, format="png"))
    assert await direct.read() == await signed.read()


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        pytest.param("/{id}.jpg?w=800", (403, "invalid_signature"), id="unsigned"),
        pytest.param("/{id}.jpg?w=800&s=AAAA", (403, "invalid_signature"), id="bad-signature"),
        pytest.param("/{id}.jpg?w=800&zoom=2", (400, "invalid_option"), id="unknown-param"),
        pytest.param("/{id}.jpg?w=1&w=2", (400, "invalid_option"), id="duplicate-param"),
        pytest.param("/{id}_s.jpg?w=800", (400, "invalid_path"), id="size-with-query"),
        pytest.param("/{id}.bmp", (400, "invalid_option"), id="unknown-ext"),
        pytest.param("/img_Missing0Image0000000.jpg", (404, "not_found"), id="unknown-image"),
    ],
)
async def test_direct_errors(
    client: Client, stored: str, target: str, expected: tuple[int, str]
) -> None:
    response = await client.get(target.format(id=stored))
    body = await response.json()
    assert (response.status, body["error"]["code"]) == expected
    assert response.headers["Cache-Control"] == "no-store"


async def test_tampered_query_is_refused(client: Client, urls: UrlBuilder, stored: str) -> None:
    url = urls.direct_url(stored, ext="jpg", width=200)
    response = await client.get(url.replace("w=200", "w=2000"))
    assert response.status == 403


# -- properties

KEY_PAIRS = parse_key_pairs("736563726574", "68656C6C6F")
IDS = st.text(st.sampled_from(string.ascii_letters + string.digits), min_size=20, max_size=20).map(
    "img_{}".format
)
QUERY_PIECES = st.sampled_from(
    ["w", "h", "fit", "fmt", "q", "s", "=", "&", "1", "800", "cover", "webp", "%ff", "%00",
     "%26", "+", ";", "-1", "A" * 43, "é", "\udcff"]
)  # fmt: skip
ANY_TEXT = st.lists(st.one_of(st.characters(), st.characters(categories=["Cs"])), max_size=120).map(
    "".join
)


def outcome(parse: Callable[[], DirectRequest]) -> DirectRequest | Exception:
    """What `parse` returns, or the exception it raises (asserted on outside `except`)."""
    try:
        return parse()
    except Exception as error:
        return error


def parse(path: str, query: str) -> DirectRequest:
    return parse_direct(path, query, key_pairs=KEY_PAIRS, signature_size=32, presets={})


@given(
    path=st.one_of(ANY_TEXT, IDS.map("/{}".format), IDS.map("/{}_s.webp".format)),
    query=st.one_of(ANY_TEXT, st.lists(QUERY_PIECES, max_size=12).map("".join)),
)
def test_any_direct_target_parses_or_is_refused(path: str, query: str) -> None:
    result = outcome(lambda: parse(path, query))
    if isinstance(result, Exception):
        assert isinstance(result, BadRequest | Forbidden), repr(result)
        assert result.status in (400, 403)


_DIRECT_FIT = {
    None: (ResizingType.FIT, False),
    "contain": (ResizingType.FIT, True),
    "crop": (ResizingType.FILL, False),
    "cover": (ResizingType.FILL, False),
    "fill": (ResizingType.FORCE, False),
}


@given(
    image_id=IDS,
    ext=st.none() | st.sampled_from(FORMATS),
    width=st.integers(0, MAX_DIMENSION),
    height=st.integers(0, MAX_DIMENSION),
    fit=st.none() | st.sampled_from(DIRECT_FITS),
    fmt=st.none() | st.sampled_from(FORMATS),
    quality=st.none() | st.integers(1, 100),
)
def test_every_direct_url_parses_back_to_its_options(
    image_id: str,
    ext: str | None,
    width: int,
    height: int,
    fit: str | None,
    fmt: str | None,
    quality: int | None,
) -> None:
    url = UrlBuilder("", "736563726574", "68656C6C6F").direct_url(
        image_id, ext=ext, width=width, height=height, fit=fit, format=fmt, quality=quality
    )
    path, _, query = url.partition("?")
    request = parse(path, query)
    options = request.options
    assert request.image_id == image_id
    assert (options.width, options.height, options.quality) == (width, height, quality or 0)
    resizing_type, extends = _DIRECT_FIT[fit]
    assert options.resizing_type is resizing_type
    assert options.extend is extends
    wanted = fmt or ext
    assert options.format is (None if wanted is None else FORMAT_EXTENSIONS[wanted])


@given(image_id=IDS, size=st.sampled_from(sorted(DIRECT_SIZES)), ext=st.sampled_from(FORMATS))
def test_every_fixed_size_link_parses_back(image_id: str, size: str, ext: str) -> None:
    url = UrlBuilder("", "736563726574", "68656C6C6F").direct_url(image_id, size=size, ext=ext)
    request = parse(url, "")
    box = DIRECT_SIZES[size]
    assert (request.image_id, request.options.width, request.options.height) == (
        image_id,
        box,
        box,
    )
    assert request.options.format is FORMAT_EXTENSIONS[ext]


GIF_ID = "img_Direct0Test1Anim3gif"
_COMMENT = b"\x21\xfe\x0bhello there\x00"
_XMP = b"\x21\xff\x0bXMP DataXMP\x05<x:x>\x00"


async def test_original_gif_link_is_the_source_less_its_metadata(
    client: Client, storage_dir: Path
) -> None:
    source = imagegen.panning_gif(160, 90, 300)
    screen = gif_screen_end(source)
    tagged = source[:screen] + _COMMENT + _XMP + source[screen:]
    (storage_dir / "originals" / GIF_ID).write_bytes(tagged)

    response = await client.get(f"/{GIF_ID}.gif")
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"] == "image/gif"
    assert response.headers["ETag"].startswith('"')
    assert response.headers["Cache-Tag"] == GIF_ID
    assert await response.read() == source

    small = await client.get(f"/{GIF_ID}_s.gif")  # resized: rendered by libvips
    assert small.status == 200, await small.text()
    image = pyvips.Image.new_from_buffer(await small.read(), "", n=-1)
    assert (image.width, image.get("page-height")) == (150, 84)
    assert image.get("n-pages") > 100  # gifsave merges frames that quantise alike

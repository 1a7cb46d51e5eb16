"""Hostile files through POST /api/v1/images, over real PostgreSQL and S3.

Every file is sent as `photo.jpg` declared `image/jpeg`, whatever it is. A refusal is a clear
4xx, decided quickly with bounded memory, that leaves no row and no object. A valid image
carrying a payload is accepted, and every link it gets serves a clean re-encoding: nothing
after the format's end, no script or markup, no metadata.
"""

from __future__ import annotations

import io
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from loadtest.harness import imagegen
from loadtest.harness.s3server import MotoServer
from tests import hostile
from tests.hostile import (
    BIT_FLIPPED,
    CARRIERS,
    MEGABYTES,
    SECONDS,
    assert_clean_image,
    assert_safety_headers,
)
from tests.uploader.conftest import ClientFactory
from tests.uploader.test_api import local, objects, rows

Client = TestClient[Any, Any]

# name in the corpus -> (status, error code)
REFUSED: dict[str, tuple[int, str]] = {
    "png-bomb-50000x50000": (422, "source_too_large"),
    "jpeg-sof-65000x65000": (422, "source_too_large"),
    # Uploads are kept whole or refused: every frame counts (the proxy caps other sources).
    "gif-5000-frames-big-canvas": (422, "too_many_frames"),
    "gif-5000-tiny-frames": (422, "too_many_frames"),
    "webp-animated-huge-canvas": (422, "source_too_large"),
    "webp-still-canvas-lies": (422, "corrupt_image"),
    "tiff-4000-tags": (415, "unsupported_format"),
    "tiff-4000-tags-on-page-2": (415, "unsupported_format"),
    "tiff-claims-65535-entries": (415, "unsupported_format"),
    "bigtiff-claims-2e40-entries": (415, "unsupported_format"),
    "jpeg-truncated-header": (422, "corrupt_image"),
    "jpeg-truncated-half": (422, "corrupt_image"),
    "png-truncated-header": (422, "corrupt_image"),
    "png-truncated-half": (422, "corrupt_image"),
    "gif-truncated-header": (422, "corrupt_image"),
    "gif-truncated-half": (422, "corrupt_image"),
    "webp-truncated-header": (422, "corrupt_image"),
    "webp-truncated-half": (422, "corrupt_image"),
    "avif-truncated-header": (422, "corrupt_image"),
    "avif-truncated-half": (422, "corrupt_image"),
    "zero-bytes": (400, "missing_image"),
    "text-as-jpg": (415, "unsupported_format"),
    "html-as-jpg": (415, "unsupported_format"),
    "html-behind-jpeg-magic": (422, "corrupt_image"),
    "svg-script-xlink": (415, "unsupported_format"),
    "svg-bom-padded": (415, "unsupported_format"),
}

ACCEPTED = (*CARRIERS, "png-1x30000", "png-30000x1", "jpeg-1x30000", "jpeg-30000x1")


def test_every_corpus_entry_has_an_expectation() -> None:
    covered = {*REFUSED, *ACCEPTED, *BIT_FLIPPED}
    assert covered == set(hostile.CORPUS)


@pytest.fixture
async def api(make_uploader: ClientFactory) -> Client:
    return await make_uploader(PIXGATE_UPLOAD_RATE="0")


async def post(client: Client, data: bytes) -> tuple[Any, dict[str, Any]]:
    """Upload as a JPEG named photo.jpg within the time and memory bounds; the server
    answers /health afterwards."""
    form = aiohttp.FormData()
    form.add_field("image", io.BytesIO(data), filename="photo.jpg", content_type="image/jpeg")
    with hostile.bounded(SECONDS, MEGABYTES):
        response = await client.post("/api/v1/images", data=form)
        body = await response.json()
    assert response.status < 500, body
    assert (await client.get("/health")).status == 200
    return response, body


async def assert_links_serve_clean_images(client: Client, body: dict[str, Any]) -> list[Any]:
    """Every link of an accepted upload serves a clean image; returns the decoded ones."""
    images = []
    for name, url in body["urls"].items():
        with hostile.bounded(SECONDS, MEGABYTES):
            response = await client.get(local(url))
            served = await response.read()
        assert response.status == 200, (name, served[:300])
        assert_safety_headers(response)
        images.append(assert_clean_image(served, response.headers["Content-Type"]))
    return images


@pytest.mark.parametrize(("name", "expected"), REFUSED.items(), ids=REFUSED.keys())
async def test_refused_with_a_clear_4xx_and_nothing_stored(
    api: Client,
    pg_url: str,
    s3_server: MotoServer,
    s3_bucket: str,
    name: str,
    expected: tuple[int, str],
) -> None:
    response, body = await post(api, hostile.CORPUS[name]())
    assert (response.status, body["error"]["code"]) == expected, body
    assert_safety_headers(response)
    assert rows(pg_url) == []
    assert objects(s3_server, s3_bucket) == []


@pytest.mark.parametrize("name", ACCEPTED)
async def test_valid_images_are_accepted_and_served_clean(api: Client, name: str) -> None:
    data = hostile.CORPUS[name]()
    response, body = await post(api, data)
    assert response.status == 201, body
    assert body["metadata"]["size_bytes"] == len(data)  # the original is kept as sent
    images = await assert_links_serve_clean_images(api, body)
    assert len(images) == 5


@pytest.mark.parametrize("name", BIT_FLIPPED)
async def test_bit_flips_are_refused_or_served_clean(api: Client, pg_url: str, name: str) -> None:
    response, body = await post(api, hostile.CORPUS[name]())
    if response.status == 201:
        await assert_links_serve_clean_images(api, body)
    else:
        assert (response.status, body["error"]["code"]) == (422, "corrupt_image")
        assert rows(pg_url) == []


async def test_non_utf8_credentials_are_refused_not_errors(make_uploader: ClientFactory) -> None:
    """Key and token headers whose bytes are not UTF-8 are wrong credentials: 401/403."""
    client = await make_uploader(
        PIXGATE_API_KEYS="app:key-0123456789abcdef", PIXGATE_ADMIN_KEY="admin-key-0123456789"
    )
    form = b"".join(
        [
            b'--b\r\nContent-Disposition: form-data; name="image"; filename="x.jpg"\r\n\r\n',
            imagegen.quadrant_jpeg(16, 16),
            b"\r\n--b--\r\n",
        ]
    )
    multipart = b"Content-Type: multipart/form-data; boundary=b"
    bad_key = b"Authorization: Bearer \xff\xfe"
    request = hostile.get(b"/api/v1/images", bad_key, multipart, method=b"POST", body=form)
    status, _, _ = await hostile.raw_exchange(client, request)
    assert status == 401
    accepted = aiohttp.FormData()
    accepted.add_field("image", imagegen.quadrant_jpeg(16, 16), filename="x.jpg")
    response = await client.post(
        "/api/v1/images",
        data=accepted,
        headers={"Authorization": "Bearer key-0123456789abcdef"},
    )
    assert response.status == 201, await response.text()
    image_id = (await response.json())["image_id"]
    target = f"/api/v1/images/{image_id}".encode()
    for header in (
        b"Authorization: Bearer admin-key-0123456789\xff",
        b"X-Delete-Token: \xc3\x28" + b"A" * 41,
    ):
        status, _, _ = await hostile.raw_exchange(
            client, hostile.get(target, header, method=b"DELETE")
        )
        assert status == 403, header
    assert (await client.get(f"/api/v1/images/{image_id}/metadata")).status == 200


async def test_a_delete_token_deletes_only_its_own_image(api: Client) -> None:
    _, first = await post(api, imagegen.quadrant_jpeg(30, 20))
    _, second = await post(api, imagegen.quadrant_jpeg(20, 30))
    token, victim = first["delete_token"], second["image_id"]
    refused = [
        await api.delete(f"/api/v1/images/{victim}", headers={"X-Delete-Token": token}),
        await api.delete(f"/api/v1/images/{victim}?delete_token={token}"),
        await api.delete(f"/api/v1/images/{victim}", headers={"Authorization": f"Bearer {token}"}),
    ]
    assert [response.status for response in refused] == [403, 403, 403]
    assert (await api.get(local(second["urls"]["small"]))).status == 200
    own = f"/api/v1/images/{first['image_id']}"
    assert (await api.delete(own, headers={"X-Delete-Token": token})).status == 204
    again = await api.delete(f"/api/v1/images/{victim}", headers={"X-Delete-Token": token})
    assert again.status == 403
    assert (await api.get(f"/api/v1/images/{victim}/metadata")).status == 200

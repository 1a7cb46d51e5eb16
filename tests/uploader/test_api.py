"""The upload API end to end: real PostgreSQL rows, real S3 objects, real pixels."""

from __future__ import annotations

import asyncio
import base64
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import boto3
import psycopg
import pytest
import pyvips
from aiohttp.test_utils import TestClient

from config import load_settings
from loadtest.harness import imagegen
from loadtest.harness.s3server import MotoServer
from pixgate.app import create_app
from tests.uploader.conftest import KEY, PUBLIC_URL, SALT, ClientFactory
from uploader.placeholder import thumbhash_aspect_ratio, thumbhash_average_rgba

Client = TestClient[Any, Any]
CAMERA = imagegen.CameraTags(make="Fujifilm", model="X-T5", iso=400)


def form(data: bytes, filename: str = "photo.jpg", **fields: str) -> aiohttp.FormData:
    body = aiohttp.FormData()
    body.add_field("image", data, filename=filename, content_type="application/octet-stream")
    for name, value in fields.items():
        body.add_field(name, value)
    return body


async def upload(client: Client, data: bytes, **kwargs: Any) -> aiohttp.ClientResponse:
    headers = kwargs.pop("headers", {})
    return await client.post("/api/v1/images", data=form(data, **kwargs), headers=headers)


def local(url: str) -> str:
    """A returned absolute URL, as a path on the test server."""
    assert url.startswith(PUBLIC_URL + "/")
    return url.removeprefix(PUBLIC_URL)


def objects(s3_server: MotoServer, bucket: str) -> list[str]:
    s3 = boto3.client("s3", endpoint_url=s3_server.endpoint_url)
    return [item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def rows(pg_url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(pg_url) as connection:
        return connection.execute(
            "SELECT image_id, owner, deleted_at FROM images ORDER BY uploaded_at"
        ).fetchall()


async def test_upload_jpeg_with_exif_end_to_end(
    api: Client, s3_server: MotoServer, s3_bucket: str, pg_url: str
) -> None:
    data = imagegen.camera_jpeg(1600, 1200, CAMERA)
    response = await upload(api, data, title="Harbour", description="at dusk")
    assert response.status == 201, await response.text()
    body = await response.json()
    image_id = body["image_id"]
    assert image_id.startswith("img_") and len(image_id) == 24
    assert body["processing_status"] == "completed"
    placeholder = {"thumbhash": body["metadata"]["thumbhash"]}
    placeholder["dominant_color"] = body["metadata"]["dominant_color"]
    assert body["metadata"] == {
        "width": 1600,
        "height": 1200,
        "format": "jpeg",
        "size_bytes": len(data),
        "aspect_ratio": 1.333333,
        "aspect": "4:3",
        **placeholder,
    }
    assert re.fullmatch(r"#[0-9a-f]{6}", placeholder["dominant_color"])
    assert set(body["urls"]) == {"original", "small", "medium", "large", "tiny"}
    assert body["urls"]["small"] == f"{PUBLIC_URL}/{image_id}_s.jpg"
    assert body["srcset"] == (
        f"{PUBLIC_URL}/{image_id}_s.jpg 150w, {PUBLIC_URL}/{image_id}_m.jpg 500w, "
        f"{PUBLIC_URL}/{image_id}_l.jpg 1200w"
    )
    assert body["delete_token"]
    # Nothing was rendered at upload: one object, one row.
    assert objects(s3_server, s3_bucket) == [f"media/originals/{image_id}"]
    assert [row[0] for row in rows(pg_url)] == [image_id]

    expected = {
        "original": (1600, 1200),
        "small": (150, 113),
        "medium": (500, 375),
        "large": (1200, 900),
        "tiny": (32, 24),
    }
    for name, size in expected.items():
        served = await api.get(local(body["urls"][name]))
        assert served.status == 200, name
        image = pyvips.Image.new_from_buffer(await served.read(), "")
        assert (image.width, image.height) == size, name

    metadata = await (await api.get(f"/api/v1/images/{image_id}/metadata")).json()
    assert metadata["title"] == "Harbour" and metadata["description"] == "at dusk"
    assert metadata["exif"]["camera_make"] == "Fujifilm"
    assert metadata["exif"]["camera_model"] == "X-T5"
    assert metadata["exif"]["iso"] == 400
    assert metadata["exif"]["aperture"] == "f/2.8"
    assert metadata["exif"]["shutter_speed"] == "1/250 s"
    assert metadata["exif"]["date_taken"] == "2024-06-21T19:30:00"
    assert "gps" not in metadata["exif"]
    assert datetime.fromisoformat(metadata["uploaded_at"]).tzinfo is not None
    assert metadata["views"] == 0  # counted from the edge's logs, none ingested here


@pytest.mark.parametrize(
    ("make", "filename", "fmt", "ext"),
    [
        pytest.param(lambda: imagegen.alpha_png(300, 200), "a.png", "png", "png", id="png"),
        pytest.param(lambda: imagegen.animated_gif(60, 40, 3), "a.gif", "gif", "gif", id="gif"),
        pytest.param(
            lambda: imagegen.webp(imagegen.quadrants(90, 60)), "a.webp", "webp", "webp", id="webp"
        ),
        pytest.param(
            lambda: imagegen.avif(imagegen.quadrants(90, 60)), "a.avif", "avif", "avif", id="avif"
        ),
        pytest.param(
            lambda: imagegen.alpha_png(30, 20), "fake.jpg", "png", "png", id="png-named-jpg"
        ),
    ],
)
async def test_other_formats(api: Client, make: Any, filename: str, fmt: str, ext: str) -> None:
    response = await upload(api, make(), filename=filename)
    assert response.status == 201, await response.text()
    body = await response.json()
    assert body["metadata"]["format"] == fmt
    assert body["urls"]["original"].endswith(f".{ext}")
    served = await api.get(local(body["urls"]["small"]))
    assert served.status == 200
    assert served.headers["Content-Type"] == f"image/{fmt}"


async def test_identical_bytes_are_deduplicated_per_owner(
    make_uploader: ClientFactory, pg_url: str
) -> None:
    client = await make_uploader(
        PIXGATE_API_KEYS="alice:alice-secret-0123456789,bob:bob-secret-0123456789ab"
    )
    data = imagegen.quadrant_jpeg(64, 48)
    alice = {"Authorization": "Bearer alice-secret-0123456789"}
    first = await upload(client, data, headers=alice)
    second = await upload(client, data, headers=alice)
    bob = await upload(client, data, headers={"Authorization": "Bearer bob-secret-0123456789ab"})
    assert (first.status, second.status, bob.status) == (201, 200, 201)
    first_id = (await first.json())["image_id"]
    assert (await second.json())["image_id"] == first_id
    assert (await bob.json())["image_id"] != first_id
    assert sorted(owner for _, owner, _ in rows(pg_url)) == ["alice", "bob"]


async def test_reupload_fills_the_placeholder_of_an_older_row(api: Client, pg_url: str) -> None:
    data = imagegen.png(imagegen.solid(120, 80, (20, 140, 160)))
    first = await (await upload(api, data)).json()
    image_id = first["image_id"]
    with psycopg.connect(pg_url, autocommit=True) as connection:  # as before placeholders
        connection.execute(
            "UPDATE images SET thumbhash = NULL, dominant_color = NULL WHERE image_id = %s",
            (image_id,),
        )
    before = await (await api.get(f"/api/v1/images/{image_id}/metadata")).json()
    assert (before["thumbhash"], before["dominant_color"]) == (None, None)

    again = await upload(api, data)
    assert again.status == 200
    body = await again.json()
    assert body["duplicate"] is True and body["image_id"] == image_id
    expected = (first["metadata"]["thumbhash"], "#148ca0")
    assert (body["metadata"]["thumbhash"], body["metadata"]["dominant_color"]) == expected
    after = await (await api.get(f"/api/v1/images/{image_id}/metadata")).json()
    assert (after["thumbhash"], after["dominant_color"]) == expected


async def test_delete(api: Client, s3_server: MotoServer, s3_bucket: str) -> None:
    body = await (await upload(api, imagegen.quadrant_jpeg(200, 100))).json()
    image_id = body["image_id"]
    small = local(body["urls"]["small"])
    assert (await api.get(small)).status == 200  # now cached in this process too

    wrong = await api.delete(f"/api/v1/images/{image_id}", headers={"X-Delete-Token": "nope"})
    assert wrong.status == 403
    missing = await api.delete(f"/api/v1/images/{image_id}")
    assert missing.status == 403
    other = await api.delete(
        "/api/v1/images/img_00000000000000000000", headers={"X-Delete-Token": body["delete_token"]}
    )
    assert other.status == 404

    done = await api.delete(
        f"/api/v1/images/{image_id}", headers={"X-Delete-Token": body["delete_token"]}
    )
    assert done.status == 204
    assert (await api.get(f"/api/v1/images/{image_id}/metadata")).status == 404
    assert objects(s3_server, s3_bucket) == []
    for url in body["urls"].values():
        assert (await api.get(local(url))).status == 404
    again = await api.delete(
        f"/api/v1/images/{image_id}", headers={"X-Delete-Token": body["delete_token"]}
    )
    assert again.status == 404


async def test_admin_key_deletes_anything(make_uploader: ClientFactory) -> None:
    client = await make_uploader(PIXGATE_ADMIN_KEY="admin-key-0123456789")
    image_id = (await (await upload(client, imagegen.quadrant_jpeg(20, 20))).json())["image_id"]
    response = await client.delete(
        f"/api/v1/images/{image_id}", headers={"Authorization": "Bearer admin-key-0123456789"}
    )
    assert response.status == 204


@pytest.mark.parametrize(
    ("data", "env", "expected"),
    [
        pytest.param(
            b"x" * 5000,
            {"PIXGATE_MAX_UPLOAD_BYTES": "4096"},
            (413, "upload_too_large"),
            id="oversize",
        ),
        pytest.param(
            imagegen.text_named_as_image(), {}, (415, "unsupported_format"), id="text-as-jpg"
        ),
        pytest.param(imagegen.svg(), {}, (415, "unsupported_format"), id="svg"),
        pytest.param(imagegen.tiff(40, 30), {}, (415, "unsupported_format"), id="tiff"),
        pytest.param(
            imagegen.truncated(imagegen.quadrant_jpeg(400, 300), 0.5),
            {},
            (422, "corrupt_image"),
            id="truncated-jpeg",
        ),
        pytest.param(b"", {}, (400, "missing_image"), id="empty"),
        pytest.param(
            imagegen.quadrant_jpeg(400, 300),
            {"PIXGATE_MAX_SRC_PIXELS": "10000"},
            (422, "source_too_large"),
            id="pixel-bomb",
        ),
    ],
)
async def test_rejections(
    make_uploader: ClientFactory,
    pg_url: str,
    s3_server: MotoServer,
    s3_bucket: str,
    data: bytes,
    env: dict[str, str],
    expected: tuple[int, str],
) -> None:
    client = await make_uploader(**env)
    response = await upload(client, data)
    body = await response.json()
    assert (response.status, body["error"]["code"]) == expected
    assert rows(pg_url) == []
    assert objects(s3_server, s3_bucket) == []


async def test_streamed_oversize_body_is_cut_off(make_uploader: ClientFactory) -> None:
    """No Content-Length: the limit applies while the body streams in."""
    client = await make_uploader(PIXGATE_MAX_UPLOAD_BYTES="100000")

    async def chunks() -> Any:
        yield b'--b\r\nContent-Disposition: form-data; name="image"; filename="x.jpg"\r\n\r\n'
        for _ in range(100):
            yield b"\xff" * 10000

    response = await client.post(
        "/api/v1/images",
        data=chunks(),
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    assert response.status == 413


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        pytest.param(
            {"data": b"not a form", "headers": {"Content-Type": "text/plain"}},
            (415, "unsupported_request"),
            id="not-multipart",
        ),
        pytest.param(
            {"data": aiohttp.FormData({"title": "no image"}, default_to_multipart=True)},
            (400, "missing_image"),
            id="no-image-field",
        ),
    ],
)
async def test_malformed_requests(
    api: Client, kwargs: dict[str, Any], expected: tuple[int, str]
) -> None:
    response = await api.post("/api/v1/images", **kwargs)
    body = await response.json()
    assert (response.status, body["error"]["code"]) == expected


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        pytest.param({}, 401, id="missing"),
        pytest.param({"Authorization": "Bearer wrong-key-0123456789"}, 401, id="wrong"),
        pytest.param({"Authorization": "Basic abc"}, 401, id="not-bearer"),
        pytest.param({"Authorization": "Bearer key-0123456789abcdef"}, 201, id="valid"),
    ],
)
async def test_api_keys(make_uploader: ClientFactory, headers: dict[str, str], status: int) -> None:
    client = await make_uploader(PIXGATE_API_KEYS="app:key-0123456789abcdef")
    response = await upload(client, imagegen.quadrant_jpeg(16, 16), headers=headers)
    assert response.status == status
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_rate_limit(make_uploader: ClientFactory) -> None:
    client = await make_uploader(PIXGATE_UPLOAD_RATE="2/60")
    statuses = [(await upload(client, imagegen.quadrant_jpeg(16 + n, 16))).status for n in range(3)]
    assert statuses == [201, 201, 429]
    limited = await upload(client, imagegen.quadrant_jpeg(40, 16))
    assert int(limited.headers["Retry-After"]) >= 1


async def test_concurrent_uploads(api: Client, pg_url: str) -> None:
    images = [imagegen.quadrant_jpeg(100 + n, 80) for n in range(8)]
    responses = await asyncio.gather(*(upload(api, data) for data in images))
    assert [r.status for r in responses] == [201] * 8
    ids = {(await r.json())["image_id"] for r in responses}
    assert len(ids) == 8 and {row[0] for row in rows(pg_url)} == ids


async def test_concurrent_identical_uploads_make_one_image(
    api: Client, pg_url: str, s3_server: MotoServer, s3_bucket: str
) -> None:
    data = imagegen.quadrant_jpeg(123, 45)
    responses = await asyncio.gather(*(upload(api, data) for _ in range(5)))
    ids = {(await r.json())["image_id"] for r in responses}
    assert len(ids) == 1
    assert len(rows(pg_url)) == 1
    assert len(objects(s3_server, s3_bucket)) == 1


async def test_storage_failure_leaves_no_row(make_uploader: ClientFactory, pg_url: str) -> None:
    client = await make_uploader(PIXGATE_STORAGE_URL="s3://no-such-bucket-pixgate/media")
    response = await upload(client, imagegen.quadrant_jpeg(30, 30))
    body = await response.json()
    assert (response.status, body["error"]["code"]) == (503, "storage_unavailable")
    assert "Retry-After" in response.headers
    assert rows(pg_url) == []


async def test_database_failure_leaves_no_object(
    api: Client, pg_url: str, s3_server: MotoServer, s3_bucket: str
) -> None:
    with psycopg.connect(pg_url, autocommit=True) as connection:
        connection.execute("ALTER TABLE images RENAME TO images_gone")
    response = await upload(api, imagegen.quadrant_jpeg(30, 30))
    assert response.status >= 500
    assert objects(s3_server, s3_bucket) == []


async def test_metrics_count_uploads(api: Client) -> None:
    await upload(api, imagegen.quadrant_jpeg(16, 16))
    await upload(api, imagegen.text_named_as_image())
    text = await (await api.get("/metrics")).text()
    assert 'pixgate_uploads_total{outcome="accepted",reason=""} 1.0' in text
    assert 'pixgate_uploads_total{outcome="rejected",reason="unsupported_format"} 1.0' in text
    assert "pixgate_upload_duration_seconds_bucket" in text
    assert "pixgate_upload_size_bytes_bucket" in text


async def test_ready_checks_the_database(api: Client) -> None:
    assert (await api.get("/ready")).status == 200


# --- placeholders: the same fields over both metadata stores ----------------------------


@pytest.mark.parametrize(
    ("make", "size", "aspect", "colour"),
    [
        pytest.param(
            lambda: imagegen.png(imagegen.solid(300, 200, (20, 140, 160))),
            (300, 200),
            "3:2",
            "#148ca0",
            id="solid-png",
        ),
        pytest.param(
            # Two thirds red, a third blue.
            lambda: imagegen.png(
                imagegen.halves(300, 200).insert(imagegen.solid(50, 200, (255, 0, 0)), 150, 0)
            ),
            (300, 200),
            "3:2",
            "#ff0000",
            id="mostly-red",
        ),
        pytest.param(
            lambda: imagegen.oriented_jpeg(200, 400, 6), (200, 400), "1:2", None, id="jpeg-exif-6"
        ),
        pytest.param(lambda: imagegen.alpha_png(160, 90), (160, 90), "16:9", "#ff0000", id="alpha"),
    ],
)
async def test_placeholder_aspect_and_colour_in_upload_and_metadata(
    repository_url: str,
    tmp_path: Path,
    aiohttp_client: Any,
    make: Any,
    size: tuple[int, int],
    aspect: str,
    colour: str | None,
) -> None:
    storage = tmp_path / "storage"
    storage.mkdir()
    settings = load_settings(
        {
            "PIXGATE_KEY": KEY,
            "PIXGATE_SALT": SALT,
            "PIXGATE_STORAGE_URL": storage.as_uri(),
            "PIXGATE_DATABASE_URL": repository_url,
            "PIXGATE_MIGRATE_ON_START": "true",
            "PIXGATE_PUBLIC_URL": PUBLIC_URL,
        }
    )
    client = await aiohttp_client(create_app(settings))
    response = await upload(client, make())
    assert response.status == 201, await response.text()
    summary = (await response.json())["metadata"]
    image_id = (await response.json())["image_id"]
    metadata = await (await client.get(f"/api/v1/images/{image_id}/metadata")).json()

    for body in (summary, metadata):
        assert (body["width"], body["height"]) == size
        assert body["aspect"] == aspect
        assert body["aspect_ratio"] == pytest.approx(size[0] / size[1], abs=1e-6)
        hash_bytes = base64.b64decode(body["thumbhash"], validate=True)
        assert 5 <= len(hash_bytes) <= 25
        # The hash is of the image as shown: landscape or portrait as the sizes say.
        assert (thumbhash_aspect_ratio(hash_bytes) > 1) is (size[0] > size[1])
        assert re.fullmatch(r"#[0-9a-f]{6}", body["dominant_color"])
        if colour is not None:
            assert body["dominant_color"] == colour
    assert (metadata["thumbhash"], metadata["dominant_color"]) == (
        summary["thumbhash"],
        summary["dominant_color"],
    )
    if colour == "#148ca0":  # a flat colour: the hash's average is that colour too
        r, g, b, _ = thumbhash_average_rgba(base64.b64decode(summary["thumbhash"]))
        assert abs(r * 255 - 20) <= 8 and abs(g * 255 - 140) <= 8 and abs(b * 255 - 160) <= 8

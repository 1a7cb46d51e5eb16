"""Secrets never reach the logs: a whole request flow, every logger at DEBUG.

Signing key and salt, API keys, the admin key and delete tokens are all used (rightly and
wrongly) through the full app over PostgreSQL and S3, and no log record, formatted as
production formats it, holds any of them. aiohttp's own access log, which would print the
request line and with it a `?delete_token=`, is off in production (`pixgate serve` passes
`access_log=None`), and so here.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from pixgate_signing import UrlBuilder

from config import load_settings
from loadtest.harness import imagegen
from loadtest.harness.s3server import MotoServer
from pixgate.app import create_app
from proxy.logs import KeyValueFormatter
from tests.uploader.conftest import PUBLIC_URL

Client = TestClient[Any, Any]

KEY_HEX = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
SALT_HEX = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
API_SECRET = "upload-secret-Zq8Xw2Lm5Rt9"
ADMIN_KEY = "admin-secret-Kp4Vn7Hs3Jd6"


def secret_forms() -> list[str]:
    """Every spelling in which a configured secret could show up in a log line."""
    key, salt = bytes.fromhex(KEY_HEX), bytes.fromhex(SALT_HEX)
    return [
        KEY_HEX,
        KEY_HEX.upper(),
        SALT_HEX,
        SALT_HEX.upper(),
        repr(key)[2:-1],
        repr(salt)[2:-1],
        API_SECRET,
        ADMIN_KEY,
    ]


def image_form(data: bytes) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("image", data, filename="photo.jpg", content_type="image/jpeg")
    return form


@pytest.fixture
async def app_client(
    pg_url: str, s3_server: MotoServer, s3_bucket: str, aiohttp_client: Any
) -> Client:
    settings = load_settings(
        {
            "PIXGATE_KEY": KEY_HEX,
            "PIXGATE_SALT": SALT_HEX,
            "PIXGATE_STORAGE_URL": f"s3://{s3_bucket}/media",
            "PIXGATE_S3_ENDPOINT_URL": s3_server.endpoint_url,
            "PIXGATE_DATABASE_URL": pg_url,
            "PIXGATE_MIGRATE_ON_START": "true",
            "PIXGATE_PUBLIC_URL": PUBLIC_URL,
            "PIXGATE_API_KEYS": f"app:{API_SECRET}",
            "PIXGATE_ADMIN_KEY": ADMIN_KEY,
            "PIXGATE_LOG_LEVEL": "debug",
        }
    )
    # As `pixgate serve` runs it: without aiohttp's access log (started here, so the
    # client below finds it running).
    server = TestServer(create_app(settings))
    await server.start_server(access_log=None)
    client: Client = await aiohttp_client(server)
    return client


async def upload(client: Client, data: bytes, key: str) -> Any:
    return await client.post(
        "/api/v1/images", data=image_form(data), headers={"Authorization": f"Bearer {key}"}
    )


async def test_secrets_never_appear_in_logs(
    app_client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = app_client
    urls = UrlBuilder("", KEY_HEX, SALT_HEX)
    tokens: list[str] = []

    first = await upload(client, imagegen.camera_jpeg(64, 48), API_SECRET)
    second = await upload(client, imagegen.quadrant_jpeg(40, 30), API_SECRET)
    assert (first.status, second.status) == (201, 201)
    image_id, other_id = (await first.json())["image_id"], (await second.json())["image_id"]
    tokens += [(await first.json())["delete_token"], (await second.json())["delete_token"]]
    assert (await upload(client, imagegen.quadrant_jpeg(8, 8), API_SECRET[:-1] + "x")).status == 401
    assert (await upload(client, imagegen.text_named_as_image(), API_SECRET)).status == 415

    good = urls.path(f"originals/{image_id}", width=20, format="webp")
    statuses = [
        (await client.get(good)).status,
        (await client.get("/" + "A" * 43 + good[44:])).status,
        (await client.get(urls.direct_url(image_id, size="small", ext="jpg"))).status,
        (await client.get(urls.direct_url(image_id, ext="png", width=10))).status,
        (await client.get(urls.direct_url(image_id, ext="png", width=10) + "0")).status,
        (await client.get(f"/api/v1/images/{image_id}/metadata")).status,
        (await client.get("/ready")).status,
        (await client.get("/metrics")).status,
    ]
    assert statuses == [200, 403, 200, 200, 403, 200, 200, 200]

    delete = f"/api/v1/images/{image_id}"
    wrong_token = {"X-Delete-Token": tokens[1]}  # the other image's: bound to its id
    assert (await client.delete(delete, headers=wrong_token)).status == 403
    wrong_admin = {"Authorization": f"Bearer {ADMIN_KEY}x"}
    assert (await client.delete(delete, headers=wrong_admin)).status == 403
    assert (await client.delete(f"{delete}?delete_token={tokens[0]}")).status == 204
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    assert (await client.delete(f"/api/v1/images/{other_id}", headers=admin)).status == 204

    formatter = KeyValueFormatter()
    lines = [formatter.format(record) for record in caplog.records]
    assert any("pixgate.access" in line for line in lines)  # the flow was logged
    leaks = [
        (secret, line) for line in lines for secret in (*secret_forms(), *tokens) if secret in line
    ]
    assert leaks == []

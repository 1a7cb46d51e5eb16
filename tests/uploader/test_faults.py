"""The uploader when its dependencies fail: S3 failing mid-upload (moto behind a fault
proxy) and PostgreSQL stopped and started again mid-run (an own throwaway cluster).

Failures are a clean 503 with Retry-After; nothing is left half-written (no row without its
original, no original without its row); recovery needs no restart of pixgate; the proxy
keeps serving the originals it has while the database is down.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import psycopg
import pytest
from aiohttp.test_utils import TestClient

from config import load_settings
from loadtest.harness import imagegen
from loadtest.harness.pgserver import PostgresCluster, run_restartable_postgres
from loadtest.harness.s3server import MotoServer, s3_client
from pixgate.app import create_app
from tests.faultproxy import FaultProxy
from tests.uploader.conftest import KEY, PUBLIC_URL, SALT, ClientFactory
from tests.uploader.test_api import local, upload

Client = TestClient[Any, Any]
Fault = Callable[[FaultProxy], Awaitable[None]]
PREFIX = "media/originals/"


def stored_objects(s3_server: MotoServer, bucket: str) -> dict[str, bytes]:
    """Every original in the bucket, read straight from moto (not through the fault proxy)."""
    s3 = s3_client(s3_server.endpoint_url)
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=PREFIX).get("Contents", [])
    return {
        item["Key"].removeprefix(PREFIX): s3.get_object(Bucket=bucket, Key=item["Key"])[
            "Body"
        ].read()
        for item in listed
    }


def live_rows(database_url: str) -> dict[str, str]:
    """image_id → sha256 of every live row."""
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(
            "SELECT image_id, sha256 FROM images WHERE deleted_at IS NULL"
        ).fetchall()
    return dict(rows)


def assert_consistent(s3_server: MotoServer, bucket: str, database_url: str) -> dict[str, str]:
    """Every live row has its original, with the bytes it was uploaded with, and every
    original has its row: nothing half-written, nothing lost."""
    objects = stored_objects(s3_server, bucket)
    rows = live_rows(database_url)
    assert set(objects) == set(rows)
    for image_id, sha256 in rows.items():
        assert hashlib.sha256(objects[image_id]).hexdigest() == sha256
    return rows


async def refused_with_503(response: Any, code: str) -> None:
    body = await response.json()
    assert (response.status, body["error"]["code"]) == (503, code)
    assert response.headers["Retry-After"].isdigit()
    assert response.headers["Cache-Control"] == "no-store"


# --- S3 -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(lambda p: p.down(), id="refused"),
        pytest.param(lambda p: p.cut(after=6000, direction="request"), id="cut-mid-upload"),
        pytest.param(lambda p: p.cut(after=200, direction="response"), id="cut-mid-answer"),
        pytest.param(lambda p: p.answer(503), id="503"),
        pytest.param(lambda p: p.delay(5.0), id="slower-than-timeout"),
    ],
)
async def test_storage_failure_mid_upload_is_503_and_leaves_nothing(
    make_uploader: ClientFactory,
    s3_faults: FaultProxy,
    s3_server: MotoServer,
    s3_bucket: str,
    pg_url: str,
    fault: Fault,
) -> None:
    client = await make_uploader(PIXGATE_S3_ENDPOINT_URL=s3_faults.url, PIXGATE_FETCH_TIMEOUT="1.5")
    photo = imagegen.quadrant_jpeg(900, 700)
    assert len(photo) > 12000  # the request cut falls inside the image
    await fault(s3_faults)
    started = time.monotonic()
    await refused_with_503(await upload(client, photo), "storage_unavailable")
    # The failed write, then the clean-up of what it may have left: each within the deadline.
    assert time.monotonic() - started < 2 * 1.5 + 3
    assert assert_consistent(s3_server, s3_bucket, pg_url) == {}

    await s3_faults.passthrough()  # the store is back: the same upload now works
    response = await upload(client, photo)
    assert response.status == 201, await response.text()
    rows = assert_consistent(s3_server, s3_bucket, pg_url)
    assert list(rows.values()) == [hashlib.sha256(photo).hexdigest()]


async def test_upload_cut_once_is_retried(
    make_uploader: ClientFactory,
    s3_faults: FaultProxy,
    s3_server: MotoServer,
    s3_bucket: str,
    pg_url: str,
) -> None:
    client = await make_uploader(PIXGATE_S3_ENDPOINT_URL=s3_faults.url)
    photo = imagegen.quadrant_jpeg(900, 700)
    await s3_faults.cut(after=6000, direction="request", times=1)
    response = await upload(client, photo)
    assert response.status == 201, await response.text()
    assert s3_faults.faulted == 1
    assert len(assert_consistent(s3_server, s3_bucket, pg_url)) == 1


# --- PostgreSQL -----------------------------------------------------------------------------


@pytest.fixture
def cluster() -> Iterator[PostgresCluster]:
    with run_restartable_postgres() as running:
        yield running


@pytest.fixture
def make_app(
    cluster: PostgresCluster, s3_server: MotoServer, s3_bucket: str, aiohttp_client: Any
) -> ClientFactory:
    async def make(**env: str) -> Client:
        settings = load_settings(
            {
                "PIXGATE_KEY": KEY,
                "PIXGATE_SALT": SALT,
                "PIXGATE_STORAGE_URL": f"s3://{s3_bucket}/media",
                "PIXGATE_S3_ENDPOINT_URL": s3_server.endpoint_url,
                "PIXGATE_DATABASE_URL": cluster.url,
                "PIXGATE_MIGRATE_ON_START": "true",
                "PIXGATE_PUBLIC_URL": PUBLIC_URL,
                "PIXGATE_SOURCE_CACHE_BYTES": "0",  # the proxy reads S3 every time
                **env,
            }
        )
        client: Client = await aiohttp_client(create_app(settings))
        return client

    return make


async def test_database_stopped_and_started_mid_run(
    make_app: ClientFactory, cluster: PostgresCluster, s3_server: MotoServer, s3_bucket: str
) -> None:
    client = await make_app(PIXGATE_DB_TIMEOUT="1")
    before = [imagegen.quadrant_jpeg(300 + n, 200) for n in range(2)]
    links, ids = [], []
    for photo in before:
        response = await upload(client, photo)
        assert response.status == 201, await response.text()
        body = await response.json()
        links.append(body["urls"])
        ids.append(body["image_id"])

    cluster.stop()
    during = [imagegen.quadrant_jpeg(400 + n, 200) for n in range(3)]
    started = time.monotonic()
    responses = await asyncio.gather(*(upload(client, photo) for photo in during))
    for response in responses:
        await refused_with_503(response, "db_unavailable")
    assert time.monotonic() - started < 5  # PIXGATE_DB_TIMEOUT, not a hang
    await refused_with_503(await client.get(f"/api/v1/images/{ids[0]}/metadata"), "db_unavailable")
    assert (await client.get("/ready")).status == 503
    # The proxy needs no database: every size of the images it has is served throughout.
    for urls in links:
        for size in ("small", "medium", "original"):
            served = await client.get(local(urls[size]))
            assert served.status == 200, await served.text()

    cluster.start()
    recovered_after = await upload_until_accepted(client, during[0], within=20)
    for photo in during[1:]:
        assert (await upload(client, photo)).status == 201
    assert (await client.get("/ready")).status == 200

    rows = assert_consistent(s3_server, s3_bucket, cluster.url)
    assert len(rows) == len(before) + len(during)
    assert recovered_after < 20


async def upload_until_accepted(client: Client, photo: bytes, *, within: float) -> float:
    """Seconds until an upload is accepted again; every refusal meanwhile is a clean 503."""
    started = time.monotonic()
    while True:
        response = await upload(client, photo)
        if response.status == 201:
            return time.monotonic() - started
        await refused_with_503(response, "db_unavailable")
        assert time.monotonic() - started < within, "uploads did not recover"
        await asyncio.sleep(0.2)

"""The proxy over a failing S3 store: moto behind a fault-injecting TCP proxy.

Persistent faults answer 502/504 quickly with `no-store`; transient ones are retried and
answer 200; when the store comes back the proxy serves again by itself, no restart.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from pixgate_signing import UrlBuilder

from loadtest.harness import imagegen
from loadtest.harness.s3server import MotoServer, s3_client
from tests.faultproxy import FaultProxy
from tests.proxy.conftest import ClientFactory
from tests.proxy.test_http import decoded, error_of

Client = TestClient[Any, Any]
Fault = Callable[[FaultProxy], Awaitable[None]]
SOURCE = "originals/photo.jpg"


@pytest.fixture(scope="module")
def original() -> bytes:
    data = imagegen.quadrant_jpeg(1200, 900)
    assert len(data) > 8000  # so that a cut after 4000 bytes falls inside the body
    return data


@pytest.fixture
async def client(
    make_client: ClientFactory,
    s3_faults: FaultProxy,
    s3_bucket: str,
    s3_server: MotoServer,
    original: bytes,
) -> Client:
    s3_client(s3_server.endpoint_url).put_object(
        Bucket=s3_bucket, Key=f"media/{SOURCE}", Body=original
    )
    return await make_client(
        f"s3://{s3_bucket}/media",
        PIXGATE_S3_ENDPOINT_URL=s3_faults.url,
        PIXGATE_FETCH_TIMEOUT="1.5",
        PIXGATE_FETCH_ATTEMPTS="3",
        PIXGATE_SOURCE_CACHE_BYTES="0",  # every request reads the store
    )


async def get(client: Client, urls: UrlBuilder, width: int) -> Any:
    return await client.get(urls.path(SOURCE, width=width, format="jpeg"))


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        pytest.param(lambda p: p.down(), (502, "storage_error"), id="refused"),
        pytest.param(lambda p: p.reset(), (502, "storage_error"), id="reset"),
        pytest.param(lambda p: p.answer(503), (502, "storage_error"), id="503"),
        pytest.param(lambda p: p.answer(500), (502, "storage_error"), id="500"),
        pytest.param(lambda p: p.cut(after=4000), (502, "storage_error"), id="cut-mid-body"),
        pytest.param(lambda p: p.delay(5.0), (504, "storage_timeout"), id="slower-than-timeout"),
    ],
)
async def test_persistent_fault_is_a_quick_error_then_recovers(
    client: Client,
    urls: UrlBuilder,
    s3_faults: FaultProxy,
    fault: Fault,
    expected: tuple[int, str],
) -> None:
    assert (await get(client, urls, 100)).status == 200
    await fault(s3_faults)
    started = time.monotonic()
    response = await get(client, urls, 101)
    assert await error_of(response) == expected  # JSON, no-store
    assert time.monotonic() - started < 3  # within the 1.5 s deadline, plus a margin
    assert (await client.get("/health")).status == 200

    await s3_faults.passthrough()
    response = await get(client, urls, 102)
    assert response.status == 200, await response.text()
    assert response.headers["Cache-Control"].startswith("public")


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(lambda p: p.answer(503, times=1), id="one-503"),
        pytest.param(lambda p: p.answer(500, times=2), id="two-500s"),
        pytest.param(lambda p: p.reset(times=2), id="two-resets"),
        pytest.param(lambda p: p.cut(after=4000, times=1), id="one-cut-body"),
        pytest.param(lambda p: p.delay(5.0, times=1), id="one-slow-attempt"),
    ],
)
async def test_transient_fault_is_retried(
    client: Client, urls: UrlBuilder, s3_faults: FaultProxy, fault: Fault
) -> None:
    await fault(s3_faults)
    faulted = s3_faults.faulted
    response = await get(client, urls, 120)
    assert response.status == 200, await response.text()
    assert decoded(await response.read()).width == 120
    assert s3_faults.faulted > faulted  # the fault did meet the request


async def test_readiness_follows_the_store(client: Client, s3_faults: FaultProxy) -> None:
    assert (await client.get("/ready")).status == 200
    await s3_faults.down()
    assert (await client.get("/ready")).status == 503
    await s3_faults.passthrough()
    assert (await client.get("/ready")).status == 200

"""PIXGATE_TRANSFORM_TIMEOUT over HTTP: a genuinely slow render is stopped, not waited for."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from pixgate_signing import UrlBuilder

from loadtest.harness import imagegen
from tests.proxy.conftest import ClientFactory
from tests.proxy.test_http import error_of, metric_value

Client = TestClient[Any, Any]


async def test_slow_transform_is_stopped_and_its_slot_freed(
    make_client: ClientFactory, storage_dir: Path, urls: UrlBuilder
) -> None:
    # A 24 MP blur at the largest sigma takes seconds on any machine (4 s on the 2-core one).
    (storage_dir / "originals" / "big.jpg").write_bytes(imagegen.quadrant_jpeg(6000, 4000))
    client = await make_client(
        PIXGATE_CONCURRENCY="1", PIXGATE_QUEUE_LIMIT="4", PIXGATE_TRANSFORM_TIMEOUT="0.3"
    )
    started = time.monotonic()
    slow = await client.get(urls.path("originals/big.jpg", format="webp", options=["bl:100"]))
    assert await error_of(slow) == (503, "transform_timeout")
    assert slow.headers["Retry-After"] == "1"
    assert time.monotonic() - started < 3

    # The slot is held until the thread returns, and libvips stopped: it returns at once,
    # seconds before the blur could have finished.
    assert await in_flight_drops_to_zero(client, within=1.5)
    # One slot only: had the blur kept its thread, this would wait for it to finish.
    started = time.monotonic()
    quick = await client.get(urls.path("originals/quad.jpg", width=50, format="jpeg"))
    assert quick.status == 200
    assert time.monotonic() - started < 1.5

    text = await (await client.get("/metrics")).text()
    assert metric_value(text, "pixgate_transform_timeouts_total") == 1


async def in_flight_drops_to_zero(client: Client, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        text = await (await client.get("/metrics")).text()
        if metric_value(text, "pixgate_transforms_in_flight") == 0:
            return True
        await asyncio.sleep(0.05)
    return False

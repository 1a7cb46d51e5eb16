"""The nginx edge of config/edge in front of a real pixgate: hits, negotiation, purges."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from config import load_settings
from config.edge import EdgeConfig, run_edge
from loadtest.harness import imagegen
from loadtest.harness.ports import free_port
from pixgate.app import create_app
from proxy.keys import METRICS

KEY, SALT = "736563726574", "68656C6C6F"
AVIF = {"Accept": "image/avif,image/webp,image/apng,*/*;q=0.8"}
WEBP = {"Accept": "image/webp,*/*"}


@dataclass(frozen=True, slots=True)
class Stack:
    edge: str
    app: Any  # the pixgate application behind the edge
    http: aiohttp.ClientSession

    def origin_requests(self, route: str) -> float:
        """How many requests pixgate itself answered on `route` (any status)."""
        total = 0.0
        for metric in self.app[METRICS].requests.collect():
            for sample in metric.samples:
                if sample.name.endswith("_total") and sample.labels["route"] == route:
                    total += sample.value
        return total


@pytest.fixture
async def stack(tmp_path: Path, aiohttp_server: Any) -> AsyncIterator[Stack]:
    (tmp_path / "storage").mkdir()
    edge_port = free_port()
    edge = f"http://127.0.0.1:{edge_port}"
    settings = load_settings(
        {
            "PIXGATE_KEY": KEY,
            "PIXGATE_SALT": SALT,
            "PIXGATE_STORAGE_URL": f"file://{tmp_path}/storage",
            "PIXGATE_DATABASE_URL": f"sqlite:///{tmp_path}/pixgate.db",
            "PIXGATE_MIGRATE_ON_START": "true",
            "PIXGATE_PUBLIC_URL": edge,
            "PIXGATE_PURGE_URL": f"{edge}/purge",
        }
    )
    app = create_app(settings)
    server = await aiohttp_server(app)
    # nginx workers drop privileges: their folder must be reachable by other users.
    with tempfile.TemporaryDirectory(prefix="pixgate-edge-") as folder:
        os.chmod(folder, 0o755)
        config = EdgeConfig(f"127.0.0.1:{edge_port}", f"127.0.0.1:{server.port}", Path(folder))
        with run_edge(config):
            async with aiohttp.ClientSession() as http:
                yield Stack(edge, app, http)


async def get(stack: Stack, url: str, headers: dict[str, str]) -> tuple[int, str, bytes, str]:
    async with stack.http.get(url, headers=headers) as response:
        body = await response.read()
        return (
            response.status,
            response.headers.get("X-Cache-Status", ""),
            body,
            response.headers.get("Content-Type", ""),
        )


async def test_edge_caches_negotiates_and_purges(stack: Stack) -> None:
    form = aiohttp.FormData()
    form.add_field("image", imagegen.camera_jpeg(1200, 800), filename="photo.jpg")
    async with stack.http.post(f"{stack.edge}/api/v1/images", data=form) as response:
        assert response.status == 201
        assert response.headers["X-Cache-Status"] == "BYPASS"
        upload = await response.json()
    small = upload["urls"]["small"].removesuffix(".jpg")  # extensionless: negotiated
    assert small.startswith(stack.edge)
    direct_route = "/{name}"  # how pixgate's metrics name the direct-link route

    status, cache, avif_body, content_type = await get(stack, small, AVIF)
    assert (status, cache, content_type) == (200, "MISS", "image/avif")
    origin = stack.origin_requests(direct_route)
    status, cache, again, _ = await get(stack, small, AVIF)
    assert (status, cache, again) == (200, "HIT", avif_body)
    assert stack.origin_requests(direct_route) == origin  # the hit never reached pixgate

    status, cache, webp_body, content_type = await get(stack, small, WEBP)
    assert (status, cache, content_type) == (200, "MISS", "image/webp")
    assert webp_body != avif_body
    assert (await get(stack, small, {"Accept": "image/webp,image/png"}))[1] == "HIT"

    # Concurrent misses for one new URL become one origin request.
    medium = upload["urls"]["medium"]
    before = stack.origin_requests(direct_route)
    results = await asyncio.gather(*(get(stack, medium, AVIF) for _ in range(6)))
    assert {status for status, *_ in results} == {200}
    assert stack.origin_requests(direct_route) == before + 1

    # Errors are never cached.
    missing = f"{stack.edge}/img_00000000000000000000_s.jpg"
    assert [(await get(stack, missing, AVIF))[:2] for _ in range(2)] == [(404, "MISS")] * 2

    async with stack.http.delete(
        f"{stack.edge}/api/v1/images/{upload['image_id']}",
        headers={"X-Delete-Token": upload["delete_token"]},
    ) as response:
        assert response.status == 204
    for headers in (AVIF, WEBP):
        status, cache, *_ = await get(stack, small, headers)
        assert (status, cache) == (404, "MISS")
    assert (await get(stack, medium, AVIF))[0] == 404


async def test_edge_hides_metrics(stack: Stack) -> None:
    async with stack.http.get(f"{stack.edge}/metrics") as response:
        assert response.status == 404

"""Views counted from the real edge's log: N views of an uploaded image through nginx (hits
and misses, two Accept classes, direct links and a signed URL), a 404 and a HEAD that are
not views; `pixgate analytics ingest` run twice over the log and once more after a rotation
finds exactly N in the metadata, and the report the hit ratio the responses showed."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

from loadtest.harness import imagegen
from tests.edge.conftest import AVIF, WEBP, Stack

COMMAND = [sys.executable, "-c", "from pixgate.cli import main; raise SystemExit(main())"]
OTHER = {"Accept": "*/*"}


class Client:
    """Asks the edge and remembers each answer's X-Cache-Status, as nginx logs it."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.cache_statuses: Counter[str] = Counter()
        # run_edge's readiness probe (GET /metrics, 404) is the log's first line.
        self.requests = logged_lines(stack.prefix)
        assert self.requests == 1
        self.cache_statuses["-"] += self.requests  # answered by nginx itself: no cache

    async def ask(self, method: str, url: str, headers: dict[str, str], status: int = 200) -> Any:
        async with self.stack.http.request(method, url, headers=headers) as response:
            body = await response.read()
            assert response.status == status, (url, response.status, body[:200])
            self.requests += 1
            if url.startswith(f"{self.stack.edge}/api/"):
                self.cache_statuses["-"] += 1  # nginx logs no cache status for the API
            else:
                self.cache_statuses[response.headers.get("X-Cache-Status", "-")] += 1
            return body

    def expected_hit_ratio(self) -> float:
        hits, misses = self.cache_statuses["HIT"], self.cache_statuses["MISS"]
        return hits / (hits + misses)


def run(stack: Stack, *arguments: str) -> Any:
    env = {
        **os.environ,
        "PIXGATE_DATABASE_URL": stack.settings.database_url,
        "PIXGATE_STORAGE_URL": stack.settings.storage_url,
    }
    done = subprocess.run(
        [*COMMAND, "analytics", *arguments], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def logged_lines(prefix: Path) -> int:
    return sum(len(path.read_bytes().splitlines()) for path in prefix.glob("access.log*"))


async def wait_for_log(client: Client) -> None:
    """nginx writes a request's line as it finishes it: wait until every one is there."""
    for _ in range(200):
        if logged_lines(client.stack.prefix) >= client.requests:
            break
        await asyncio.sleep(0.05)
    assert logged_lines(client.stack.prefix) == client.requests


async def metadata_views(client: Client, image_id: str) -> int:
    url = f"{client.stack.edge}/api/v1/images/{image_id}/metadata"
    return int(json.loads(await client.ask("GET", url, {}))["views"])


async def test_views_from_the_edge_log_exactly_once(stack: Stack) -> None:
    for _ in range(100):  # run_edge's readiness probe: its line comes as nginx finishes it
        if logged_lines(stack.prefix) == 1:
            break
        await asyncio.sleep(0.05)
    client = Client(stack)
    form = aiohttp.FormData()
    form.add_field("image", imagegen.camera_jpeg(800, 600), filename="photo.jpg")
    async with stack.http.post(f"{stack.edge}/api/v1/images", data=form) as response:
        assert response.status == 201
        upload = await response.json()
        client.requests += 1
        client.cache_statuses["-"] += 1
    image_id = upload["image_id"]
    small = upload["urls"]["small"].removesuffix(".jpg")  # negotiated by Accept
    original = upload["urls"]["original"]
    signed = stack.settings.url_builder(stack.edge).url(f"originals/{image_id}", width=120)

    views = 0
    for url, headers, times in (
        (small, AVIF, 3),  # MISS, HIT, HIT
        (small, WEBP, 2),  # the other Accept class: MISS, HIT
        (upload["urls"]["medium"], AVIF, 1),
        (original, OTHER, 2),
        (signed, WEBP, 2),  # a signed imgproxy-style URL of the uploaded original
    ):
        for _ in range(times):
            await client.ask("GET", url, headers)
            views += 1
    await client.ask("HEAD", small, AVIF)  # not a view
    await client.ask("GET", f"{stack.edge}/img_00000000000000000000_s", AVIF, status=404)
    assert {"HIT", "MISS"} <= set(client.cache_statuses)

    await wait_for_log(client)
    first = run(stack, "ingest", str(stack.prefix / "access.log"))
    assert first["total"]["views"] == views == 10
    assert run(stack, "ingest", str(stack.prefix / "access.log"))["total"]["lines"] == 0
    assert await metadata_views(client, image_id) == views

    # Two more views land in the file before it is rotated, three after.
    for _ in range(2):
        await client.ask("GET", small, AVIF)
        views += 1
    await wait_for_log(client)
    os.rename(stack.prefix / "access.log", stack.prefix / "access.log.1")
    os.kill(stack.nginx_pid, signal.SIGUSR1)  # nginx reopens its log: the logrotate way
    for _ in range(100):
        if (stack.prefix / "access.log").exists():
            break
        await asyncio.sleep(0.05)
    for _ in range(3):
        await client.ask("GET", small, WEBP)
        views += 1
    await wait_for_log(client)
    rotated = run(stack, "ingest", str(stack.prefix / "access.log"))
    assert rotated["total"]["views"] == 5
    assert await metadata_views(client, image_id) == views == 15

    page = await client.ask("GET", f"{stack.edge}/v/{image_id}", {})
    assert b"15 views" in page

    await wait_for_log(client)
    run(stack, "ingest", str(stack.prefix / "access.log"))
    report = run(stack, "report", "--since", "1h", "--json")
    assert report["views"] == views
    assert report["requests"] == client.requests
    assert report["hit_ratio"] == client.expected_hit_ratio()
    assert report["hits"] == client.cache_statuses["HIT"]
    assert set(report["by_accept_class"]) >= {"avif", "webp", "other"}
    assert report["by_status"]["404"]["requests"] == 2  # ours and the readiness probe
    assert report["request_time_ms"]["p99"] is not None
    assert report["storage"]["images"] == 1

"""The real nginx edge of config/edge in front of a real pixgate (aiohttp's test server), for
the edge tests: `stack` starts both; `get` asks the edge."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from config import Settings, load_settings
from config.edge import EdgeConfig, run_edge
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
    settings: Settings
    prefix: Path  # nginx's folder: access.log is in it
    nginx_pid: int

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
        with run_edge(config) as nginx_pid:
            async with aiohttp.ClientSession() as http:
                yield Stack(edge, app, http, settings, Path(folder), nginx_pid)


async def get(stack: Stack, url: str, headers: dict[str, str]) -> tuple[int, str, bytes, str]:
    async with stack.http.get(url, headers=headers) as response:
        body = await response.read()
        return (
            response.status,
            response.headers.get("X-Cache-Status", ""),
            body,
            response.headers.get("Content-Type", ""),
        )

"""Fixtures for HTTP-level proxy tests: a real app on aiohttp's test server, real files."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from pixgate_signing import UrlBuilder

from config import Settings, load_settings
from loadtest.harness import imagegen
from pixgate.app import create_app

KEY, SALT = "736563726574", "68656C6C6F"

# What the local storage of every HTTP test holds, by key.
ORIGINALS: dict[str, Callable[[], bytes]] = {
    "originals/quad.jpg": lambda: imagegen.quadrant_jpeg(400, 300),
    "originals/oriented6.jpg": lambda: imagegen.oriented_jpeg(400, 300, 6),
    "originals/cmyk.jpg": lambda: imagegen.cmyk_jpeg(64, 48, icc=False),
    "originals/alpha.png": lambda: imagegen.alpha_png(64, 48),
    "originals/anim.gif": lambda: imagegen.animated_gif(40, 30, 4),
    "originals/logo.svg": imagegen.svg,
    "originals/broken.jpg": lambda: imagegen.truncated(imagegen.quadrant_jpeg(400, 300), 0.3),
    "originals/text.jpg": imagegen.text_named_as_image,
    "originals/empty.jpg": lambda: b"",
    "originals/dir with space/a@b.jpg": lambda: imagegen.quadrant_jpeg(40, 30),
}

ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture(scope="session")
def original_bytes() -> dict[str, bytes]:
    return {key: make() for key, make in ORIGINALS.items()}


@pytest.fixture
def storage_dir(tmp_path: Path, original_bytes: dict[str, bytes]) -> Path:
    root = tmp_path / "storage"
    for key, data in original_bytes.items():
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def make_settings(storage_url: str, **env: str) -> Settings:
    """Proxy-only settings: the uploader (and its database) has tests of its own."""
    return load_settings(
        {
            "PIXGATE_KEY": KEY,
            "PIXGATE_SALT": SALT,
            "PIXGATE_STORAGE_URL": storage_url,
            "PIXGATE_ROLE": "proxy",
            **env,
        }
    )


@pytest.fixture
def make_client(aiohttp_client: Any, storage_dir: Path) -> ClientFactory:
    """Start an app over `storage_dir` (or `storage_url`) with extra PIXGATE_* settings."""

    async def make(storage_url: str | None = None, **env: str) -> TestClient[Any, Any]:
        settings = make_settings(storage_url or f"file://{storage_dir}", **env)
        client: TestClient[Any, Any] = await aiohttp_client(create_app(settings))
        return client

    return make


@pytest.fixture
async def client(make_client: ClientFactory) -> TestClient[Any, Any]:
    return await make_client()


@pytest.fixture
def urls() -> UrlBuilder:
    """Signs paths for the test app (base URL empty: paths relative to the test server)."""
    return UrlBuilder("", KEY, SALT)


async def raw_get(client: TestClient[Any, Any], target: str) -> tuple[int, bytes]:
    """Send `target` byte for byte (no client-side URL normalisation) and read the answer."""
    server = client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    response = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body

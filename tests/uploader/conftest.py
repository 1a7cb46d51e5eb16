"""Fixtures for upload API tests: the whole app over real PostgreSQL (or SQLite) and S3."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from config import load_settings
from loadtest.harness.s3server import MotoServer
from pixgate.app import create_app

KEY, SALT = "736563726574", "68656C6C6F"
PUBLIC_URL = "http://cdn.example.test"

ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture
def make_uploader(
    pg_url: str, s3_server: MotoServer, s3_bucket: str, aiohttp_client: Any
) -> ClientFactory:
    """The full app (proxy + uploader) on a fresh bucket and a fresh database.

    `aiohttp_client` comes last so the apps close before the database is dropped."""

    async def make(**env: str) -> TestClient[Any, Any]:
        settings = load_settings(
            {
                "PIXGATE_KEY": KEY,
                "PIXGATE_SALT": SALT,
                "PIXGATE_STORAGE_URL": f"s3://{s3_bucket}/media",
                "PIXGATE_S3_ENDPOINT_URL": s3_server.endpoint_url,
                "PIXGATE_DATABASE_URL": pg_url,
                "PIXGATE_MIGRATE_ON_START": "true",
                "PIXGATE_PUBLIC_URL": PUBLIC_URL,
                **env,
            }
        )
        client: TestClient[Any, Any] = await aiohttp_client(create_app(settings))
        return client

    return make


@pytest.fixture
async def api(make_uploader: ClientFactory) -> TestClient[Any, Any]:
    return await make_uploader()

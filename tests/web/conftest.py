"""Fixtures for the web pages: the whole app (proxy + uploader) on a real loopback port over
real PostgreSQL and moto S3, headless Chromium, and a plain HTTP client."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, BrowserContext

from loadtest.harness.s3server import MotoServer
from tests.web.harness import BrowserUnavailable, Site, chromium, serve

SiteFactory = Callable[..., Awaitable[Site]]
ContextFactory = Callable[..., Awaitable[BrowserContext]]

# Generous for a 2-core machine rendering AVIF, short enough to fail a stuck test quickly.
BROWSER_TIMEOUT_MS = 20_000


@pytest.fixture
async def make_site(
    pg_url: str, s3_server: MotoServer, s3_bucket: str
) -> AsyncIterator[SiteFactory]:
    """Starts pixgate on a fresh bucket and database; `make_site(PIXGATE_X="...")` adds or
    overrides settings. Every site started is stopped after the test."""
    async with contextlib.AsyncExitStack() as stack:

        async def make(**env: str) -> Site:
            settings = {
                "PIXGATE_STORAGE_URL": f"s3://{s3_bucket}/media",
                "PIXGATE_S3_ENDPOINT_URL": s3_server.endpoint_url,
                "PIXGATE_DATABASE_URL": pg_url,
                **env,
            }
            return await stack.enter_async_context(serve(settings))

        yield make


@pytest.fixture
async def site(make_site: SiteFactory) -> Site:
    return await make_site()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Headless Chromium; a browser that cannot start fails the test with the reason."""
    async with contextlib.AsyncExitStack() as stack:
        try:
            launched = await stack.enter_async_context(chromium())
        except BrowserUnavailable as error:
            pytest.fail(str(error), pytrace=False)
        yield launched


@pytest.fixture
def new_context(browser: Browser) -> ContextFactory:
    """A fresh browser profile (its own local storage): `await new_context(width=390)`."""

    async def make(
        width: int = 1280, height: int = 800, permissions: list[str] | None = None
    ) -> BrowserContext:
        context = await browser.new_context(
            viewport={"width": width, "height": height},
            device_scale_factor=1,
            permissions=permissions or [],
        )
        context.set_default_timeout(BROWSER_TIMEOUT_MS)
        return context

    return make


async def upload_image(
    http: aiohttp.ClientSession, site: Site, data: bytes, **fields: str
) -> dict[str, Any]:
    """Upload through the API (not the page): the JSON answer."""
    form = aiohttp.FormData()
    form.add_field("image", data, filename="photo.jpg", content_type="image/jpeg")
    for name, value in fields.items():
        form.add_field(name, value)
    async with http.post(f"{site.base_url}/api/v1/images", data=form) as response:
        assert response.status == 201, await response.text()
        body: dict[str, Any] = await response.json()
        return body

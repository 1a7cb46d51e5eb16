"""The whole pixgate app on a real loopback TCP port, and headless Chromium to look at it.

Shared by the browser tests (tests/web/conftest.py) and the screenshot command
(`python -m tests.web.screenshots`). Chromium is Debian's (`/usr/bin/chromium`), driven by
Playwright's async API in the test's own event loop; Playwright never downloads a browser.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

from aiohttp import web
from playwright.async_api import Browser, async_playwright

from config import Settings, load_settings
from pixgate.app import create_app

HOST = "127.0.0.1"
KEY, SALT = "736563726574", "68656C6C6F"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
INSTALL_HINT = (
    "install Debian's chromium and chromium-driver packages: `make browser` "
    "(as root: apt-get install chromium chromium-driver)"
)


class BrowserUnavailable(RuntimeError):
    """Headless Chromium is missing or does not start."""


@dataclass(frozen=True, slots=True)
class Site:
    """A running pixgate listening at `base_url`, which is also its PIXGATE_PUBLIC_URL (so
    links point here) unless the environment given to `serve` names another."""

    base_url: str
    settings: Settings
    app: web.Application


@contextlib.asynccontextmanager
async def serve(env: Mapping[str, str]) -> AsyncIterator[Site]:
    """Run `create_app` over `env` (plus a test key) on a loopback port chosen by the OS.

    The socket is bound before the settings are built, so PIXGATE_PUBLIC_URL names the real
    port (no race for a "free" port); an explicit PIXGATE_PUBLIC_URL in `env` wins."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind((HOST, 0))
        base_url = f"http://{HOST}:{listener.getsockname()[1]}"
        settings = load_settings(
            {
                "PIXGATE_KEY": KEY,
                "PIXGATE_SALT": SALT,
                "PIXGATE_PUBLIC_URL": base_url,
                "PIXGATE_MIGRATE_ON_START": "true",
                **env,
            }
        )
        app = create_app(settings)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.SockSite(runner, listener).start()
            yield Site(base_url, settings, app)
        finally:
            await runner.cleanup()
    finally:
        listener.close()


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Headless Chromium from the OS, with a fresh profile (Playwright makes a temporary
    user-data-dir per launch and removes it). BrowserUnavailable says why it cannot start."""
    if not os.access(CHROMIUM, os.X_OK):
        raise BrowserUnavailable(f"{CHROMIUM} not found; {INSTALL_HINT}")
    async with async_playwright() as playwright:
        try:
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM, args=list(CHROMIUM_ARGS), headless=True, timeout=60_000
            )
        except Exception as error:  # Playwright's errors carry Chromium's own output
            raise BrowserUnavailable(f"{CHROMIUM} did not start: {error}") from error
        try:
            yield browser
        finally:
            await browser.close()

"""The application factory: the core, plus the routes of the roles `settings.role` asks for."""

from __future__ import annotations

from aiohttp import web

from config import Settings
from proxy.app import DEFAULT_CLIENT_MAX_SIZE, add_proxy_routes, core_app


def create_app(settings: Settings) -> web.Application:
    """The pixgate application for `settings.role`: the proxy, the uploader, or both.

    A proxy-only process never imports the uploader (nor its database driver)."""
    if settings.role not in ("all", "uploader"):
        app = core_app(settings, client_max_size=DEFAULT_CLIENT_MAX_SIZE)
    else:
        from uploader.app import client_max_size, setup_uploader

        app = core_app(settings, client_max_size=client_max_size(settings.max_upload_bytes))
        setup_uploader(app)
    if settings.role in ("all", "proxy"):
        add_proxy_routes(app)
    return app

"""The web pages of the uploader: an upload page and a page per image.

`setup_web(app)` registers ``/``, ``/v/{image_id}`` and ``/static/{name}``; call it before
the proxy's catch-all route so these paths reach the pages.
"""

from __future__ import annotations

from aiohttp import web

from proxy.keys import SETTINGS
from uploader.web import pages
from uploader.web.static import StaticFiles
from uploader.web.templates import page_templates


def setup_web(app: web.Application) -> None:
    static = StaticFiles.load()
    app[pages.WEB] = pages.WebPages(
        templates=page_templates(static),
        static=static,
        csp=pages.content_security_policy(app[SETTINGS].base_url),
    )
    app.router.add_get("/", pages.upload_page)
    app.router.add_get("/v/{image_id}", pages.image_page)
    app.router.add_get("/static/{name}", pages.static_file)

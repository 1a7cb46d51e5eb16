"""The web pages: `GET /` (upload), `GET /v/{image_id}` (one image), `GET /static/{name}`.

Server-rendered HTML under a strict Content-Security-Policy: no inline script or style,
scripts and styles from our own origin only, images also from PIXGATE_PUBLIC_URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jinja2
from aiohttp import web

from proxy.errors import NotFound
from proxy.ids import is_image_id
from proxy.keys import SETTINGS
from uploader.keys import API_KEYS, UPLOADS
from uploader.web import imageview
from uploader.web.static import StaticFiles

STATIC_MAX_AGE = 31536000


@dataclass(frozen=True, slots=True)
class WebPages:
    templates: jinja2.Environment
    static: StaticFiles
    csp: str  # Content-Security-Policy of every page


WEB = web.AppKey("web_pages", WebPages)


def content_security_policy(base_url: str) -> str:
    """Our own origin for everything; images may also come from the public base URL (a CDN)."""
    parts = urlsplit(base_url)
    host = parts.netloc.rpartition("@")[2]  # never user:password@ in a header
    public_origin = f"{parts.scheme}://{host}".lower()
    return "; ".join(
        (
            "default-src 'self'",
            f"img-src 'self' {public_origin} data: blob:",
            "script-src 'self'",
            "style-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "form-action 'self'",
        )
    )


def _page(
    pages: WebPages, template: str, values: Mapping[str, Any], status: int = 200
) -> web.Response:
    return web.Response(
        text=pages.templates.get_template(template).render(values),
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers={
            "Content-Security-Policy": pages.csp,
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store" if status >= 400 else "no-cache",
        },
    )


def not_found_page(pages: WebPages) -> web.Response:
    """The HTML 404 of the pages (the API's errors stay JSON, from the error middleware)."""
    return _page(pages, "not-found.html", {}, status=404)


async def upload_page(request: web.Request) -> web.StreamResponse:
    """GET /: choose, drop or paste an image; it is uploaded with progress shown."""
    max_bytes = request.app[SETTINGS].max_upload_bytes
    values = {
        "max_bytes": max_bytes,
        "max_size": imageview.human_bytes(max_bytes),
        "api_key_required": request.app[API_KEYS].required,
    }
    return _page(request.app[WEB], "upload.html", values)


async def image_page(request: web.Request) -> web.StreamResponse:
    """GET /v/{image_id}: the image, its links and embed codes, details, EXIF, delete."""
    pages = request.app[WEB]
    image_id = request.match_info["image_id"]
    if not is_image_id(image_id):
        return not_found_page(pages)
    try:
        record = await request.app[UPLOADS].metadata(image_id)
    except NotFound:
        return not_found_page(pages)
    views = await request.app[UPLOADS].views(image_id)
    values = imageview.page_values(request.app[SETTINGS].url_builder(), record, views=views)
    return _page(pages, "image.html", values)


async def static_file(request: web.Request) -> web.StreamResponse:
    """GET /static/{name}.{hash}.{ext}: immutable, cached for a year."""
    found = request.app[WEB].static.get(request.match_info["name"])
    if found is None:
        raise NotFound("no such static file")
    return web.Response(
        body=found.body,
        content_type=found.content_type,
        charset="utf-8",
        headers={
            "Cache-Control": f"public, max-age={STATIC_MAX_AGE}, immutable",
            "X-Content-Type-Options": "nosniff",
        },
    )

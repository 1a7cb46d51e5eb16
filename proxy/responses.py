"""Every HTTP response pixgate builds: images, 304s and the JSON errors."""

from __future__ import annotations

from aiohttp import web

from proxy.errors import PixgateError
from proxy.service import ImageResult, NotModified

# An uploaded file must never run as a page, whatever bytes it holds.
SAFETY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}


# Frames an animated response left out of its source; absent when none were.
FRAMES_DROPPED = "X-Pixgate-Frames-Dropped"


def _cache_headers(result: ImageResult | NotModified) -> dict[str, str]:
    headers = {
        "ETag": result.etag,
        "Cache-Control": f"public, max-age={result.max_age}, immutable",
        **SAFETY_HEADERS,
    }
    if result.negotiated:
        headers["Vary"] = "Accept"
    if result.cache_tag:
        # Purge-by-tag on CDNs that offer it (Cloudflare Cache-Tag, Fastly Surrogate-Key).
        headers["Cache-Tag"] = headers["Surrogate-Key"] = result.cache_tag
    return headers


def image_response(result: ImageResult) -> web.Response:
    headers = _cache_headers(result)
    headers["Content-Type"] = result.content_type
    if result.frames_dropped:
        # Only sources that are not uploads are capped (PIXGATE_MAX_ANIMATION_FRAMES).
        headers[FRAMES_DROPPED] = str(result.frames_dropped)
    return web.Response(body=result.body, headers=headers)


def not_modified_response(result: NotModified) -> web.Response:
    return web.Response(status=304, headers=_cache_headers(result))


def error_response(error: PixgateError) -> web.Response:
    """The one place errors become HTTP: short JSON, never cached by a CDN."""
    body = {"error": {"code": error.code, "message": error.message}}
    headers = {"Cache-Control": "no-store", **SAFETY_HEADERS, **error.headers()}
    return web.json_response(body, status=error.status, headers=headers)

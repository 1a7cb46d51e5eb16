"""HTTP handlers: thin adapters between aiohttp and the service layer."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from proxy.errors import NotReady, PixgateError
from proxy.keys import IMAGES, METRICS, READINESS
from proxy.middleware import CACHE_OUTCOME
from proxy.responses import error_response, image_response, not_modified_response
from proxy.service import NotModified, Variant


async def transform(request: web.Request) -> web.StreamResponse:
    """`/{signature}/{options}/.../{source}`: the imgproxy-style grammar."""
    images = request.app[IMAGES]
    return await _respond(request, images.signed_variant(request.raw_path))


async def direct(request: web.Request) -> web.StreamResponse:
    """`/img_..._m.jpg` and its signed query form: links to uploaded images."""
    images = request.app[IMAGES]
    raw_path, _, raw_query = request.raw_path.partition("?")
    return await _respond(request, images.direct_variant(raw_path, raw_query))


async def _respond(request: web.Request, variant: Variant) -> web.StreamResponse:
    result = await request.app[IMAGES].respond(
        variant, request.headers.get("Accept", ""), request.headers.get("If-None-Match")
    )
    if isinstance(result, NotModified):
        request[CACHE_OUTCOME] = "not-modified"
        return not_modified_response(result)
    request[CACHE_OUTCOME] = result.source_outcome
    return image_response(result)


async def health(request: web.Request) -> web.StreamResponse:
    return web.json_response({"status": "ok"}, headers={"Cache-Control": "no-store"})


async def ready(request: web.Request) -> web.StreamResponse:
    """Ready when storage (and the database, with the uploader) answer; a load balancer
    stops sending traffic otherwise."""
    for check in request.app[READINESS]:
        try:
            await check()
        except PixgateError as error:
            return error_response(NotReady(f"not ready: {error.message}"))
    return web.json_response({"status": "ready"}, headers={"Cache-Control": "no-store"})


async def metrics(request: web.Request) -> web.StreamResponse:
    body = generate_latest(request.app[METRICS].registry)
    response = web.Response(body=body, headers={"Cache-Control": "no-store"})
    response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    return response

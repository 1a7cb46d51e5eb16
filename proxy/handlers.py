"""HTTP handlers: thin adapters between aiohttp and the service layer."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from proxy.errors import NotReady, PixgateError
from proxy.keys import IMAGES, METRICS, SETTINGS, STORAGES
from proxy.middleware import CACHE_OUTCOME
from proxy.responses import error_response, image_response, not_modified_response
from proxy.service import NotModified
from proxy.sources import parse_storage_url


async def transform(request: web.Request) -> web.StreamResponse:
    result = await request.app[IMAGES].respond(
        request.raw_path,
        request.headers.get("Accept", ""),
        request.headers.get("If-None-Match"),
    )
    if isinstance(result, NotModified):
        request[CACHE_OUTCOME] = "not-modified"
        return not_modified_response(result)
    request[CACHE_OUTCOME] = result.source_outcome
    return image_response(result)


async def health(request: web.Request) -> web.StreamResponse:
    return web.json_response({"status": "ok"}, headers={"Cache-Control": "no-store"})


async def ready(request: web.Request) -> web.StreamResponse:
    """Ready when the storage answers; a load balancer stops sending traffic otherwise."""
    settings = request.app[SETTINGS]
    root = parse_storage_url(settings.storage_url)
    try:
        await request.app[STORAGES][root.scheme].check(root)
    except PixgateError as error:
        return error_response(NotReady(f"storage not ready: {error.message}"))
    return web.json_response({"status": "ready"}, headers={"Cache-Control": "no-store"})


async def metrics(request: web.Request) -> web.StreamResponse:
    body = generate_latest(request.app[METRICS].registry)
    response = web.Response(body=body, headers={"Cache-Control": "no-store"})
    response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    return response

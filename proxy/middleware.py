"""Request middleware: request id, access log, metrics, and errors → JSON."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web

from proxy.errors import PixgateError, RoutingError
from proxy.keys import METRICS
from proxy.responses import SAFETY_HEADERS, error_response

access_log = logging.getLogger("pixgate.access")
error_log = logging.getLogger("pixgate.error")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Set by handlers on the request so the access log can say where the original came from.
CACHE_OUTCOME = web.RequestKey("cache_outcome", str)


def _route_name(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost: gives every request an id, one access-log line and its metrics."""
    request_id = request.headers.get("X-Request-Id", "")[:64] or uuid.uuid4().hex
    started = time.perf_counter()
    response = await handler(request)
    response.headers["X-Request-Id"] = request_id
    # Every answer, JSON included, is refused as a page; the web pages set their own policy.
    for name, value in SAFETY_HEADERS.items():
        response.headers.setdefault(name, value)
    elapsed = time.perf_counter() - started
    route, status = _route_name(request), str(response.status)
    metrics = request.app[METRICS]
    metrics.requests.labels(route, status).inc()
    metrics.request_seconds.labels(route, status).observe(elapsed)
    access_log.info(
        "request",
        extra={
            "request_id": request_id,
            "method": request.method,
            "path": request.path[:200],
            "status": response.status,
            "duration_ms": round(elapsed * 1000, 1),
            "cache": request.get(CACHE_OUTCOME, "-"),
            "bytes": response.content_length or 0,
        },
    )
    return response


@web.middleware
async def errors_to_json(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turns every failure into a short JSON response; nothing else builds error bodies."""
    try:
        return await handler(request)
    except PixgateError as error:
        return error_response(error)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        return error_response(RoutingError(error.status, error.reason or "error"))
    except Exception:
        error_log.exception("unhandled error", extra={"path": request.path[:200]})
        return error_response(PixgateError("internal error"))

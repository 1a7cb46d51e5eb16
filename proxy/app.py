"""The proxy core's part of the aiohttp application.

`core_app` builds an application with what every role needs (settings, metrics, middlewares,
storage, the transform pool, the source reader, /health, /ready, /metrics); `add_proxy_routes`
adds the transform and direct-link routes. The composition root (`pixgate.app`) decides which
roles run and adds the uploader's part; this module knows nothing of it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from config import Settings
from config.storage_url import parse_storage_url
from proxy import handlers
from proxy.animation import animation_limits
from proxy.direct import ROUTE_PATTERN
from proxy.drain import InFlight, track
from proxy.keys import IMAGES, IN_FLIGHT, METRICS, POOL, READER, READINESS, SETTINGS, STORAGES
from proxy.metrics import Metrics
from proxy.middleware import errors_to_json, observe
from proxy.option_parsers import presets_from_setting
from proxy.options import AUTO_QUALITY, OutputFormat
from proxy.pipeline import PipelineConfig
from proxy.plan import EncoderDefaults, Limits
from proxy.pool import TransformPool
from proxy.render import configure_libvips
from proxy.service import ImageService
from proxy.source_cache import SourceReader
from proxy.storage import open_storages
from proxy.storage.base import StorageSettings

# aiohttp refuses longer request lines itself; this bounds what we parse.
MAX_LINE_SIZE = 8190
# The proxy only answers GETs: aiohttp's own default bounds any body sent to it.
DEFAULT_CLIENT_MAX_SIZE = 1024**2


def pipeline_config(settings: Settings) -> PipelineConfig:
    quality = {fmt: settings.quality for fmt in OutputFormat}
    quality.update({OutputFormat(name): q for name, q in settings.format_quality})
    auto = AUTO_QUALITY  # None in the settings: `auto`
    return PipelineConfig(
        limits=Limits(
            max_output_pixels=settings.max_output_pixels,
            max_animation_frames=settings.max_animation_frames,
            max_animation_pixels=settings.max_animation_pixels,
        ),
        encoder=EncoderDefaults(
            quality=tuple((fmt, auto if q is None else q) for fmt, q in quality.items()),
            webp_effort=settings.webp_effort,
            avif_effort=settings.avif_effort,
            quality_target=settings.quality_target,
            auto_max_encodes=settings.auto_max_encodes,
        ),
        max_src_pixels=settings.max_src_pixels,
        animation=animation_limits(settings),
    )


def _file_roots(settings: Settings) -> tuple[str, ...]:
    urls = (settings.storage_url, *settings.allowed_sources)
    return tuple(parse_storage_url(u).key for u in urls if u.startswith("file://"))


async def _services(app: web.Application) -> AsyncIterator[None]:
    """Long-lived clients: opened once per process, closed on shutdown."""
    settings = app[SETTINGS]
    storage_settings = StorageSettings(
        s3_endpoint_url=settings.s3_endpoint_url,
        timeout_seconds=settings.fetch_timeout,
        max_attempts=settings.fetch_attempts,
    )
    configure_libvips(concurrency=settings.vips_threads)
    async with open_storages(
        settings.storage_schemes, storage_settings, _file_roots(settings)
    ) as storages:
        pool = TransformPool(
            settings.concurrency,
            settings.queue_limit,
            app[METRICS],
            timeout=settings.transform_timeout,
        )
        reader = SourceReader(
            storages,
            max_bytes=settings.max_src_bytes,
            cache_bytes=settings.source_cache_bytes,
            cache_ttl=settings.source_cache_ttl,
            metrics=app[METRICS],
        )
        root = parse_storage_url(settings.storage_url)
        app[STORAGES] = storages
        app[POOL] = pool
        app[READER] = reader
        app[IMAGES] = ImageService(settings, reader, pool, pipeline_config(settings), app[METRICS])
        app[READINESS].append(lambda: storages[root.scheme].check(root))
        try:
            yield
        finally:
            pool.close()


def core_app(
    settings: Settings, *, client_max_size: int = DEFAULT_CLIENT_MAX_SIZE
) -> web.Application:
    """An application with the core services of every role; routes of a role come next."""
    presets_from_setting(settings.presets_text)  # a bad PIXGATE_PRESETS stops start-up here
    in_flight = InFlight()
    app = web.Application(
        middlewares=[track(in_flight), observe, errors_to_json],
        client_max_size=client_max_size,
    )
    app[SETTINGS] = settings
    app[IN_FLIGHT] = in_flight
    app[METRICS] = Metrics()
    app[READINESS] = []
    app.cleanup_ctx.append(_services)
    app.router.add_get("/health", handlers.health)
    app.router.add_get("/ready", handlers.ready)
    app.router.add_get("/metrics", handlers.metrics)
    return app


def add_proxy_routes(app: web.Application) -> None:
    """The direct links and the signed transform URLs; the catch-all route comes last, so
    call this after every other role has added its routes."""
    app.router.add_get(f"/{{name:{ROUTE_PATTERN}}}", handlers.direct)
    app.router.add_get("/{target:.+}", handlers.transform)

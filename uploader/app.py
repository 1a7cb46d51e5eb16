"""Adds the upload API to a pixgate application."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from config.storage_url import parse_storage_url
from proxy.animation import animation_limits
from proxy.errors import Unavailable
from proxy.keys import METRICS, POOL, READER, READINESS, SETTINGS, STORAGES, ReadinessCheck
from proxy.sources import resolve_source
from proxy.storage.base import SourceLocation
from uploader import handlers
from uploader.auth import ApiKeys
from uploader.keys import API_KEYS, RATE_LIMITER, REPOSITORY, UPLOADS
from uploader.migrate import migrate
from uploader.purge import EdgePurger
from uploader.ratelimit import RateLimiter
from uploader.repository import ImageRepository, RepositoryUnavailable, open_repository
from uploader.service import UploadLimits, UploadService
from uploader.tokens import DeleteTokens
from uploader.web import setup_web

log = logging.getLogger("pixgate.uploader")

_PURGE_TIMEOUT_SECONDS = 5.0
# Room for the multipart framing around an image of PIXGATE_MAX_UPLOAD_BYTES.
_BODY_OVERHEAD_BYTES = 1024 * 1024


def client_max_size(max_upload_bytes: int) -> int:
    return max_upload_bytes + _BODY_OVERHEAD_BYTES


async def _uploads(app: web.Application) -> AsyncIterator[None]:
    """Opens the metadata repository after the core services (storage, pool) are up."""
    settings = app[SETTINGS]
    if settings.migrate_on_start or settings.dev_mode:
        applied = await migrate(settings.database_url)
        log.info("migrations applied", extra={"applied": ",".join(applied) or "none"})
    async with (
        open_repository(
            settings.database_url,
            pool_size=settings.db_pool_size,
            connect_timeout=settings.db_timeout,
        ) as repo,
        _edge_purger(settings.purge_url) as purger,
    ):
        root = parse_storage_url(settings.storage_url)

        def locate(key: str) -> SourceLocation:
            return resolve_source(key, settings.storage_url, settings.allowed_sources)

        app[REPOSITORY] = repo
        app[READINESS].append(_repository_check(repo))
        app[UPLOADS] = UploadService(
            storage=app[STORAGES][root.scheme],
            locate=locate,
            repository=repo,
            pool=app[POOL],
            tokens=DeleteTokens([pair.key for pair in settings.key_pairs]),
            limits=UploadLimits(
                settings.max_src_pixels, animation_limits(settings), settings.keep_gps
            ),
            metrics=app[METRICS],
            forget_source=app[READER].forget,
            purge_edge=None if purger is None else purger.purge,
        )
        yield


@contextlib.asynccontextmanager
async def _edge_purger(purge_url: str | None) -> AsyncIterator[EdgePurger | None]:
    if purge_url is None:
        yield None
        return
    timeout = aiohttp.ClientTimeout(total=_PURGE_TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        yield EdgePurger(purge_url, session)


def _repository_check(repo: ImageRepository) -> ReadinessCheck:
    async def check() -> None:
        try:
            await repo.check()
        except RepositoryUnavailable:
            raise Unavailable("metadata database unavailable", code="db_unavailable") from None

    return check


def setup_uploader(app: web.Application) -> None:
    settings = app[SETTINGS]
    app[API_KEYS] = ApiKeys(settings.api_keys)
    app[RATE_LIMITER] = RateLimiter(*settings.upload_rate)
    app.cleanup_ctx.append(_uploads)
    app.router.add_post("/api/v1/images", handlers.upload)
    app.router.add_get("/api/v1/images/{image_id}/metadata", handlers.metadata)
    app.router.add_delete("/api/v1/images/{image_id}", handlers.delete)
    setup_web(app)

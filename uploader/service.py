"""Uploads and deletes: the crash-safe order of storage writes and metadata rows.

Upload: inspect → dedup lookup → write the original → insert the row. The row only
becomes visible once the original is complete; if the row cannot be written, or the write's
answer was lost, the original is removed again (and what a crash or a second failure leaves
behind, `pixgate reap` collects). Delete: remove the original, then hide the row, so a failure
in between leaves a row that a retried DELETE finishes, never a row serving nothing
forever or an original no one can delete.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TypeVar

from proxy.animation import AnimationLimits
from proxy.errors import Forbidden, NotFound, PixgateError, Unavailable
from proxy.ids import storage_key_for
from proxy.metrics import Metrics
from proxy.pool import TransformPool
from proxy.storage.base import SourceLocation, Storage
from uploader.ids import new_image_id
from uploader.inspect import Inspected, inspect_upload
from uploader.models import ImageRecord
from uploader.repository import DuplicateImage, ImageRepository, RepositoryUnavailable
from uploader.tokens import DeleteTokens

log = logging.getLogger("pixgate.uploader")

T = TypeVar("T")

CONTENT_TYPES = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "avif": "image/avif",
    "heif": "image/heif",
}


@dataclass(frozen=True, slots=True)
class Upload:
    record: ImageRecord
    created: bool  # False when identical bytes of the same owner already existed


@dataclass(frozen=True, slots=True)
class UploadLimits:
    max_pixels: int
    animation: AnimationLimits
    keep_gps: bool


class UploadService:
    def __init__(
        self,
        *,
        storage: Storage,
        locate: Callable[[str], SourceLocation],
        repository: ImageRepository,
        pool: TransformPool,
        tokens: DeleteTokens,
        limits: UploadLimits,
        metrics: Metrics,
        forget_source: Callable[[SourceLocation], None],
        purge_edge: Callable[[str], Awaitable[object]] | None = None,
    ) -> None:
        self._storage = storage
        self._locate = locate
        self._repository = repository
        self._pool = pool
        self._tokens = tokens
        self._limits = limits
        self._metrics = metrics
        self._forget_source = forget_source
        self._purge_edge = purge_edge

    def delete_token(self, image_id: str) -> str:
        return self._tokens.issue(image_id)

    async def upload(
        self, data: bytes, *, owner: str | None, title: str, description: str
    ) -> Upload:
        started = time.perf_counter()
        try:
            result = await self._upload(data, owner=owner, title=title, description=description)
        except PixgateError as error:
            outcome = "failed" if error.status >= 500 else "rejected"
            self._metrics.uploads.labels(outcome, error.code).inc()
            raise
        self._metrics.uploads.labels("accepted" if result.created else "duplicate", "").inc()
        self._metrics.upload_seconds.observe(time.perf_counter() - started)
        self._metrics.upload_bytes.observe(len(data))
        return result

    async def _upload(
        self, data: bytes, *, owner: str | None, title: str, description: str
    ) -> Upload:
        inspected, sha256 = await self._pool.run(_inspect_and_hash, data, self._limits)
        existing = await _repository_call(self._repository.find_by_sha256(owner, sha256))
        if existing is not None:
            return Upload(await self._fill_placeholder(existing, inspected), created=False)
        image_id = new_image_id()
        placeholder = inspected.placeholder
        record = ImageRecord(
            image_id=image_id,
            owner=owner,
            title=title,
            description=description,
            width=inspected.width,
            height=inspected.height,
            format=inspected.format,
            size_bytes=len(data),
            sha256=sha256,
            storage_key=storage_key_for(image_id),
            processing_status="completed",
            exif=inspected.exif,
            thumbhash=None if placeholder is None else placeholder.thumbhash,
            dominant_color=None if placeholder is None else placeholder.dominant_color,
            frames=inspected.pages,
            duration_ms=inspected.duration_ms,
            loop=inspected.loop,
        )
        # The write and the row commit together or not at all, even if the client goes away.
        return await _finish_even_if_cancelled(self._store(record, data))

    async def _fill_placeholder(self, record: ImageRecord, inspected: Inspected) -> ImageRecord:
        """`record` (a live row with these bytes), with the placeholder just computed stored
        if the row predates placeholders: a re-upload does what the backfill would."""
        placeholder = inspected.placeholder
        if record.thumbhash is not None or placeholder is None:
            return record
        stored = await _repository_call(
            self._repository.set_placeholder(
                record.image_id, placeholder.thumbhash, placeholder.dominant_color
            )
        )
        if not stored:  # filled meanwhile, or deleted: the row as it now is
            return await _repository_call(self._repository.get(record.image_id)) or record
        return replace(
            record, thumbhash=placeholder.thumbhash, dominant_color=placeholder.dominant_color
        )

    async def _store(self, record: ImageRecord, data: bytes) -> Upload:
        location = self._locate(record.storage_key)
        try:
            await self._storage.put(location, data, CONTENT_TYPES[record.format])
        except PixgateError as error:
            log.warning("upload storage write failed", extra={"reason": error.message})
            # A write whose answer was lost (timeout, connection cut) may still have landed.
            await self._remove_quietly(location)
            raise Unavailable(
                "storage is unavailable; retry later", code="storage_unavailable"
            ) from None
        try:
            stored = await self._repository.insert(record)
        except DuplicateImage as duplicate:  # the same bytes raced in from the same owner
            await self._remove_quietly(location)
            return Upload(duplicate.existing, created=False)
        except RepositoryUnavailable:
            await self._remove_quietly(location)
            raise _unavailable_from_repository() from None
        except BaseException:
            await self._remove_quietly(location)
            raise
        return Upload(stored, created=True)

    async def _remove_quietly(self, location: SourceLocation) -> None:
        try:
            await self._storage.delete(location)
        except PixgateError as error:
            # An object with no row is invisible; the reaper removes it later.
            log.error(
                "could not remove orphaned original",
                extra={"key": location.key, "reason": error.message},
            )

    async def metadata(self, image_id: str) -> ImageRecord:
        record = await _repository_call(self._repository.get(image_id))
        if record is None:
            raise NotFound("no such image", code="not_found")
        return record

    async def views(self, image_id: str) -> int:
        """Views of `image_id` counted from the edge's logs (`pixgate analytics ingest`)."""
        return await _repository_call(self._repository.total_views(image_id))

    async def delete(self, image_id: str, *, token: str | None, admin: bool) -> None:
        record = await self.metadata(image_id)
        if not admin and not (token and self._tokens.verify(token, image_id)):
            self._metrics.deletes.labels("forbidden").inc()
            raise Forbidden("a valid delete token or the admin key is required")
        location = self._locate(record.storage_key)
        try:
            await self._storage.delete(location)
        except PixgateError:
            self._metrics.deletes.labels("failed").inc()
            raise Unavailable(
                "storage is unavailable; retry the delete", code="storage_unavailable"
            ) from None
        self._forget_source(location)
        await _repository_call(self._repository.mark_deleted(image_id, datetime.now(UTC)))
        if self._purge_edge is not None:
            await self._purge_edge(image_id)
        self._metrics.deletes.labels("deleted").inc()


def _inspect_and_hash(data: bytes, limits: UploadLimits) -> tuple[Inspected, str]:
    """Both read every byte, so both run in the pool (hashlib releases the GIL)."""
    inspected = inspect_upload(
        data,
        max_pixels=limits.max_pixels,
        keep_gps=limits.keep_gps,
        animation=limits.animation,
    )
    return inspected, hashlib.sha256(data).hexdigest()


async def _repository_call(call: Awaitable[T]) -> T:
    try:
        return await call
    except RepositoryUnavailable:
        raise _unavailable_from_repository() from None


def _unavailable_from_repository() -> Unavailable:
    return Unavailable("metadata database is unavailable; retry later", code="db_unavailable")


async def _finish_even_if_cancelled(work: Awaitable[T]) -> T:
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait([task])  # let the commit or the clean-up finish
        if not task.cancelled():
            task.exception()  # its outcome is logged by the work itself; nobody awaits it now
        raise

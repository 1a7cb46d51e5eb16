"""Placeholders for images uploaded before they were computed (`pixgate backfill-placeholders`).

Walks the live rows without a ThumbHash in batches, by id; for each it reads the original
from storage, inspects it as an upload is inspected (so the small image and the placeholder
are the ones a new upload of the same bytes would get), and stores the placeholder only
where none is set yet. Running it again, or twice at once, changes nothing that is done; a
row whose original is missing, unreadable or over today's size limits is counted and left
for a person to look at; a storage or database failure stops the run (run it again later).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from proxy.errors import NotFound, PixgateError, TooLarge
from proxy.storage.base import SourceLocation, Storage
from uploader.models import ImageRecord
from uploader.placeholder import Placeholder
from uploader.repository import ImageRepository

log = logging.getLogger("pixgate.backfill")

DEFAULT_BATCH = 100

# Computes the placeholder of an original's bytes, off the event loop; None if it has none.
PlaceholderOf = Callable[[bytes], Awaitable[Placeholder | None]]


@dataclass(slots=True)
class Backfilled:
    """What a run did."""

    filled: int = 0  # rows that got their placeholder now
    pending: int = 0  # rows a dry run found without one
    already_set: int = 0  # filled by someone else between the listing and the update
    missing: list[str] = field(default_factory=list)  # ids whose original is not in storage
    failed: list[str] = field(default_factory=list)  # ids whose original could not be read
    batches: int = 0
    applied: bool = True


async def backfill_placeholders(
    storage: Storage,
    repository: ImageRepository,
    locate: Callable[[str], SourceLocation],
    placeholder_of: PlaceholderOf,
    *,
    max_bytes: int,
    batch_size: int = DEFAULT_BATCH,
    concurrency: int = 2,
    apply: bool = True,
) -> Backfilled:
    """Fill the placeholders that are missing (see the module doc); with `apply` False only
    count them. Storage and repository failures other than a missing original propagate;
    running again resumes."""
    if batch_size < 1 or concurrency < 1:
        raise ValueError("batch_size and concurrency must be at least 1")
    done = Backfilled(applied=apply)
    gate = asyncio.Semaphore(concurrency)

    async def fill(record: ImageRecord) -> None:
        async with gate:
            try:
                blob = await storage.fetch(locate(record.storage_key), max_bytes)
            except NotFound:
                done.missing.append(record.image_id)
                log.warning("event=backfill_missing_original image_id=%s", record.image_id)
                return
            except TooLarge:  # stored under a larger PIXGATE_MAX_SRC_BYTES than today's
                done.failed.append(record.image_id)
                log.warning("event=backfill_original_too_large image_id=%s", record.image_id)
                return
            try:
                placeholder = await placeholder_of(blob.data)
            except PixgateError as error:  # refused as an upload would be now (limits changed)
                placeholder = None
                log.warning(
                    "event=backfill_unreadable image_id=%s reason=%r",
                    record.image_id,
                    error.message,
                )
            if placeholder is None:
                done.failed.append(record.image_id)
                return
            stored = await repository.set_placeholder(
                record.image_id, placeholder.thumbhash, placeholder.dominant_color
            )
            if stored:
                done.filled += 1
            else:
                done.already_set += 1

    after = ""
    while True:
        batch = await repository.list_without_placeholder(after=after, limit=batch_size)
        if not batch:
            return done
        done.batches += 1
        after = batch[-1].image_id
        if not apply:
            done.pending += len(batch)
        else:
            outcomes = await asyncio.gather(
                *(fill(record) for record in batch), return_exceptions=True
            )
            # Every fill of the batch has finished; the first failure stops the run.
            for outcome in outcomes:
                if isinstance(outcome, BaseException):
                    raise outcome
            log.info(
                "event=backfill_batch rows=%d filled=%d missing=%d failed=%d",
                len(batch),
                done.filled,
                len(done.missing),
                len(done.failed),
            )
        if len(batch) < batch_size:
            return done

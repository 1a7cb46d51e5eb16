"""The reaper: collects what crashes and double failures leave behind (`pixgate reap`).

An upload writes its original before its row and removes the original again when the row
cannot be written; a delete removes the original before it hides the row. What can still be
left over is an original without a live row (the process died between the two writes, or
the clean-up failed too: storage and database down together) and hidden rows, which are
kept for a while after a delete. The reaper removes both once they are older than a grace
period, so an upload still in flight (original written a moment ago, row not yet) is
never touched. It only considers objects whose names are image ids.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from proxy.ids import is_image_id, storage_key_for
from proxy.storage.base import SourceLocation, Storage
from uploader.repository import ImageRepository

log = logging.getLogger("pixgate.reaper")

DEFAULT_GRACE = timedelta(hours=1)
_BATCH = 500


@dataclass(slots=True)
class Reaped:
    """What a run found (and, unless it was a dry run, removed)."""

    orphans: list[str] = field(default_factory=list)  # image ids of originals without a row
    purged: list[str] = field(default_factory=list)  # image ids of hidden rows removed
    kept_young: int = 0  # originals without a row, newer than the grace period
    applied: bool = False


def originals_folder(locate: Callable[[str], SourceLocation]) -> SourceLocation:
    """Where `storage_key_for` puts originals, as a folder location."""
    sample = locate(storage_key_for("img_" + "0" * 20))
    return dataclasses.replace(sample, key=sample.key.rsplit("/", 1)[0])


async def reap(
    storage: Storage,
    repository: ImageRepository,
    locate: Callable[[str], SourceLocation],
    *,
    grace: timedelta = DEFAULT_GRACE,
    apply: bool = False,
    now: datetime | None = None,
) -> Reaped:
    """Find (and with `apply`, remove) orphaned originals and hidden rows older than
    `grace`. Storage and repository errors propagate; running again resumes."""
    if grace < timedelta(0):
        raise ValueError("grace must not be negative")
    cutoff = (now or datetime.now(UTC)) - grace
    reaped = Reaped(applied=apply)
    await _purge_hidden_rows(storage, repository, locate, cutoff, apply, reaped)
    async for stored in storage.list_objects(originals_folder(locate)):
        image_id = stored.location.key.rsplit("/", 1)[-1]
        if not is_image_id(image_id) or await repository.get(image_id) is not None:
            continue
        if stored.modified >= cutoff:
            reaped.kept_young += 1  # perhaps an upload whose row is being written now
            continue
        reaped.orphans.append(image_id)
        if apply:
            await storage.delete(stored.location)
            log.info("event=reaped_orphan image_id=%s", image_id)
    return reaped


async def _purge_hidden_rows(
    storage: Storage,
    repository: ImageRepository,
    locate: Callable[[str], SourceLocation],
    cutoff: datetime,
    apply: bool,
    reaped: Reaped,
) -> None:
    while True:
        hidden = await repository.list_deleted(deleted_before=cutoff, limit=_BATCH)
        for record in hidden:
            reaped.purged.append(record.image_id)
            if apply:
                # Normally gone already (a delete removes the original first): make sure.
                await storage.delete(locate(record.storage_key))
                await repository.purge(record.image_id)
        if not apply or len(hidden) < _BATCH:
            return

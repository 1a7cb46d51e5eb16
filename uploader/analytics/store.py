"""The database side of analytics: batches and log positions, and the figures read back.

One `AnalyticsStore` Protocol, a backend per dialect (`uploader.analytics.sqlite_store`,
`uploader.analytics.postgres_store`), opened by URL scheme like the image repository. The
ingester is a CPU-bound loop that writes once per batch, so the store is synchronous: one
connection, no event loop.

`commit` is the exactly-once step: in one transaction it moves the log's position from
`expected` to `new` (refusing with PositionMoved if the stored position is not `expected`,
so two ingesters on one log cannot both count it) and adds the batch's counts. Views of
images that are deleted or unknown are dropped there, inside the same snapshot. Rows are
written in key order, so ingesters of different logs that add to the same rows (the same
image and day, the same minute's figures) wait for each other but never deadlock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from urllib.parse import urlsplit

from uploader.analytics.batch import Batch
from uploader.db import RepositoryError

__all__ = [
    "BILLABLE_MINIMUM_BYTES",
    "AgeBand",
    "AnalyticsStore",
    "Committed",
    "LatencyRow",
    "Position",
    "PositionMoved",
    "TrafficRow",
    "chunks",
    "open_store",
]

# S3 Standard-IA and Glacier Instant Retrieval bill an object of less as this much.
BILLABLE_MINIMUM_BYTES = 128 * 1024


class PositionMoved(RepositoryError):
    """The stored position of a log is not the one this ingester read from: another ingester
    (or an operator) moved it. Nothing of the batch was written."""


@dataclass(frozen=True, slots=True)
class Position:
    """Where a log has been counted up to. `head_sha256` is the digest of the file's first
    `head_bytes` bytes: with (device, inode) it identifies the file, and it tells a file
    truncated and written again (copytruncate) from the one that was read."""

    device: int
    inode: int
    offset: int
    head_bytes: int
    head_sha256: str
    lines: int = 0  # lines counted in this file so far


@dataclass(frozen=True, slots=True)
class Committed:
    views: int  # views added to image_views
    dropped_views: int  # views of images that are deleted or unknown


@dataclass(frozen=True, slots=True)
class TrafficRow:
    status: int
    cache_status: str
    format: str
    accept_class: str
    requests: int
    bytes: int
    views: int
    unattributed: int


@dataclass(frozen=True, slots=True)
class LatencyRow:
    le_ms: int
    requests: int


@dataclass(frozen=True, slots=True)
class AgeBand:
    """Live originals uploaded within one band of ages (index into the lifecycle's classes)."""

    band: int
    images: int
    bytes: int
    billable_bytes: int  # each object counted as at least BILLABLE_MINIMUM_BYTES


class AnalyticsStore(Protocol):
    def position(self, source: str) -> Position | None:
        """The committed position of `source` (a log's absolute path), None if never read."""
        ...

    def commit(
        self,
        source: str,
        expected: Position | None,
        new: Position,
        batch: Batch,
        before_commit: Callable[[], None] | None = None,
    ) -> Committed:
        """Move `source` from `expected` to `new` and add `batch`, atomically (module doc).
        `before_commit` runs inside the transaction, after every write (a test hook)."""
        ...

    def traffic_since(self, minute: int) -> list[TrafficRow]:
        """Edge requests from `minute` (Unix minutes) on, summed per status, cache outcome,
        format and Accept class."""
        ...

    def latency_since(self, minute: int) -> list[LatencyRow]:
        """The request-time histogram from `minute` on, by bucket bound."""
        ...

    def storage_by_age(self, now: datetime, band_starts: Sequence[int]) -> list[AgeBand]:
        """Live originals by age band: band 0 is younger than `band_starts[0]` days, band i
        at least `band_starts[i-1]` days old and younger than `band_starts[i]`."""
        ...

    def close(self) -> None: ...


def chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def open_store(url: str, *, timeout: float = 5.0) -> AbstractContextManager[AnalyticsStore]:
    """The analytics store in the metadata database at `url` (migrated: `pixgate migrate`).
    ValueError for an unknown scheme; RepositoryError subclasses when it cannot be opened."""
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        from uploader.analytics.sqlite_store import open_sqlite_store

        return open_sqlite_store(url, timeout)
    if scheme in ("postgresql", "postgres"):
        from uploader.analytics.postgres_store import open_postgres_store

        return open_postgres_store(url, timeout)
    raise ValueError(f"unknown database scheme {scheme!r} (known: postgresql, sqlite)")

"""The image metadata repository: one Protocol, its errors, and the backends by URL scheme.

`open_repository(url)` opens the backend for the URL's scheme as an async context manager
(the app enters it from its cleanup_ctx)::

    async with open_repository("postgresql://pixgate@db/pixgate", pool_size=10) as images:
        stored = await images.insert(record)

``postgresql://`` and ``postgres://`` open PostgreSQL (psycopg 3, pooled); ``sqlite:///abs.db``
and ``sqlite:///./relative.db`` open SQLite. The schema comes from `uploader.migrate.migrate`,
which runs before the repository is opened.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Protocol
from urllib.parse import urlsplit

from uploader.db import (
    DatabaseOpenError,
    DatabaseStartupError,
    DuplicateImage,
    Migration,
    RepositoryError,
    RepositoryUnavailable,
    postgres,
)
from uploader.db import sqlite as sqlite_backend
from uploader.models import ImageRecord

__all__ = [
    "BACKENDS",
    "Backend",
    "DatabaseOpenError",
    "DatabaseStartupError",
    "DuplicateImage",
    "ImageRepository",
    "RepositoryError",
    "RepositoryUnavailable",
    "backend_for",
    "open_repository",
]


class ImageRepository(Protocol):
    """Image metadata rows. Every method raises only RepositoryError (or its subclasses
    RepositoryUnavailable and DuplicateImage), and ValueError for a malformed argument."""

    async def insert(self, record: ImageRecord) -> ImageRecord:
        """Store `record` as a live row and return it as stored: `uploaded_at` is now (UTC),
        `deleted_at` None, whatever `record` held.

        DuplicateImage(existing) if the owner (None is one owner) already has a live image
        with the same sha256 - also when the other insert is concurrent. RepositoryError if
        `image_id` is taken. ValueError for an empty owner, a sha256 that is not lowercase
        hex, NUL characters, or exif that JSON (jsonb) cannot hold.
        """
        ...

    async def get(self, image_id: str) -> ImageRecord | None:
        """The live image `image_id`; None if unknown or deleted."""
        ...

    async def find_by_sha256(self, owner: str | None, sha256: str) -> ImageRecord | None:
        """The owner's live image with these bytes, if any."""
        ...

    async def mark_deleted(self, image_id: str, at: datetime) -> bool:
        """Soft-delete at `at` (timezone-aware); False if unknown or already deleted.
        The same bytes may then be uploaded again."""
        ...

    async def purge(self, image_id: str) -> None:
        """Remove the row outright, live or deleted; unknown ids are not an error."""
        ...

    async def list_deleted(self, *, deleted_before: datetime, limit: int) -> list[ImageRecord]:
        """At most `limit` soft-deleted images deleted before `deleted_before`, oldest
        deletion first: the reaper deletes each original (`storage_key`), then purges."""
        ...

    async def list_without_placeholder(self, *, after: str, limit: int) -> list[ImageRecord]:
        """At most `limit` live images without a placeholder (`thumbhash` None) whose ids sort
        after `after` (``""`` to start), by id: the backfill walks them in batches."""
        ...

    async def set_placeholder(self, image_id: str, thumbhash: str, dominant_color: str) -> bool:
        """Store the placeholder of a live image that has none; False (and nothing changed)
        if it is unknown, deleted or already has one. ValueError for malformed values."""
        ...

    async def total_views(self, image_id: str) -> int:
        """Views of `image_id` counted from the edge's logs so far (`pixgate analytics
        ingest`); 0 for an image never viewed or unknown."""
        ...

    async def check(self) -> None:
        """Readiness: RepositoryUnavailable unless the store answers and has the schema."""
        ...

    async def close(self) -> None:
        """Release connections; idempotent. Leaving `open_repository` does it."""
        ...


RepositoryOpener = Callable[[str, int, float], AbstractAsyncContextManager[ImageRepository]]
"""Opens a backend from (url, pool_size, connect timeout in seconds)."""

MigrationApplier = Callable[[str, Sequence[Migration], float], Awaitable[list[str]]]
"""Applies pending migrations to (url, migrations in order, connect timeout in seconds)."""


@dataclass(frozen=True, slots=True)
class Backend:
    """One metadata store: how to open it, and how to migrate it with the SQL files in
    ``uploader/migrations/<dialect>/``."""

    dialect: str
    open: RepositoryOpener
    apply_migrations: MigrationApplier


_POSTGRESQL = Backend("postgresql", postgres.open_postgres_repository, postgres.apply_migrations)
_SQLITE = Backend("sqlite", sqlite_backend.open_sqlite_repository, sqlite_backend.apply_migrations)

BACKENDS: Mapping[str, Backend] = MappingProxyType(
    {"postgresql": _POSTGRESQL, "postgres": _POSTGRESQL, "sqlite": _SQLITE}
)


def backend_for(url: str) -> Backend:
    """The backend for the scheme of `url`; ValueError naming an unknown scheme (never
    echoing the URL, which may hold a password)."""
    scheme = urlsplit(url).scheme
    backend = BACKENDS.get(scheme)
    if backend is None:
        known = ", ".join(sorted(BACKENDS))
        raise ValueError(f"unknown repository scheme {scheme!r} (known: {known})")
    return backend


def open_repository(
    url: str, *, pool_size: int = 10, connect_timeout: float = 5.0
) -> AbstractAsyncContextManager[ImageRepository]:
    """Open the repository at `url` (see the module doc) with at most `pool_size` connections.

    `connect_timeout` bounds the wait for a connection (PostgreSQL: pool checkout and connect;
    SQLite: the busy timeout); past it, calls raise RepositoryUnavailable. Opening
    PostgreSQL does not wait for the server, so `check()` is what reports it down (and a
    warning naming it is logged once). SQLite makes the file and its folder; DatabaseOpenError
    if it cannot. ValueError for an unknown scheme or a malformed URL.
    """
    return backend_for(url).open(url, pool_size, connect_timeout)

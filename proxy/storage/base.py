"""What every storage backend offers, and the values it hands back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

# The place of an original is the form of a storage setting, so config defines it.
from config.storage_url import SourceLocation as SourceLocation


@dataclass(frozen=True, slots=True)
class SourceStat:
    """Size and version of an original, without its bytes.

    `version` changes whenever the bytes change (S3 ETag, or mtime+size of a file);
    it feeds the ETag of every variant.
    """

    size: int
    version: str


@dataclass(frozen=True, slots=True)
class SourceBlob:
    """The bytes of an original and the version they were read at."""

    data: bytes
    version: str


@dataclass(frozen=True, slots=True)
class StoredObject:
    """One object found by `Storage.list_objects`: where it is, and when it was last written
    (timezone-aware)."""

    location: SourceLocation
    modified: datetime


@dataclass(frozen=True, slots=True)
class StorageSettings:
    """What a backend needs to open its clients."""

    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    timeout_seconds: float = 10.0
    max_attempts: int = 3


class Storage(Protocol):
    """A backend. Every method raises only pixgate errors: NotFound, TooLarge,
    UpstreamError (store failed) or UpstreamTimeout (store too slow)."""

    async def stat(self, location: SourceLocation) -> SourceStat: ...

    async def fetch(self, location: SourceLocation, max_bytes: int) -> SourceBlob:
        """Read the whole object; TooLarge (before reading) if it is over `max_bytes`."""
        ...

    async def put(self, location: SourceLocation, data: bytes, content_type: str) -> SourceStat:
        """Write atomically: readers see the old object, or the whole new one."""
        ...

    async def delete(self, location: SourceLocation) -> None:
        """Remove the object; deleting a missing object is not an error."""
        ...

    async def check(self, location: SourceLocation) -> None:
        """Readiness: raise UpstreamError unless the store answering for `location` works."""
        ...

    def list_objects(self, folder: SourceLocation) -> AsyncIterator[StoredObject]:
        """The objects directly inside `folder` (a key naming a directory or '/'-delimited
        prefix), in no particular order; nothing if there is no such folder. For
        maintenance (`pixgate reap`), never on a request's path."""
        ...

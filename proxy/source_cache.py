"""Reading originals: one storage read per original while it is cached or in flight.

A page asking for five sizes of one image fetches it once: a byte-bounded TTL cache
holds recent originals and concurrent misses for the same original share one read.
Originals are written once and never modified, so the short TTL only bounds how long a
deleted original can still be served from one process.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from cachetools import TTLCache

from proxy.coalesce import Coalescer
from proxy.errors import Forbidden
from proxy.metrics import Metrics
from proxy.storage.base import SourceBlob, SourceLocation, Storage


def _blob_size(blob: SourceBlob) -> int:
    return len(blob.data)


class SourceReader:
    def __init__(
        self,
        storages: Mapping[str, Storage],
        *,
        max_bytes: int,
        cache_bytes: int,
        cache_ttl: float,
        metrics: Metrics,
    ) -> None:
        self._storages = storages
        self._max_bytes = max_bytes
        self._cache: TTLCache[str, SourceBlob] | None = (
            TTLCache(maxsize=cache_bytes, ttl=cache_ttl, getsizeof=_blob_size)
            if cache_bytes > 0
            else None
        )
        self._reads: Coalescer[str, SourceBlob] = Coalescer()
        self._metrics = metrics

    def _storage(self, location: SourceLocation) -> Storage:
        storage = self._storages.get(location.scheme)
        if storage is None:
            raise Forbidden("source not allowed", code="source_not_allowed")
        return storage

    def cached(self, location: SourceLocation) -> SourceBlob | None:
        return None if self._cache is None else self._cache.get(location.url)

    def forget(self, location: SourceLocation) -> None:
        """Drop a cached original (it was deleted), so this process stops serving it."""
        if self._cache is not None:
            self._cache.pop(location.url, None)

    async def version(self, location: SourceLocation) -> str:
        """The current version of an original, from the cache or a cheap stat."""
        blob = self.cached(location)
        if blob is not None:
            return blob.version
        return (await self._storage(location).stat(location)).version

    async def read(self, location: SourceLocation) -> tuple[SourceBlob, str]:
        """The original's bytes and where they came from: "hit", "miss" or "joined"."""
        blob = self.cached(location)
        if blob is not None:
            self._metrics.source_cache.labels("hit").inc()
            return blob, "hit"
        self._metrics.source_cache.labels("miss").inc()
        blob, joined = await self._reads.run(location.url, lambda: self._fetch(location))
        return blob, "joined" if joined else "miss"

    async def _fetch(self, location: SourceLocation) -> SourceBlob:
        storage = self._storage(location)
        started = time.perf_counter()
        blob = await storage.fetch(location, self._max_bytes)
        self._metrics.fetch_seconds.labels(location.scheme).observe(time.perf_counter() - started)
        if self._cache is not None and len(blob.data) <= self._cache.maxsize:
            self._cache[location.url] = blob
        return blob

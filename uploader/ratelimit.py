"""Per-client upload rate limit: a token bucket per client, in process memory.

Each uploader process limits on its own; behind N processes a client gets at most N times
the configured rate, which bounds abuse without shared state.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from cachetools import TTLCache

from proxy.errors import PixgateError


class RateLimited(PixgateError):
    status = 429
    code = "rate_limited"

    def __init__(self, retry_after: int) -> None:
        super().__init__("too many uploads; retry later")
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(
        self,
        count: int,
        per_seconds: float,
        *,
        max_clients: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._capacity = count
        self._refill_per_second = count / per_seconds
        self._clock = clock
        # A bucket left alone for a whole window is full again, so it can be forgotten.
        self._buckets: TTLCache[str, _Bucket] = TTLCache(
            maxsize=max_clients, ttl=per_seconds, timer=clock
        )

    def check(self, client: str) -> None:
        """Take one token for `client`, or raise RateLimited with the wait in seconds."""
        if self._capacity == 0:
            return
        now = self._clock()
        bucket = self._buckets.get(client) or _Bucket(float(self._capacity), now)
        bucket.tokens = min(
            self._capacity, bucket.tokens + (now - bucket.updated) * self._refill_per_second
        )
        bucket.updated = now
        self._buckets[client] = bucket
        if bucket.tokens < 1:
            raise RateLimited(math.ceil((1 - bucket.tokens) / self._refill_per_second))
        bucket.tokens -= 1

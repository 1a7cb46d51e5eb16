"""The bounded pool that runs blocking libvips work off the event loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from proxy.errors import Overloaded
from proxy.metrics import Metrics

P = ParamSpec("P")
T = TypeVar("T")


class TransformPool:
    """At most `concurrency` jobs run at once; at most `queue_limit` wait; the rest are
    refused with Overloaded (503 + Retry-After) instead of growing an unbounded backlog."""

    def __init__(self, concurrency: int, queue_limit: int, metrics: Metrics) -> None:
        self._executor = ThreadPoolExecutor(concurrency, thread_name_prefix="vips")
        self._slots = asyncio.Semaphore(concurrency)
        self._queue_limit = queue_limit
        self._waiting = 0
        self._metrics = metrics

    async def run(self, job: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        if self._slots.locked() and self._waiting >= self._queue_limit:
            raise Overloaded("too many transforms waiting; retry shortly", retry_after=1)
        self._waiting += 1
        self._metrics.queued.inc()
        waited_from = time.perf_counter()
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
            self._metrics.queued.dec()
        self._metrics.queue_seconds.observe(time.perf_counter() - waited_from)
        self._metrics.in_flight.inc()
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, lambda: job(*args, **kwargs))
        finally:
            self._metrics.in_flight.dec()
            self._slots.release()

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

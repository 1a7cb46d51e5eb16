"""The bounded pool that runs blocking libvips work off the event loop."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Concatenate, ParamSpec, TypeVar

from proxy.deadline import Deadline
from proxy.errors import Overloaded, TransformTimeout
from proxy.metrics import Metrics

P = ParamSpec("P")
T = TypeVar("T")

log = logging.getLogger("pixgate.pool")


class TransformPool:
    """At most `concurrency` jobs run at once; at most `queue_limit` wait; the rest are
    refused with Overloaded (503 + Retry-After) instead of growing an unbounded backlog.

    A job running longer than `timeout` seconds (None: no limit) is abandoned: its caller
    gets TransformTimeout (503 + Retry-After) at once. A job given its Deadline
    (`run_with_deadline`) stops libvips itself; either way the job's slot is taken until
    its thread has really returned, so `concurrency` bounds the threads at work, not only
    the callers still waiting.
    """

    def __init__(
        self,
        concurrency: int,
        queue_limit: int,
        metrics: Metrics,
        *,
        timeout: float | None = None,
    ) -> None:
        self._executor = ThreadPoolExecutor(concurrency, thread_name_prefix="vips")
        self._slots = asyncio.Semaphore(concurrency)
        self._queue_limit = queue_limit
        self._waiting = 0
        self._metrics = metrics
        self._timeout = timeout

    async def run(self, job: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`job(*args, **kwargs)` in a worker thread."""
        return await self._run(lambda deadline: job(*args, **kwargs))

    async def run_with_deadline(
        self, job: Callable[Concatenate[Deadline, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """`job(deadline, *args, **kwargs)` in a worker thread: the job can make libvips stop
        at the deadline (`Deadline.watch`), which frees its slot."""
        return await self._run(lambda deadline: job(deadline, *args, **kwargs))

    async def _run(self, call: Callable[[Deadline], T]) -> T:
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
        # The clock starts with the slot: waiting in the queue is bounded by its own limit.
        deadline = Deadline(math.inf if self._timeout is None else self._timeout)
        try:
            future = asyncio.get_running_loop().run_in_executor(self._executor, call, deadline)
        except BaseException:
            self._release(None)
            raise
        # Released when the thread is done, not when its caller stops waiting (timeout,
        # cancellation): a slot stands for a thread.
        future.add_done_callback(self._release)
        future.add_done_callback(lambda _: deadline.release())
        # asyncio.wait neither cancels the job's future on timeout nor when we are cancelled.
        await asyncio.wait((future,), timeout=self._timeout)
        # The job may have stopped itself at the deadline a moment before the wait ended.
        if future.done() and not isinstance(future.exception(), TransformTimeout):
            return future.result()
        self._metrics.transform_timeouts.inc()
        log.warning("event=transform_timeout seconds=%g", deadline.seconds)
        raise deadline.error()

    def _release(self, future: asyncio.Future[Any] | None) -> None:
        if future is not None and not future.cancelled():
            future.exception()  # retrieved here: a caller that gave up never will
        self._metrics.in_flight.dec()
        self._slots.release()

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

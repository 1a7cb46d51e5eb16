"""The bounded pool that runs blocking libvips work off the event loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar

from proxy.deadline import Deadline
from proxy.errors import Overloaded, TransformTimeout
from proxy.metrics import Metrics

P = ParamSpec("P")
T = TypeVar("T")

log = logging.getLogger("pixgate.pool")


class TransformPool:
    """At most `concurrency` jobs run at once; at most `queue_limit` wait; the rest are
    refused with Overloaded (503 + Retry-After) instead of growing an unbounded backlog.

    Admitted jobs go straight into the executor's queue, so a thread that finishes a job
    takes the next one at once: a slot never sits idle waiting for the event loop's turn.

    A job running longer than `timeout` seconds (None: no limit) is abandoned: its caller
    gets TransformTimeout (503 + Retry-After) at once. A job given its Deadline
    (`run_with_deadline`) has libvips stopped at the deadline, even when its caller has
    gone. Either way the job's slot is taken until its thread has really returned, so
    `concurrency` bounds the threads at work, not only the callers still waiting.
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
        self._capacity = concurrency + queue_limit
        self._admitted = 0  # queued or running; threads leave it, so it takes a lock
        self._lock = threading.Lock()
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
        with self._lock:
            if self._admitted >= self._capacity:
                raise Overloaded("too many transforms waiting; retry shortly", retry_after=1)
            self._admitted += 1
        self._metrics.queued.inc()
        job = _Job(call, asyncio.get_running_loop(), self._timeout, self._metrics)
        try:
            work = self._executor.submit(self._work, job)
        except BaseException:
            self._dequeued()
            raise
        work.add_done_callback(job.dropped_unless_run)
        try:
            return await job.outcome
        except asyncio.CancelledError:
            # A job still in the queue never runs; a running one keeps its slot to its end.
            if work.cancel():
                self._dequeued()
            raise

    def _work(self, job: _Job[T]) -> None:
        """In a worker thread: run the job, then free its slot before taking the next."""
        self._metrics.queued.dec()
        self._metrics.queue_seconds.observe(time.perf_counter() - job.queued_at)
        self._metrics.in_flight.inc()
        job.run(self._free_slot)

    def _free_slot(self) -> None:
        self._metrics.in_flight.dec()
        with self._lock:
            self._admitted -= 1

    def _dequeued(self) -> None:
        self._metrics.queued.dec()
        with self._lock:
            self._admitted -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


class _Job(Generic[T]):
    """One admitted call: run in a worker thread, its outcome delivered to the event loop.

    The clock starts when a thread takes the job (waiting in the queue is bounded by its
    own limit). At the deadline the loop stops the job's libvips work and answers its
    caller, whether or not the thread has returned.
    """

    def __init__(
        self,
        call: Callable[[Deadline], T],
        loop: asyncio.AbstractEventLoop,
        timeout: float | None,
        metrics: Metrics,
    ) -> None:
        self.outcome: asyncio.Future[T] = loop.create_future()
        self.queued_at = time.perf_counter()
        self._call = call
        self._loop = loop
        self._timeout = timeout
        self._metrics = metrics
        self._expiry: asyncio.TimerHandle | None = None

    def run(self, free_slot: Callable[[], None]) -> None:
        """In the worker thread; `free_slot` is called before the caller hears the outcome."""
        deadline = Deadline(math.inf if self._timeout is None else self._timeout)
        self._to_loop(self._started, deadline)
        result: T | None = None
        error: BaseException | None = None
        try:
            result = self._call(deadline)
        except BaseException as raised:  # delivered to the caller, as an executor would
            error = raised
        # The thread is done with its images: free them (and their source bytes) now.
        deadline.release()
        free_slot()
        self._to_loop(self._finished, deadline, result, error)

    def dropped_unless_run(self, work: concurrent.futures.Future[None]) -> None:
        """Executor callback: a job cancelled in the queue (pool closing) never runs."""
        if work.cancelled():
            self._to_loop(self._cancel)

    # --- on the event loop ---------------------------------------------------------------

    def _started(self, deadline: Deadline) -> None:
        if self._timeout is not None:
            self._expiry = self._loop.call_at(deadline.at, self._expire, deadline)

    def _expire(self, deadline: Deadline) -> None:
        deadline.expire()
        self._timed_out(deadline)

    def _finished(self, deadline: Deadline, result: T, error: BaseException | None) -> None:
        """`result` is the job's return value when `error` is None."""
        if self._expiry is not None:
            self._expiry.cancel()
        if isinstance(error, TransformTimeout):
            self._timed_out(deadline)
        elif self.outcome.done():
            return  # answered at the deadline already; this late result has no reader
        elif error is not None:
            self.outcome.set_exception(error)
        else:
            self.outcome.set_result(result)

    def _timed_out(self, deadline: Deadline) -> None:
        if self.outcome.done():
            return
        self._metrics.transform_timeouts.inc()
        log.warning("event=transform_timeout seconds=%g", deadline.seconds)
        self.outcome.set_exception(deadline.error())

    def _cancel(self) -> None:
        if not self.outcome.done():
            self.outcome.cancel()

    def _to_loop(self, callback: Callable[..., None], *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
            self._loop.call_soon_threadsafe(callback, *args)

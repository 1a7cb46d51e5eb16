"""The bounded libvips pool and request coalescing."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from proxy.coalesce import Coalescer
from proxy.deadline import Deadline
from proxy.errors import Overloaded, TransformTimeout
from proxy.metrics import Metrics
from proxy.pool import TransformPool


def _blocking(gate: threading.Event, value: int) -> int:
    gate.wait(timeout=10)
    return value


@pytest.mark.parametrize(
    ("concurrency", "queue_limit", "submitted", "refused"),
    [
        pytest.param(1, 0, 3, 2, id="no-queue"),
        pytest.param(1, 1, 3, 1, id="queue-of-one"),
        pytest.param(2, 2, 4, 0, id="fits"),
        pytest.param(2, 1, 6, 3, id="overflow"),
    ],
)
async def test_pool_bounds_running_and_waiting_jobs(
    concurrency: int, queue_limit: int, submitted: int, refused: int
) -> None:
    metrics = Metrics()
    pool = TransformPool(concurrency, queue_limit, metrics)
    gate = threading.Event()
    tasks = [asyncio.ensure_future(pool.run(_blocking, gate, n)) for n in range(submitted)]
    await asyncio.sleep(0.1)
    assert metrics.in_flight._value.get() == min(concurrency, submitted)
    gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    pool.close()
    overloaded = [r for r in results if isinstance(r, Overloaded)]
    assert len(overloaded) == refused
    assert all(o.headers() == {"Retry-After": "1"} for o in overloaded)
    assert sorted(r for r in results if isinstance(r, int)) == sorted(
        r for r in range(submitted) if not isinstance(results[r], Overloaded)
    )
    assert metrics.in_flight._value.get() == 0
    assert metrics.queued._value.get() == 0


async def test_coalescer_runs_once_per_key_in_flight() -> None:
    calls: list[str] = []
    release = asyncio.Event()

    async def work(key: str) -> str:
        calls.append(key)
        await release.wait()
        return key.upper()

    coalescer: Coalescer[str, str] = Coalescer()
    waiters = [
        asyncio.ensure_future(coalescer.run(key, lambda key=key: work(key)))  # type: ignore[misc]
        for key in ("a", "a", "b", "a")
    ]
    await asyncio.sleep(0.01)
    release.set()
    results = await asyncio.gather(*waiters)
    assert sorted(calls) == ["a", "b"]
    assert [value for value, _ in results] == ["A", "A", "B", "A"]
    assert [joined for _, joined in results] == [False, True, False, True]
    assert len(coalescer) == 0


async def test_coalescer_survives_a_caller_going_away() -> None:
    release = asyncio.Event()

    async def work() -> int:
        await release.wait()
        return 7

    coalescer: Coalescer[str, int] = Coalescer()
    first = asyncio.ensure_future(coalescer.run("k", work))
    second = asyncio.ensure_future(coalescer.run("k", work))
    await asyncio.sleep(0.01)
    first.cancel()
    release.set()
    assert await second == (7, True)


async def test_coalescer_shares_failures_and_forgets_them() -> None:
    async def fail() -> int:
        raise Overloaded("busy")

    coalescer: Coalescer[str, int] = Coalescer()
    with pytest.raises(Overloaded):
        await coalescer.run("k", fail)
    assert len(coalescer) == 0


def _until_stopped(deadline: Deadline, stopped: threading.Event) -> int:
    """A job that, like a watched libvips pipeline, gives up once its deadline passes."""
    while not deadline.expired:
        time.sleep(0.005)
    stopped.set()
    raise deadline.error()


async def test_a_job_past_its_deadline_stops_and_frees_its_slot() -> None:
    metrics = Metrics()
    pool = TransformPool(1, 1, metrics, timeout=0.2)
    stopped = threading.Event()
    started = time.monotonic()
    with pytest.raises(TransformTimeout) as timed_out:
        await pool.run_with_deadline(_until_stopped, stopped)
    assert 0.2 <= time.monotonic() - started < 2.0  # at the deadline, not when the job chose
    assert timed_out.value.status == 503 and timed_out.value.headers() == {"Retry-After": "1"}
    assert stopped.wait(timeout=1)
    assert await pool.run(int, "7") == 7  # the one slot is free again
    assert metrics.transform_timeouts._value.get() == 1
    pool.close()


async def test_a_job_that_ignores_its_deadline_keeps_its_slot_until_it_returns() -> None:
    """Its caller is answered at the deadline, but the slot stands for the thread: it is not
    handed to another job while the thread is still busy."""
    metrics = Metrics()
    pool = TransformPool(1, 1, metrics, timeout=0.1)
    gate = threading.Event()
    with pytest.raises(TransformTimeout):
        await pool.run(_blocking, gate, 1)
    assert metrics.in_flight._value.get() == 1
    waiting = asyncio.ensure_future(pool.run(int, "5"))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    gate.set()
    assert await waiting == 5
    assert metrics.in_flight._value.get() == 0
    pool.close()


async def test_a_cancelled_caller_does_not_free_the_slot_early() -> None:
    metrics = Metrics()
    pool = TransformPool(1, 1, metrics, timeout=None)
    gate = threading.Event()
    caller = asyncio.ensure_future(pool.run(_blocking, gate, 1))
    await asyncio.sleep(0.05)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert metrics.in_flight._value.get() == 1
    gate.set()
    assert await pool.run(int, "3") == 3
    assert metrics.in_flight._value.get() == 0
    pool.close()


async def test_watched_images_are_freed_without_the_cycle_collector() -> None:
    """A deadline forgets its images when the job returns, so no reference cycle keeps a
    request's images (and their source bytes) alive until a garbage collection."""
    import gc

    import pyvips

    pool = TransformPool(1, 1, Metrics(), timeout=30.0)
    seen: list[Deadline] = []

    def job(deadline: Deadline) -> float:
        seen.append(deadline)
        image = deadline.watch(pyvips.Image.black(64, 64) + 1)
        return float(image.avg())

    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)  # what a collection finds unreachable lands in gc.garbage
    try:
        assert await pool.run_with_deadline(job) == 1.0
        await asyncio.sleep(0)  # the done callbacks run on the loop
        assert seen[0]._watched == []
        seen.clear()
        gc.collect()
        assert not [o for o in gc.garbage if isinstance(o, pyvips.Image)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
        pool.close()


def _slow_libvips(deadline: Deadline, outcome: list[str]) -> None:
    """A libvips pipeline of several seconds (a large blur), watched by its deadline; like
    the real pipeline, it reports a kill past the deadline as a timeout."""
    import pyvips

    image = deadline.watch(pyvips.Image.gaussnoise(4000, 3000).gaussblur(60))
    try:
        image.avg()
        outcome.append("finished")
    except pyvips.Error:
        outcome.append("killed")
        raise deadline.error() from None


@pytest.mark.parametrize("caller_waits", [True, False], ids=["caller-waits", "caller-gone"])
async def test_libvips_is_killed_at_the_deadline(caller_waits: bool) -> None:
    """The pool kills the watched images at the deadline, whether or not the caller is still
    waiting (a client that disconnected must not leave a thread at work for seconds)."""
    metrics = Metrics()
    pool = TransformPool(1, 1, metrics, timeout=0.2)
    outcome: list[str] = []
    started = time.monotonic()
    caller = asyncio.ensure_future(pool.run_with_deadline(_slow_libvips, outcome))
    if caller_waits:
        with pytest.raises(TransformTimeout):
            await caller
    else:
        await asyncio.sleep(0.05)
        caller.cancel()
    for _ in range(250):  # the thread's return is only seen through the gauge
        if not metrics.in_flight._value.get():
            break
        await asyncio.sleep(0.02)
    assert outcome == ["killed"]
    assert time.monotonic() - started < 1.5
    pool.close()


async def test_an_image_watched_after_the_deadline_is_killed_at_once() -> None:
    import pyvips

    deadline = Deadline(0.0)
    # A size no other test uses: libvips' operation cache must not answer from memory.
    image = deadline.watch(pyvips.Image.black(67, 61) + 3)
    with pytest.raises(pyvips.Error):
        image.avg()


async def test_a_job_whose_caller_left_the_queue_never_runs() -> None:
    metrics = Metrics()
    pool = TransformPool(1, 2, metrics)
    gate = threading.Event()
    ran: list[int] = []
    running = asyncio.ensure_future(pool.run(_blocking, gate, 1))
    queued = asyncio.ensure_future(pool.run(ran.append, 2))
    await asyncio.sleep(0.05)
    assert metrics.queued._value.get() == 1
    queued.cancel()
    await asyncio.sleep(0.01)
    assert metrics.queued._value.get() == 0
    gate.set()
    assert await running == 1
    assert await pool.run(int, "4") == 4
    assert ran == []
    assert metrics.in_flight._value.get() == 0
    pool.close()

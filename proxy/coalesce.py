"""Request coalescing: concurrent callers asking for the same key share one computation."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Coalescer(Generic[K, V]):
    """Runs `factory()` once per key while it is in flight; later callers await the same task.

    The shared task is shielded: one caller going away (client disconnect) neither cancels
    the work for the others nor frees a transform slot while libvips still holds it.
    """

    def __init__(self) -> None:
        self._in_flight: dict[K, asyncio.Task[V]] = {}

    def __len__(self) -> int:
        return len(self._in_flight)

    async def run(self, key: K, factory: Callable[[], Awaitable[V]]) -> tuple[V, bool]:
        """Return the value and whether this caller joined work already under way."""
        task = self._in_flight.get(key)
        joined = task is not None
        if task is None:
            task = asyncio.ensure_future(_as_coroutine(factory))
            self._in_flight[key] = task
            task.add_done_callback(lambda done: self._forget(key, done))
        return await asyncio.shield(task), joined

    def _forget(self, key: K, task: asyncio.Task[V]) -> None:
        if self._in_flight.get(key) is task:
            del self._in_flight[key]
        if not task.cancelled():
            task.exception()  # mark retrieved: every waiter may have gone away


async def _as_coroutine(factory: Callable[[], Awaitable[V]]) -> V:
    return await factory()

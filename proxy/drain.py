"""Requests in flight, counted so a stopping server can wait for them (graceful shutdown).

aiohttp's own shutdown closes every connection first and then drops whatever bytes still
arrive on it, so an upload whose body is still streaming in could never finish. pixgate
therefore drains itself: stop listening, wait here until the requests already running are
done (each is answered with `Connection: close`), and only then let aiohttp close what is
left.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class InFlight:
    """The number of requests being handled, and an event set whenever it is zero."""

    def __init__(self) -> None:
        self._count = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.draining = False

    @property
    def count(self) -> int:
        return self._count

    def started(self) -> None:
        self._count += 1
        self._idle.clear()

    def finished(self) -> None:
        self._count -= 1
        if self._count == 0:
            self._idle.set()

    async def drain(self, within: float) -> bool:
        """From now on answer with `Connection: close`; wait up to `within` seconds for the
        requests in flight to finish. True if they all did."""
        self.draining = True
        try:
            async with asyncio.timeout(within):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True


def track(in_flight: InFlight) -> Middleware:
    """The outermost middleware: counts each request while its handler runs."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        in_flight.started()
        try:
            response = await handler(request)
        finally:
            in_flight.finished()
        if in_flight.draining:
            response.force_close()  # a keep-alive client should reconnect, to another server
        return response

    return middleware

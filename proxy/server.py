"""Running an application until SIGTERM/SIGINT, then draining it gracefully."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import logging
import os
import signal
from collections.abc import Callable

from aiohttp import web

from config import Settings
from proxy.app import MAX_LINE_SIZE
from proxy.drain import InFlight
from proxy.keys import IN_FLIGHT

log = logging.getLogger("pixgate")

# glibc's mallopt parameter for the number of malloc arenas (malloc.h).
_M_ARENA_MAX = -8
# Two arenas, as imgproxy sets for libvips (MALLOC_ARENA_MAX=2): with one arena per thread
# (up to 8 per core), every pool thread keeps the peak of the images it has seen, and the
# server's memory creeps up long after start-up.
MALLOC_ARENAS = 2


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Bound glibc's malloc arenas before the worker threads start; False where the C
    library is not glibc or the operator already chose (MALLOC_ARENA_MAX is set)."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    mallopt = getattr(ctypes.CDLL(name), "mallopt", None)
    if mallopt is None:
        return False
    return bool(mallopt(_M_ARENA_MAX, arenas))


# After the drain: how long aiohttp lets answers still being written finish, before it cuts off.
SEND_GRACE_SECONDS = 1.0


async def serve_until_signalled(
    app: web.Application, settings: Settings, on_listening: Callable[[], None] | None = None
) -> None:
    """Listen on `settings.bind` until the first SIGTERM/SIGINT, then drain (a second signal
    stops waiting for requests in flight)."""
    runner = web.AppRunner(
        app, access_log=None, max_line_size=MAX_LINE_SIZE, shutdown_timeout=SEND_GRACE_SECONDS
    )
    try:
        await runner.setup()
    except BaseException:
        await runner.cleanup()  # close what started before the failure (storage clients)
        raise
    host, port = settings.bind
    site = web.TCPSite(runner, host, port)
    await site.start()
    log.info("listening", extra={"url": f"http://{host}:{port}", "storage": settings.storage_url})
    if on_listening is not None:
        on_listening()
    stop, hurry = asyncio.Event(), asyncio.Event()

    def on_signal() -> None:
        if stop.is_set():
            hurry.set()  # a second SIGTERM/Ctrl-C: stop waiting for requests in flight
        stop.set()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, on_signal)
    try:
        await stop.wait()
    finally:
        await _drain(runner, site, app[IN_FLIGHT], settings.shutdown_timeout, hurry)


async def _drain(
    runner: web.AppRunner,
    site: web.TCPSite,
    in_flight: InFlight,
    within: float,
    hurry: asyncio.Event,
) -> None:
    """Graceful shutdown: refuse new connections, let the requests in flight finish (up to
    `within` seconds, or until `hurry` is set), give their answers a moment to leave, cut
    off whatever is left, and close the storage and database clients."""
    log.info("shutting down", extra={"in_flight": in_flight.count, "drain_seconds": within})
    await site.stop()
    drained = asyncio.ensure_future(in_flight.drain(within))
    hurried = asyncio.ensure_future(hurry.wait())
    await asyncio.wait((drained, hurried), return_when=asyncio.FIRST_COMPLETED)
    hurried.cancel()
    if not drained.done():
        drained.cancel()
        log.warning("second signal: cutting off requests", extra={"in_flight": in_flight.count})
    elif not drained.result():
        log.warning("shutdown timeout: cutting off requests", extra={"in_flight": in_flight.count})
    await runner.cleanup()
    log.info("stopped")

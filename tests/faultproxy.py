"""A fault-injecting TCP proxy for tests: put it between pixgate and a real service (moto's
S3 server, PostgreSQL) and make that service fail in the ordinary ways, at run time.

    async with FaultProxy(("127.0.0.1", moto_port)) as proxy:
        settings = {..., "PIXGATE_S3_ENDPOINT_URL": proxy.url}
        await proxy.down()                        # connections refused, open ones dropped
        await proxy.delay(2.0)                    # every answer starts 2 s late
        await proxy.cut(after=1000)               # answers stop after 1000 bytes
        await proxy.cut(after=1000, direction="request")  # requests (uploads) stop there
        await proxy.answer(503, times=1)          # the next connection gets a 503, then pass
        await proxy.passthrough()                 # healthy again

A fault applies per connection, to the next `times` connections (default: every one until
the next change). Changing the mode drops the connections open so far, so a client's pooled
keep-alive connection cannot carry on past the change. Listens on a free loopback port that
stays the same across `down()` and back.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import Literal

HOST = "127.0.0.1"
_CHUNK = 65536
# Bytes an `answer` fault reads of a request body before answering; beyond it, it just answers.
_MAX_DRAINED_BODY = 64 * 1024 * 1024

Kind = Literal["pass", "delay", "cut", "answer", "reset"]
Direction = Literal["request", "response"]


@dataclass(frozen=True, slots=True)
class Fault:
    kind: Kind
    seconds: float = 0.0
    after: int = 0
    direction: Direction = "response"
    status: int = 503


PASS = Fault("pass")


class FaultProxy:
    """See the module docstring. Use as an async context manager, in the test's event loop."""

    def __init__(self, target: tuple[str, int]) -> None:
        self._target = target
        self._fault = PASS
        self._remaining: int | None = None
        self._server: asyncio.Server | None = None
        self._port = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.connections = 0  # accepted so far
        self.faulted = 0  # of which a fault was applied to

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self._port}"

    async def __aenter__(self) -> FaultProxy:
        await self._listen()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._close_listener()
        self._drop_connections()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- modes ---------------------------------------------------------------------------

    async def passthrough(self) -> None:
        await self._set(PASS, None)

    async def down(self) -> None:
        """Refuse connections (nothing listens) and drop the open ones."""
        self._fault, self._remaining = PASS, None
        await self._close_listener()
        self._drop_connections()

    async def reset(self, *, times: int | None = None) -> None:
        """Accept, then close at once without a word."""
        await self._set(Fault("reset"), times)

    async def delay(self, seconds: float, *, times: int | None = None) -> None:
        """Hold each answer's first bytes back by `seconds` (a slow store)."""
        await self._set(Fault("delay", seconds=seconds), times)

    async def cut(
        self, *, after: int, direction: Direction = "response", times: int | None = None
    ) -> None:
        """Pass `after` bytes in `direction`, then drop the connection (mid-body)."""
        await self._set(Fault("cut", after=after, direction=direction), times)

    async def answer(self, status: int, *, times: int | None = None) -> None:
        """Answer each request with `status` (and an S3-style error body) without asking the
        service."""
        await self._set(Fault("answer", status=status), times)

    async def _set(self, fault: Fault, times: int | None) -> None:
        self._fault, self._remaining = fault, times
        self._drop_connections()
        if self._server is None:
            await self._listen()

    def _take(self) -> Fault:
        """The fault for a new connection; counts down `times`."""
        fault = self._fault
        if fault.kind != "pass":
            self.faulted += 1
            if self._remaining is not None:
                self._remaining -= 1
                if self._remaining <= 0:
                    self._fault, self._remaining = PASS, None
        return fault

    # --- plumbing ------------------------------------------------------------------------

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._accept, HOST, self._port, reuse_address=True
        )
        self._port = self._server.sockets[0].getsockname()[1]

    async def _close_listener(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def _drop_connections(self) -> None:
        for writer in list(self._writers):
            _abort(writer)
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        self.connections += 1
        try:
            await self._serve(self._take(), reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()  # orderly: a cut body arrives cut, not lost to a reset
            self._writers.discard(writer)
            self._tasks.discard(task)

    async def _serve(
        self, fault: Fault, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if fault.kind == "reset":
            return
        if fault.kind == "answer":
            await _answer(fault.status, reader, writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            return  # the service itself is down: the client sees its connection dropped
        self._writers.add(up_writer)
        asked = asyncio.Event()  # set when request bytes went out, cleared by a delayed answer
        try:
            requests = asyncio.ensure_future(_pump(reader, up_writer, fault, "request", asked))
            answers = asyncio.ensure_future(_pump(up_reader, writer, fault, "response", asked))
            # Either side closing, or a cut, ends the connection on both sides.
            await asyncio.wait((requests, answers), return_when=asyncio.FIRST_COMPLETED)
            for pump in (requests, answers):
                pump.cancel()
            await asyncio.gather(requests, answers, return_exceptions=True)
        finally:
            up_writer.close()
            self._writers.discard(up_writer)


async def _pump(
    source: asyncio.StreamReader,
    sink: asyncio.StreamWriter,
    fault: Fault,
    direction: Direction,
    asked: asyncio.Event,
) -> None:
    """Copy `source` to `sink` until EOF, applying `fault` to this direction."""
    passed = 0
    cut = fault.kind == "cut" and fault.direction == direction
    while chunk := await source.read(_CHUNK):
        if direction == "request":
            asked.set()  # a request (or more of one) went out: its answer may be delayed
        elif fault.kind == "delay" and asked.is_set():
            asked.clear()
            await asyncio.sleep(fault.seconds)
        if cut and passed + len(chunk) >= fault.after:
            sink.write(chunk[: fault.after - passed])
            with contextlib.suppress(ConnectionError):
                await sink.drain()
            return
        passed += len(chunk)
        sink.write(chunk)
        await sink.drain()


async def _answer(status: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read one request (its body too, unless it waits for 100-continue) and answer `status`."""
    head = await reader.readuntil(b"\r\n\r\n")
    headers = {
        name.strip().lower(): value.strip()
        for name, _, value in (
            line.partition(b":") for line in head.split(b"\r\n")[1:] if b":" in line
        )
    }
    length = int(headers.get(b"content-length", b"0") or 0)
    if length and headers.get(b"expect", b"").lower() != b"100-continue":
        await reader.readexactly(min(length, _MAX_DRAINED_BODY))
    phrase = HTTPStatus(status).phrase
    code = "SlowDown" if status == 503 else "InternalError"
    body = f"<Error><Code>{code}</Code><Message>{phrase}</Message></Error>".encode()
    writer.write(
        f"HTTP/1.1 {status} {phrase}\r\nContent-Type: application/xml\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    await writer.drain()


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close at once, with a reset rather than an orderly FIN where the socket allows."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()

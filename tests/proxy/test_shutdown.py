"""SIGTERM drains: requests in flight finish, new connections are refused, the process exits
0 within PIXGATE_SHUTDOWN_TIMEOUT (and cuts off what is still running at that bound)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pixgate_signing import UrlBuilder

from loadtest.harness import imagegen
from loadtest.harness.ports import HOST, free_port

KEY, SALT = "736563726574", "68656C6C6F"


@dataclass(frozen=True, slots=True)
class Served:
    process: subprocess.Popen[bytes]
    port: int


@contextlib.contextmanager
def serve(tmp_path: Path, **env: str) -> Iterator[Served]:
    """`pixgate serve` (proxy and uploader, local storage, SQLite) on a free port."""
    port = free_port()
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("PIXGATE_")}
    child_env.update(
        PIXGATE_KEY=KEY,
        PIXGATE_SALT=SALT,
        PIXGATE_BIND=f"{HOST}:{port}",
        PIXGATE_STORAGE_URL=f"file://{tmp_path}/storage",
        PIXGATE_DATABASE_URL=f"sqlite:///{tmp_path}/pixgate.db",
        PIXGATE_MIGRATE_ON_START="true",
        **env,
    )
    (tmp_path / "storage" / "originals").mkdir(parents=True)
    with open(tmp_path / "server.log", "wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from pixgate.cli import main; raise SystemExit(main(['serve']))",
            ],
            env=child_env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_healthy(process, port)
        yield Served(process, port)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def _wait_healthy(process: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "pixgate exited on start-up"
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"http://{HOST}:{port}/health", timeout=1),
        ):
            return
        time.sleep(0.1)
    raise AssertionError("pixgate did not answer /health")


def upload_request(port: int, image: bytes) -> tuple[bytes, bytes]:
    """A multipart upload as raw bytes: (head, body)."""
    boundary = uuid.uuid4().hex
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n'
        f"Content-Type: image/jpeg\r\n\r\n"
    ).encode()
    body += image + f"\r\n--{boundary}--\r\n".encode()
    head = (
        f"POST /api/v1/images HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head, body


async def status_of(reader: asyncio.StreamReader) -> int:
    line = await asyncio.wait_for(reader.readline(), timeout=30)
    return int(line.split()[1])


@contextlib.asynccontextmanager
async def connection(port: int) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """A raw connection that is closed however the test ends, so a failure leaks no socket."""
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        yield reader, writer
    finally:
        writer.close()


async def refused(port: int) -> bool:
    try:
        async with connection(port):
            return False
    # A connect that lands in the backlog just as the listener closes is reset, not refused.
    except (ConnectionRefusedError, ConnectionResetError):
        return True


async def until_refused(port: int, within: float) -> None:
    deadline = time.monotonic() + within
    while not await refused(port):
        assert time.monotonic() < deadline, "still accepting connections after SIGTERM"
        await asyncio.sleep(0.05)


async def exit_code(process: subprocess.Popen[bytes], within: float) -> int | None:
    with contextlib.suppress(subprocess.TimeoutExpired):
        await asyncio.to_thread(process.wait, within)
    return process.poll()


async def test_sigterm_lets_an_upload_in_flight_finish(tmp_path: Path) -> None:
    with serve(tmp_path) as served:
        head, body = upload_request(served.port, imagegen.quadrant_jpeg(300, 200))
        async with connection(served.port) as (reader, writer):
            writer.write(head + body[: len(body) // 2])  # the handler is running, reading the body
            await writer.drain()
            await asyncio.sleep(0.3)
            started = time.monotonic()
            served.process.send_signal(signal.SIGTERM)
            await until_refused(served.port, within=5)
            assert served.process.poll() is None  # still draining
            writer.write(body[len(body) // 2 :])
            await writer.drain()
            assert await status_of(reader) == 201
        assert await exit_code(served.process, within=10) == 0
        assert time.monotonic() - started < 10
    log = (tmp_path / "server.log").read_text()
    assert "in_flight=1" in log and "stopped" in log


async def test_sigterm_lets_a_transform_in_flight_finish(tmp_path: Path) -> None:
    with serve(tmp_path, PIXGATE_CONCURRENCY="1") as served:
        big = tmp_path / "storage" / "originals" / "big.jpg"
        big.write_bytes(imagegen.quadrant_jpeg(4000, 3000))  # about a second to render
        path = UrlBuilder("", KEY, SALT).path("originals/big.jpg", format="png", options=["bl:80"])
        async with connection(served.port) as (reader, writer):
            writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            await writer.drain()
            await asyncio.sleep(0.3)  # the render is running
            served.process.send_signal(signal.SIGTERM)
            await until_refused(served.port, within=5)
            assert await status_of(reader) == 200
            head = await reader.readuntil(b"\r\n\r\n")
            assert b"content-type: image/png" in head.lower()
        assert await exit_code(served.process, within=10) == 0
    assert "in_flight=1" in (tmp_path / "server.log").read_text()  # it was running at SIGTERM


@pytest.mark.parametrize("drain_seconds", [pytest.param("1", id="1s")])
async def test_shutdown_wait_is_bounded(tmp_path: Path, drain_seconds: str) -> None:
    """A request that never completes is cut off at the bound; the process still exits 0."""
    with serve(tmp_path, PIXGATE_SHUTDOWN_TIMEOUT=drain_seconds) as served:
        head, body = upload_request(served.port, imagegen.quadrant_jpeg(300, 200))
        async with connection(served.port) as (reader, writer):
            writer.write(head + body[:100])  # and never the rest
            await writer.drain()
            await asyncio.sleep(0.3)
            started = time.monotonic()
            served.process.send_signal(signal.SIGTERM)
            assert await exit_code(served.process, within=10) == 0
            # The drain waits up to the bound, then cancels the handler and closes.
            assert float(drain_seconds) <= time.monotonic() - started < 3 * float(drain_seconds) + 3
            assert await asyncio.wait_for(reader.read(), timeout=5) == b""


async def test_a_second_signal_cuts_the_drain_short(tmp_path: Path) -> None:
    with serve(tmp_path, PIXGATE_SHUTDOWN_TIMEOUT="60") as served:
        head, body = upload_request(served.port, imagegen.quadrant_jpeg(300, 200))
        async with connection(served.port) as (_, writer):
            writer.write(head + body[:100])  # and never the rest
            await writer.drain()
            await asyncio.sleep(0.3)
            served.process.send_signal(signal.SIGTERM)
            await until_refused(served.port, within=5)
            started = time.monotonic()
            served.process.send_signal(signal.SIGTERM)
            assert await exit_code(served.process, within=10) == 0
            assert time.monotonic() - started < 5  # not the 60 s the drain would allow
    assert "second signal" in (tmp_path / "server.log").read_text()

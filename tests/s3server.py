"""pytest fixtures over moto's standalone S3 server (``loadtest.harness.s3server``).

pytest loads them with ``pytest_plugins = ["tests.s3server"]``: `aws_env` (session: dummy AWS
credentials, restored after), `s3_server` (session: one moto process), `s3_bucket` (function: a
fresh, uniquely named bucket, removed after the test) and `s3_faults` (moto behind a
fault-injecting proxy). `fake_store` is a loopback endpoint that answers with fixed bytes or
never, for timeout tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from loadtest.harness.s3server import (
    MotoServer,
    aws_test_env,
    create_bucket,
    delete_bucket,
    run_moto_server,
)
from tests.faultproxy import FaultProxy


@pytest.fixture(scope="session")
def aws_env() -> Iterator[None]:
    with aws_test_env():
        yield


@pytest.fixture(scope="session")
def s3_server(aws_env: None) -> Iterator[MotoServer]:
    with run_moto_server() as server:
        yield server


@pytest.fixture
def s3_bucket(s3_server: MotoServer) -> Iterator[str]:
    name = f"pixgate-test-{uuid.uuid4().hex[:16]}"
    create_bucket(s3_server.endpoint_url, name)
    yield name
    delete_bucket(s3_server.endpoint_url, name)


@pytest.fixture
async def s3_faults(s3_server: MotoServer) -> AsyncIterator[FaultProxy]:
    """The moto server behind a fault-injecting TCP proxy: point pixgate at `.url`."""
    endpoint = urlsplit(s3_server.endpoint_url)
    assert endpoint.hostname and endpoint.port
    async with FaultProxy((endpoint.hostname, endpoint.port)) as proxy:
        yield proxy


@dataclass(frozen=True, slots=True)
class FakeStore:
    endpoint_url: str
    request_lines: list[str]


@contextlib.asynccontextmanager
async def fake_store(response: bytes | None) -> AsyncIterator[FakeStore]:
    """A loopback HTTP endpoint that answers every request with `response`, or never.

    Records each request line. A connection is held open until the client leaves or the
    block ends.
    """
    handlers: set[asyncio.Task[None]] = set()
    writers: set[asyncio.StreamWriter] = set()
    request_lines: list[str] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        writers.add(writer)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request_lines.append(head.split(b"\r\n", 1)[0].decode())
            if response is not None:
                writer.write(response)
                await writer.drain()
            while await reader.read(65536):  # hold on until the client hangs up
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield FakeStore(f"http://127.0.0.1:{port}", request_lines)
    finally:
        server.close()
        # A connection accepted just now has a handler that has not run yet: let it start
        # and register its writer, so that every accepted socket is closed below.
        await asyncio.sleep(0)
        for writer in writers:
            writer.close()
        await asyncio.gather(*handlers, return_exceptions=True)
        for writer in writers:
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
        await server.wait_closed()

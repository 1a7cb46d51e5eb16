"""moto's standalone S3 server, as a process helper and as pytest fixtures.

Importing this module starts nothing. Code outside pytest (the benchmark) uses the two
context managers directly::

    with aws_test_env(), run_moto_server() as server:
        settings = StorageSettings(s3_endpoint_url=server.endpoint_url)
        create_bucket(server.endpoint_url, "originals")

pytest loads the fixtures with ``pytest_plugins = ["tests.s3server"]``:
`aws_env` (session: dummy AWS credentials, restored after), `s3_server` (session: one moto
process) and `s3_bucket` (function: a fresh, uniquely named bucket, removed after the test).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import boto3  # type: ignore[import-untyped]
import pytest

from config.processes import stop
from tests.faultproxy import FaultProxy

REGION = "us-east-1"
HOST = "127.0.0.1"

# Dummy credentials, and nothing from the developer's own AWS setup leaking in.
_TEST_ENV: dict[str, str | None] = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": None,
    "AWS_SESSION_TOKEN": None,
    "AWS_SECURITY_TOKEN": None,
    "AWS_PROFILE": None,
    "AWS_DEFAULT_PROFILE": None,
    "AWS_ENDPOINT_URL": None,
    "AWS_ENDPOINT_URL_S3": None,
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}


@dataclass(frozen=True, slots=True)
class MotoServer:
    """A running moto server."""

    endpoint_url: str
    pid: int


@contextlib.contextmanager
def aws_test_env() -> Iterator[None]:
    """Set dummy AWS credentials and region in os.environ; restore the old values on exit."""
    saved = {name: os.environ.get(name) for name in _TEST_ENV}
    _apply_env(_TEST_ENV)
    try:
        yield
    finally:
        _apply_env(saved)


@contextlib.contextmanager
def run_moto_server(startup_timeout: float = 30.0) -> Iterator[MotoServer]:
    """Start `python -m moto.server` on a free loopback port; stop it (by PID) on exit."""
    with tempfile.TemporaryFile() as server_log:
        process, endpoint_url = _start(server_log, startup_timeout)
        try:
            yield MotoServer(endpoint_url=endpoint_url, pid=process.pid)
        finally:
            _stop(process)


def s3_client(endpoint_url: str) -> Any:
    """A plain (synchronous) boto3 S3 client for the server at `endpoint_url`."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def create_bucket(endpoint_url: str, name: str) -> None:
    s3_client(endpoint_url).create_bucket(Bucket=name)


def delete_bucket(endpoint_url: str, name: str) -> None:
    """Delete the bucket and everything in it."""
    client = s3_client(endpoint_url)
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
        for item in page.get("Contents", []):
            client.delete_object(Bucket=name, Key=item["Key"])
    client.delete_bucket(Bucket=name)


def free_port() -> int:
    """A loopback TCP port nothing listens on (at the time of asking)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


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


def _apply_env(values: dict[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def _start(server_log: Any, startup_timeout: float) -> tuple[subprocess.Popen[bytes], str]:
    # The port is free when asked but may be taken before moto binds it: then try another.
    for _ in range(3):
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=server_log,
            stderr=subprocess.STDOUT,
        )
        endpoint_url = f"http://{HOST}:{port}"
        try:
            if _wait_until_answering(process, endpoint_url, startup_timeout):
                return process, endpoint_url
        except BaseException:
            _stop(process)
            raise
    server_log.seek(0)
    output = server_log.read()[-2000:].decode(errors="replace")
    raise RuntimeError(f"moto server did not start; its last output:\n{output}")


def _wait_until_answering(
    process: subprocess.Popen[bytes], endpoint_url: str, timeout: float
) -> bool:
    """True once the server answers HTTP; False if it exited (port taken) first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"{endpoint_url}/moto-api/", timeout=1):
                return True
        except urllib.error.HTTPError:
            return True  # any HTTP answer means it is serving
        except OSError:
            time.sleep(0.05)
    _stop(process)
    raise RuntimeError(f"moto server did not answer within {timeout:g}s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    stop(process, grace_s=5)


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

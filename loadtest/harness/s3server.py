"""moto's standalone S3 server as a process helper, for the tests and the benchmarks.

Importing this module starts nothing. Both context managers are used directly::

    with aws_test_env(), run_moto_server() as server:
        settings = StorageSettings(s3_endpoint_url=server.endpoint_url)
        create_bucket(server.endpoint_url, "originals")

The pytest fixtures over them live in ``tests/s3server.py``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3  # type: ignore[import-untyped]

from config.processes import stop
from loadtest.harness.ports import HOST, free_port

REGION = "us-east-1"

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

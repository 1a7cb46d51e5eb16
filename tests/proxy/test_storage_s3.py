"""S3Storage against moto's standalone server over HTTP, and against misbehaving endpoints."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace

import pytest

from loadtest.harness.ports import free_port
from loadtest.harness.s3server import MotoServer, s3_client
from proxy.errors import NotFound, PixgateError, TooLarge, UpstreamError, UpstreamTimeout
from proxy.storage.base import SourceLocation, StorageSettings
from proxy.storage.s3 import S3Storage, open_s3_storage
from tests.s3server import fake_store

MIB = 1 << 20
SETTINGS = StorageSettings(s3_region="us-east-1", timeout_seconds=5.0, max_attempts=2)


def at(bucket: str, key: str = "originals/photo.jpg") -> SourceLocation:
    return SourceLocation(scheme="s3", bucket=bucket, key=key)


@pytest.fixture
async def storage(s3_server: MotoServer) -> AsyncIterator[S3Storage]:
    settings = replace(SETTINGS, s3_endpoint_url=s3_server.endpoint_url)
    async with open_s3_storage(settings) as opened:
        yield opened


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\xff\xd8\xff\xe0 jpeg-ish", id="small"),
        pytest.param(bytes(range(256)) * (MIB // 256) + b"!", id="over-a-mebibyte"),
    ],
)
async def test_put_stat_fetch_round_trip(
    storage: S3Storage, s3_server: MotoServer, s3_bucket: str, data: bytes
) -> None:
    put = await storage.put(at(s3_bucket), data, "image/jpeg")
    stat = await storage.stat(at(s3_bucket))
    blob = await storage.fetch(at(s3_bucket), max_bytes=len(data))

    head = s3_client(s3_server.endpoint_url).head_object(
        Bucket=s3_bucket, Key="originals/photo.jpg"
    )
    assert put == stat
    assert stat.size == len(data)
    assert stat.version == head["ETag"].strip('"')
    assert head["ContentType"] == "image/jpeg"
    assert blob.data == data
    assert blob.version == stat.version


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param(b"aaaa", b"bbbb", id="same-size"),
        pytest.param(b"aaaa", b"aaaaa", id="other-size"),
    ],
)
async def test_version_changes_when_the_bytes_change(
    storage: S3Storage, s3_bucket: str, first: bytes, second: bytes
) -> None:
    before = await storage.put(at(s3_bucket), first, "image/jpeg")
    after = await storage.put(at(s3_bucket), second, "image/jpeg")

    assert after.version != before.version
    assert (await storage.stat(at(s3_bucket))).version == after.version
    assert (await storage.fetch(at(s3_bucket), 10)).version == after.version


async def test_version_is_stable_while_the_object_is_untouched(
    storage: S3Storage, s3_bucket: str
) -> None:
    first = await storage.put(at(s3_bucket), b"same", "image/jpeg")
    again = await storage.put(at(s3_bucket), b"same", "image/jpeg")
    assert first == again == await storage.stat(at(s3_bucket))


Call = Callable[[S3Storage, SourceLocation], Awaitable[object]]


@pytest.mark.parametrize(
    "read",
    [
        pytest.param(lambda s, location: s.stat(location), id="stat"),
        pytest.param(lambda s, location: s.fetch(location, MIB), id="fetch"),
    ],
)
@pytest.mark.parametrize(
    "missing",
    [pytest.param("key", id="missing-key"), pytest.param("bucket", id="missing-bucket")],
)
async def test_reads_of_a_missing_object_are_not_found(
    storage: S3Storage, s3_bucket: str, read: Call, missing: str
) -> None:
    location = at(s3_bucket) if missing == "key" else at(f"{s3_bucket}-gone")
    with pytest.raises(NotFound):
        await read(storage, location)


@pytest.mark.parametrize(
    ("size", "max_bytes", "too_large"),
    [
        pytest.param(1000, 1000, False, id="at-limit"),
        pytest.param(1001, 1000, True, id="one-over"),
        pytest.param(1, 0, True, id="zero-limit"),
    ],
)
async def test_fetch_enforces_max_bytes(
    storage: S3Storage, s3_bucket: str, size: int, max_bytes: int, too_large: bool
) -> None:
    await storage.put(at(s3_bucket), b"x" * size, "image/jpeg")
    if too_large:
        with pytest.raises(TooLarge):
            await storage.fetch(at(s3_bucket), max_bytes)
    else:
        assert len((await storage.fetch(at(s3_bucket), max_bytes)).data) == size


async def test_delete_removes_the_object(storage: S3Storage, s3_bucket: str) -> None:
    await storage.put(at(s3_bucket), b"x", "image/jpeg")
    await storage.delete(at(s3_bucket))
    with pytest.raises(NotFound):
        await storage.stat(at(s3_bucket))


async def test_delete_of_a_missing_object_is_not_an_error(
    storage: S3Storage, s3_bucket: str
) -> None:
    await storage.delete(at(s3_bucket, "never/written.jpg"))


async def test_check_passes_for_an_existing_bucket(storage: S3Storage, s3_bucket: str) -> None:
    await storage.check(at(s3_bucket))


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda s, location: s.check(location), id="check"),
        pytest.param(lambda s, location: s.put(location, b"x", "image/jpeg"), id="put"),
    ],
)
async def test_a_missing_bucket_is_a_store_error_for_check_and_put(
    storage: S3Storage, s3_bucket: str, call: Call
) -> None:
    with pytest.raises(UpstreamError, match=r"\((404|NoSuchBucket)\)"):
        await call(storage, at(f"{s3_bucket}-gone"))


# -- misbehaving endpoints ------------------------------------------------------------------

Operation = Callable[[S3Storage], Awaitable[object]]

OPERATIONS: list[object] = [
    pytest.param(lambda s: s.stat(at("bucket")), id="stat"),
    pytest.param(lambda s: s.fetch(at("bucket"), MIB), id="fetch"),
    pytest.param(lambda s: s.put(at("bucket"), b"x", "image/jpeg"), id="put"),
    pytest.param(lambda s: s.delete(at("bucket")), id="delete"),
]


@contextlib.asynccontextmanager
async def storage_at(
    endpoint_url: str, *, timeout_seconds: float, max_attempts: int
) -> AsyncIterator[S3Storage]:
    settings = replace(
        SETTINGS,
        s3_endpoint_url=endpoint_url,
        timeout_seconds=timeout_seconds,
        max_attempts=max_attempts,
    )
    async with open_s3_storage(settings) as opened:
        yield opened


async def timed(operation: Operation, storage: S3Storage) -> tuple[BaseException, float]:
    started = time.monotonic()
    with pytest.raises(PixgateError) as caught:
        await operation(storage)
    return caught.value, time.monotonic() - started


@pytest.mark.usefixtures("aws_env")
@pytest.mark.parametrize("max_attempts", [1, 2])
@pytest.mark.parametrize(
    "operation", [*OPERATIONS, pytest.param(lambda s: s.check(at("b")), id="check")]
)
async def test_unreachable_endpoint_is_a_quick_upstream_error(
    operation: Operation, max_attempts: int
) -> None:
    port = free_port()  # nothing listens there: connections are refused
    async with storage_at(
        f"http://127.0.0.1:{port}", timeout_seconds=5.0, max_attempts=max_attempts
    ) as storage:
        error, elapsed = await timed(operation, storage)

    assert type(error) is UpstreamError
    assert "127.0.0.1" not in str(error)
    assert str(port) not in str(error)
    assert elapsed < 2.0  # first retry backs off by under a second


@pytest.mark.usefixtures("aws_env")
@pytest.mark.parametrize("max_attempts", [1, 3])
@pytest.mark.parametrize("operation", OPERATIONS)
async def test_endpoint_that_never_answers_is_a_bounded_timeout(
    operation: Operation, max_attempts: int
) -> None:
    async with (
        fake_store(response=None) as store,
        storage_at(store.endpoint_url, timeout_seconds=0.5, max_attempts=max_attempts) as storage,
    ):
        error, elapsed = await timed(operation, storage)

    assert type(error) is UpstreamTimeout
    assert 0.1 < elapsed < 3.0  # the 0.5 s deadline, not the store that never answers


@pytest.mark.usefixtures("aws_env")
async def test_check_reports_a_timeout_as_upstream_error() -> None:
    async with (
        fake_store(response=None) as store,
        storage_at(store.endpoint_url, timeout_seconds=0.3, max_attempts=1) as storage,
    ):
        with pytest.raises(UpstreamError, match="timed out"):
            await storage.check(at("bucket"))


def http_response(status: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"HTTP/1.1 {status}", *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def s3_error(status: str, code: str) -> bytes:
    body = f"<Error><Code>{code}</Code><Message>http://user:secret@host/</Message></Error>"
    return http_response(
        status,
        {
            "Content-Type": "application/xml",
            "Content-Length": str(len(body)),
            "Connection": "close",
        },
        body.encode(),
    )


def chunked(data: bytes, size: int) -> bytes:
    pieces = [data[i : i + size] for i in range(0, len(data), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"


@pytest.mark.usefixtures("aws_env")
@pytest.mark.parametrize(
    ("response", "error", "message"),
    [
        pytest.param(
            # The body never comes: only checking the declared length first can answer.
            http_response("200 OK", {"Content-Length": str(1 << 40), "ETag": '"abc"'}),
            TooLarge,
            "larger than 1000 bytes",
            id="declared-length-over-limit",
        ),
        pytest.param(
            http_response(
                "200 OK",
                {"Transfer-Encoding": "chunked", "ETag": '"abc"', "Connection": "close"},
                chunked(b"x" * 5000, 700),
            ),
            TooLarge,
            "larger than 1000 bytes",
            id="undeclared-length-over-limit",
        ),
        pytest.param(
            http_response("200 OK", {"Content-Length": "3", "Connection": "close"}, b"abc"),
            UpstreamError,
            "no ETag",
            id="no-etag",
        ),
        pytest.param(
            s3_error("503 Slow Down", "SlowDown"), UpstreamError, r"\(SlowDown\)", id="slow-down"
        ),
        pytest.param(
            s3_error("403 Forbidden", "AccessDenied"),
            UpstreamError,
            r"\(AccessDenied\)",
            id="access-denied",
        ),
        pytest.param(
            s3_error("500 Internal Server Error", "&lt;script&gt;x&lt;/script&gt;"),
            UpstreamError,
            r"\(error\)",
            id="odd-error-code-not-echoed",
        ),
        pytest.param(
            s3_error("500 Internal Server Error", "<script>x</script>"),
            UpstreamError,
            r"\(bad response\)",
            id="malformed-error-document",
        ),
    ],
)
async def test_fetch_from_a_misbehaving_store(
    response: bytes, error: type[PixgateError], message: str
) -> None:
    async with (
        fake_store(response) as store,
        storage_at(store.endpoint_url, timeout_seconds=1.0, max_attempts=1) as storage,
    ):
        with pytest.raises(error, match=message) as caught:
            await storage.fetch(at("bucket"), max_bytes=1000)

    assert "secret" not in caught.value.message
    assert "127.0.0.1" not in caught.value.message


@pytest.mark.usefixtures("aws_env")
@pytest.mark.parametrize(
    ("max_attempts", "requests"),
    [pytest.param(1, 1, id="no-retry"), pytest.param(2, 2, id="one-retry")],
)
async def test_retries_transient_errors_up_to_max_attempts_in_path_style(
    max_attempts: int, requests: int
) -> None:
    async with (
        fake_store(s3_error("503 Slow Down", "SlowDown")) as store,
        storage_at(store.endpoint_url, timeout_seconds=5.0, max_attempts=max_attempts) as storage,
    ):
        with pytest.raises(UpstreamError, match="SlowDown"):
            await storage.fetch(at("bucket", "a/photo.jpg"), MIB)

    paths = [line.split()[1].split("?")[0] for line in store.request_lines]
    assert paths == ["/bucket/a/photo.jpg"] * requests

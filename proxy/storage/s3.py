"""Originals in S3 (or an S3-compatible store), over one long-lived aiobotocore client.

Open the backend with `open_s3_storage(settings)` from the app's cleanup_ctx: it creates the
client once and closes its connection pool on exit. Credentials come from botocore's default
chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN first); the region from
`settings.s3_region`, else AWS_DEFAULT_REGION.

Every call is idempotent (HEAD, GET, whole-body PUT, DELETE), so every call is retried on a
transient failure (connection refused or reset, 5xx or throttling, a timed-out attempt, a
body cut off mid-way) up to `settings.max_attempts` times, with jittered exponential backoff
(50 ms, 100 ms, ... at most 1 s). The retries are ours, not botocore's, so that a body read
failing half-way is retried too, and the backoff stays short enough to answer quickly.

Time is bounded twice: botocore's connect/read timeouts bound one attempt, and an asyncio
deadline of `settings.timeout_seconds` bounds the whole call, retries and body included.
Every failure becomes a pixgate error whose message names the action and the S3 error code
only, never the endpoint or credentials.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import aiohttp
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    HTTPClientError,
    IncompleteReadError,
    ReadTimeoutError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from proxy.capped import read_capped
from proxy.errors import NotFound, PixgateError, TooLarge, UpstreamError, UpstreamTimeout
from proxy.storage.base import (
    SourceBlob,
    SourceLocation,
    SourceStat,
    StorageSettings,
    StoredObject,
)

if TYPE_CHECKING:
    from types_aiobotocore_s3.client import S3Client
    from types_aiobotocore_s3.type_defs import ListObjectsV2OutputTypeDef

log = logging.getLogger(__name__)

T = TypeVar("T")

# What S3 answers for a missing object (GetObject) or for any 404 on HEAD, which has no body.
_MISSING = frozenset({"NoSuchKey", "NoSuchBucket", "NotFound", "404"})
_NOTHING_MISSING: frozenset[str] = frozenset()
# botocore's default of 10 would queue a busy proxy's fetches behind each other.
_MAX_POOL_CONNECTIONS = 64
_CHUNK = 1 << 16
_SAFE_CODE = re.compile(r"[A-Za-z0-9.]{1,64}")
# Answers that say "try again": the store is busy or failed, not the request.
_TRANSIENT_CODES = frozenset(
    {
        "InternalError",
        "ServiceUnavailable",
        "SlowDown",
        "RequestTimeout",
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequests",
    }
)
# Failures of the connection or of one attempt, including a body cut off mid-way.
_TRANSIENT_ERRORS = (
    HTTPClientError,  # connection closed, read timeout, streaming error
    BotoConnectionError,  # refused, connect timeout
    IncompleteReadError,  # fewer body bytes than Content-Length
    aiohttp.ClientConnectionError,
    aiohttp.ClientPayloadError,
    OSError,
    TimeoutError,  # one attempt's timeout; the overall deadline cancels instead
)
_BACKOFF_FIRST_SECONDS = 0.05
_BACKOFF_MAX_SECONDS = 1.0


@contextlib.asynccontextmanager
async def open_s3_storage(settings: StorageSettings) -> AsyncIterator[S3Storage]:
    """Create the client, yield the backend, close the client's connections on exit."""
    session = get_session()
    async with session.create_client(
        "s3",
        region_name=settings.s3_region,
        endpoint_url=settings.s3_endpoint_url,
        config=client_config(settings),
    ) as client:
        yield S3Storage(
            client, timeout_seconds=settings.timeout_seconds, max_attempts=settings.max_attempts
        )


def client_config(settings: StorageSettings) -> AioConfig:
    """botocore settings: per-attempt timeouts that leave room for retries in the deadline."""
    attempts = max(settings.max_attempts, 1)
    # One hung attempt must not eat the whole deadline, or there would never be a retry.
    attempt_timeout = settings.timeout_seconds / attempts
    return AioConfig(
        connect_timeout=attempt_timeout,
        read_timeout=attempt_timeout,
        # S3Storage retries (whole calls, bodies included); botocore makes one attempt.
        retries={"mode": "standard", "total_max_attempts": 1},
        max_pool_connections=_MAX_POOL_CONNECTIONS,
        # A custom endpoint (MinIO, Ceph, moto) rarely has wildcard DNS for virtual hosts.
        s3={"addressing_style": "path"} if settings.s3_endpoint_url else None,
    )


class S3Storage:
    """Serves `s3` locations; `bucket` and `key` are used as given."""

    __slots__ = ("_client", "_max_attempts", "_timeout_seconds")

    def __init__(self, client: S3Client, *, timeout_seconds: float, max_attempts: int = 1) -> None:
        self._client = client
        self._timeout_seconds = timeout_seconds
        self._max_attempts = max(max_attempts, 1)

    async def stat(self, location: SourceLocation) -> SourceStat:
        async def attempt() -> SourceStat:
            head = await self._client.head_object(Bucket=location.bucket, Key=location.key)
            return SourceStat(size=head["ContentLength"], version=_version(head.get("ETag")))

        return await self._call("stat", location, attempt, missing=_MISSING)

    async def fetch(self, location: SourceLocation, max_bytes: int) -> SourceBlob:
        async def attempt() -> SourceBlob:
            response = await self._client.get_object(Bucket=location.bucket, Key=location.key)
            async with response["Body"] as body:
                declared = response.get("ContentLength")
                if declared is not None and declared > max_bytes:
                    raise _too_large(max_bytes)
                # The declared length may be absent (chunked) or wrong: cap what we read too.
                data = await read_capped(lambda: body.read(_CHUNK), max_bytes, _too_large)
            return SourceBlob(data=data, version=_version(response.get("ETag")))

        return await self._call("fetch", location, attempt, missing=_MISSING)

    async def put(self, location: SourceLocation, data: bytes, content_type: str) -> SourceStat:
        async def attempt() -> SourceStat:
            response = await self._client.put_object(
                Bucket=location.bucket, Key=location.key, Body=data, ContentType=content_type
            )
            return SourceStat(size=len(data), version=_version(response.get("ETag")))

        return await self._call("put", location, attempt, missing=_NOTHING_MISSING)

    async def delete(self, location: SourceLocation) -> None:
        async def attempt() -> None:
            await self._client.delete_object(Bucket=location.bucket, Key=location.key)

        # S3 answers 204 for a missing key; some compatible stores answer NoSuchKey.
        with contextlib.suppress(NotFound):
            await self._call("delete", location, attempt, missing=frozenset({"NoSuchKey"}))

    async def check(self, location: SourceLocation) -> None:
        """Readiness: HEAD the location's bucket. Every failure, a timeout too, is UpstreamError."""

        async def attempt() -> None:
            await self._client.head_bucket(Bucket=location.bucket)

        try:
            await self._call("check", location, attempt, missing=_NOTHING_MISSING)
        except UpstreamTimeout:
            raise UpstreamError("s3 check timed out") from None

    async def list_objects(self, folder: SourceLocation) -> AsyncIterator[StoredObject]:
        prefix = folder.key.rstrip("/") + "/" if folder.key else ""
        token: str | None = None
        while True:

            async def page(token: str | None = token) -> ListObjectsV2OutputTypeDef:
                if token is None:
                    return await self._client.list_objects_v2(
                        Bucket=folder.bucket, Prefix=prefix, Delimiter="/"
                    )
                return await self._client.list_objects_v2(
                    Bucket=folder.bucket, Prefix=prefix, Delimiter="/", ContinuationToken=token
                )

            listed = await self._call("list", folder, page, missing=_NOTHING_MISSING)
            for item in listed.get("Contents", []):
                location = SourceLocation("s3", folder.bucket, item["Key"])
                yield StoredObject(location, item["LastModified"])
            token = listed.get("NextContinuationToken")
            if not listed.get("IsTruncated") or not token:
                return

    async def _call(
        self,
        action: str,
        location: SourceLocation,
        attempt: Callable[[], Awaitable[T]],
        *,
        missing: frozenset[str],
    ) -> T:
        """Run `attempt`, again after a transient failure, all within the deadline; translate
        whatever it finally raises."""
        try:
            async with asyncio.timeout(self._timeout_seconds):
                return await self._retrying(action, attempt)
        except PixgateError:
            raise
        # asyncio's deadline and aiobotocore's body read timeout are both TimeoutError.
        except (TimeoutError, ReadTimeoutError, ConnectTimeoutError) as exc:
            _log_failure(action, location, exc)
            raise UpstreamTimeout(f"s3 {action} timed out") from None
        except ClientError as exc:
            code = _error_code(exc)
            if code in missing:
                raise NotFound("source not found") from None
            _log_failure(action, location, exc, code)
            raise UpstreamError(f"s3 {action} failed ({code})") from None
        except (BotoCoreError, aiohttp.ClientError, OSError) as exc:
            _log_failure(action, location, exc)
            raise UpstreamError(f"s3 {action} failed (store unreachable)") from None
        except Exception as exc:
            # botocore's parsers can trip over a malformed answer (TypeError, KeyError, ...).
            _log_failure(action, location, exc, exc_info=True)
            raise UpstreamError(f"s3 {action} failed (bad response)") from None

    async def _retrying(self, action: str, attempt: Callable[[], Awaitable[T]]) -> T:
        for number in range(1, self._max_attempts + 1):
            try:
                return await attempt()
            except Exception as exc:
                if number == self._max_attempts or not _transient(exc):
                    raise
                delay = backoff_seconds(number)
                log.info(
                    "event=storage_retry backend=s3 action=%s attempt=%d error=%s delay_ms=%d",
                    action,
                    number,
                    type(exc).__name__,
                    delay * 1000,
                )
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # the last attempt returned or raised


def backoff_seconds(failed_attempts: int) -> float:
    """Full jitter: uniform in [0, min(1 s, 50 ms x 2^(n-1))], so retrying clients spread out."""
    ceiling = min(_BACKOFF_MAX_SECONDS, _BACKOFF_FIRST_SECONDS * 2 ** (failed_attempts - 1))
    return random.uniform(0, ceiling)


def _transient(exc: Exception) -> bool:
    """Worth another attempt: the store or the connection failed, not the request."""
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if isinstance(status, int) and (status >= 500 or status == 429):
            return True
        return exc.response.get("Error", {}).get("Code") in _TRANSIENT_CODES
    return isinstance(exc, _TRANSIENT_ERRORS)


def _version(etag: str | None) -> str:
    version = (etag or "").strip('"')
    if not version:
        # Without it a changed original would keep serving stale variants.
        raise UpstreamError("s3 response carried no ETag")
    return version


def _error_code(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    code = str(error.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode"))
    # The code is echoed to clients: keep it if it looks like one, whatever the store sent.
    return code if _SAFE_CODE.fullmatch(code) else "error"


def _too_large(max_bytes: int) -> TooLarge:
    return TooLarge(f"source is larger than {max_bytes} bytes")


def _log_failure(
    action: str,
    location: SourceLocation,
    exc: BaseException,
    code: str | None = None,
    *,
    exc_info: bool = False,
) -> None:
    log.warning(
        "event=storage_error backend=s3 action=%s bucket=%s error=%s code=%s",
        action,
        location.bucket,
        type(exc).__name__,
        code or "-",
        exc_info=exc if exc_info else None,
    )

"""The PostgreSQL metadata backend: psycopg 3 (async) over a bounded psycopg_pool pool.

All of the dialect's SQL is in this module. Connections run in autocommit; a statement that
needs more than one round trip in one snapshot says so with ``conn.transaction()``.
exif is jsonb and timestamps are timestamptz, read back as UTC.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import psycopg
import psycopg.errors
from psycopg import AsyncConnection
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import AsyncConnectionPool

from uploader.db import (
    COLUMN_LIST,
    DatabaseOpenError,
    DuplicateImage,
    Migration,
    RepositoryError,
    RepositoryUnavailable,
    animation_fields,
    exif_to_json,
    record_from_row,
    require_aware,
    require_limit,
    startup_error,
    validate_placeholder,
    validate_record,
)
from uploader.models import ImageRecord

__all__ = [
    "PostgresRepository",
    "apply_migrations",
    "connect",
    "describe",
    "open_postgres_repository",
]

log = logging.getLogger("pixgate.uploader.db")

# Any fixed 64-bit key: every pixgate migrator in the cluster queues on it.
_MIGRATION_LOCK_KEY = 0x70697867617465  # "pixgate"
# A live row that vanished between our conflict and our re-read is retried this often.
_INSERT_ATTEMPTS = 3

_INSERT = (
    "INSERT INTO images (" + COLUMN_LIST + ")"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s, NULL, %s, %s, %s, %s, %s)"
    " ON CONFLICT ((COALESCE(owner, '')), sha256) WHERE deleted_at IS NULL DO NOTHING"
)
_SELECT_LIVE = "SELECT " + COLUMN_LIST + " FROM images WHERE image_id = %s AND deleted_at IS NULL"
_SELECT_LIVE_BY_SHA256 = (
    "SELECT " + COLUMN_LIST + " FROM images"
    " WHERE COALESCE(owner, '') = %s AND sha256 = %s AND deleted_at IS NULL"
)
_MARK_DELETED = "UPDATE images SET deleted_at = %s WHERE image_id = %s AND deleted_at IS NULL"
_PURGE = "DELETE FROM images WHERE image_id = %s"
_SELECT_DELETED = (
    "SELECT " + COLUMN_LIST + " FROM images"
    " WHERE deleted_at IS NOT NULL AND deleted_at < %s ORDER BY deleted_at, image_id LIMIT %s"
)
_SELECT_WITHOUT_PLACEHOLDER = (
    "SELECT " + COLUMN_LIST + " FROM images"
    " WHERE thumbhash IS NULL AND deleted_at IS NULL AND image_id > %s ORDER BY image_id LIMIT %s"
)
_SET_PLACEHOLDER = (
    "UPDATE images SET thumbhash = %s, dominant_color = %s"
    " WHERE image_id = %s AND thumbhash IS NULL AND deleted_at IS NULL"
)
_CHECK = "SELECT 1 FROM images LIMIT 0"
_TOTAL_VIEWS = "SELECT coalesce(sum(views), 0)::bigint FROM image_views WHERE image_id = %s"

_LOCK_MIGRATIONS = "SELECT pg_advisory_xact_lock(%s)"
_CREATE_SCHEMA_MIGRATIONS = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
)
_IS_APPLIED = "SELECT 1 FROM schema_migrations WHERE version = %s"
_RECORD_APPLIED = "INSERT INTO schema_migrations (version) VALUES (%s)"


class PostgresRepository:
    """ImageRepository on a psycopg_pool pool; see `uploader.repository.ImageRepository`."""

    def __init__(self, pool: AsyncConnectionPool[AsyncConnection[Any]], url: str) -> None:
        self._pool = pool
        self._url = url

    async def insert(self, record: ImageRecord) -> ImageRecord:
        validate_record(record)
        stored = replace(record, uploaded_at=datetime.now(UTC), deleted_at=None)
        params = (
            *_fields(stored),
            exif_to_json(stored.exif),
            stored.uploaded_at,
            stored.thumbhash,
            stored.dominant_color,
            *animation_fields(stored),
        )
        # ON CONFLICT waits for a concurrent insert of the same key to commit, then does
        # nothing: no error, no aborted statement; the winner is read in a second statement.
        for _ in range(_INSERT_ATTEMPTS):
            async with self._connection() as conn:
                cursor = await conn.execute(_INSERT, params)
                if cursor.rowcount == 1:
                    return stored
                winner = await _fetch_one(
                    conn, _SELECT_LIVE_BY_SHA256, (stored.owner or "", stored.sha256)
                )
            if winner is not None:
                raise DuplicateImage(winner)
        raise RepositoryError("insert kept conflicting with images deleted meanwhile")

    async def get(self, image_id: str) -> ImageRecord | None:
        async with self._connection() as conn:
            return await _fetch_one(conn, _SELECT_LIVE, (image_id,))

    async def find_by_sha256(self, owner: str | None, sha256: str) -> ImageRecord | None:
        async with self._connection() as conn:
            return await _fetch_one(conn, _SELECT_LIVE_BY_SHA256, (owner or "", sha256))

    async def mark_deleted(self, image_id: str, at: datetime) -> bool:
        require_aware(at)
        async with self._connection() as conn:
            cursor = await conn.execute(_MARK_DELETED, (at, image_id))
            return cursor.rowcount == 1

    async def purge(self, image_id: str) -> None:
        async with self._connection() as conn:
            await conn.execute(_PURGE, (image_id,))

    async def list_deleted(self, *, deleted_before: datetime, limit: int) -> list[ImageRecord]:
        require_aware(deleted_before)
        require_limit(limit)
        async with self._connection() as conn:
            cursor = await conn.execute(_SELECT_DELETED, (deleted_before, limit))
            return [_record(row) for row in await cursor.fetchall()]

    async def list_without_placeholder(self, *, after: str, limit: int) -> list[ImageRecord]:
        require_limit(limit)
        async with self._connection() as conn:
            cursor = await conn.execute(_SELECT_WITHOUT_PLACEHOLDER, (after, limit))
            return [_record(row) for row in await cursor.fetchall()]

    async def set_placeholder(self, image_id: str, thumbhash: str, dominant_color: str) -> bool:
        validate_placeholder(thumbhash, dominant_color)
        async with self._connection() as conn:
            cursor = await conn.execute(_SET_PLACEHOLDER, (thumbhash, dominant_color, image_id))
            return cursor.rowcount == 1

    async def total_views(self, image_id: str) -> int:
        async with self._connection() as conn:
            cursor = await conn.execute(_TOTAL_VIEWS, (image_id,))
            row = await cursor.fetchone()
        return 0 if row is None else int(row[0])

    async def check(self) -> None:
        async with self._connection() as conn:
            await conn.execute(_CHECK)

    async def close(self) -> None:
        await self._pool.close()

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[AsyncConnection[Any]]:
        """A pooled connection; driver errors leave as RepositoryError subclasses."""
        try:
            async with self._pool.connection() as conn:
                yield conn
        except psycopg.Error as exc:
            raise map_error(exc, self._url) from exc
        except OSError as exc:  # TimeoutError included
            raise RepositoryUnavailable(f"PostgreSQL unreachable: {type(exc).__name__}") from exc


@contextlib.asynccontextmanager
async def open_postgres_repository(
    url: str, pool_size: int, connect_timeout: float
) -> AsyncIterator[PostgresRepository]:
    """Open a pool of at most `pool_size` connections; close it on exit.

    Opening does not wait for the server: a process starts while the database is down and
    `check()` reports it. Waiting for a pooled connection, and connecting, each give up
    after `connect_timeout` seconds.
    """
    if pool_size < 1:
        raise ValueError("pool_size must be at least 1")
    pool: AsyncConnectionPool[AsyncConnection[Any]] = AsyncConnectionPool(
        conninfo(url, connect_timeout),
        min_size=1,
        max_size=pool_size,
        open=False,
        timeout=connect_timeout,
        kwargs={"autocommit": True},
        # One round trip per checkout buys transparent recovery after a server restart.
        check=AsyncConnectionPool.check_connection,
        name="pixgate-images",
    )
    await pool.open(wait=False)
    repository = PostgresRepository(pool, url)
    # Not awaited: the process serves while the database is down; this only says so once.
    first_contact = asyncio.create_task(_warn_if_unreachable(url, connect_timeout))
    try:
        yield repository
    finally:
        first_contact.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await first_contact
        await repository.close()


async def _warn_if_unreachable(url: str, connect_timeout: float) -> None:
    try:
        async with await connect(url, connect_timeout):
            pass
    except DatabaseOpenError as error:
        log.warning("%s; uploads answer 503 until it can be reached", error)


async def connect(url: str, connect_timeout: float) -> AsyncConnection[Any]:
    """One autocommit connection to `url`; DatabaseOpenError naming the host if refused."""
    try:
        return await AsyncConnection.connect(conninfo(url, connect_timeout), autocommit=True)
    except psycopg.Error as exc:
        detail = redact(str(exc).strip().splitlines()[0] if str(exc).strip() else "", url)
        reason = f"cannot connect ({detail or type(exc).__name__})"
        raise DatabaseOpenError(describe(url), reason) from exc
    except OSError as exc:  # TimeoutError included
        raise DatabaseOpenError(describe(url), f"cannot connect ({type(exc).__name__})") from exc


def describe(url: str) -> str:
    """`url` as a person reads it, without its password: the database, host:port and user."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.Error:
        return "a PostgreSQL database (the URL does not parse)"
    host = params.get("host") or "the local socket"
    port = params.get("port") or "5432"
    user = f" as {params['user']}" if params.get("user") else ""
    database = params.get("dbname") or params.get("user") or "(default)"
    return f"PostgreSQL database {database} at {host}:{port}{user}"


async def apply_migrations(
    url: str, migrations: Sequence[Migration], connect_timeout: float
) -> list[str]:
    """Apply the `migrations` not yet recorded, in order, one transaction each; return their
    versions. Migrators in other processes queue on an advisory lock."""
    applied: list[str] = []
    connection = await connect(url, connect_timeout)
    try:
        async with connection as conn:
            async with conn.transaction():
                await conn.execute(_LOCK_MIGRATIONS, (_MIGRATION_LOCK_KEY,))
                await conn.execute(_CREATE_SCHEMA_MIGRATIONS)
            for migration in migrations:
                async with conn.transaction():
                    await conn.execute(_LOCK_MIGRATIONS, (_MIGRATION_LOCK_KEY,))
                    cursor = await conn.execute(_IS_APPLIED, (migration.version,))
                    if await cursor.fetchone() is not None:
                        continue
                    # Bytes: a file's text is not a literal query; no parameters, so the
                    # file may hold several statements.
                    await conn.execute(migration.sql.encode())
                    await conn.execute(_RECORD_APPLIED, (migration.version,))
                applied.append(migration.version)
    except psycopg.Error as exc:
        raise startup_error(map_error(exc, url), describe(url)) from exc
    except OSError as exc:
        unreachable = RepositoryUnavailable(f"PostgreSQL unreachable: {type(exc).__name__}")
        raise startup_error(unreachable, describe(url)) from exc
    return applied


def conninfo(url: str, connect_timeout: float) -> str:
    """libpq connection string for `url`, with a connect timeout and application name unless
    the URL sets them. ValueError (without the URL) if it does not parse."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.Error as exc:
        raise ValueError(f"invalid PostgreSQL URL: {redact(str(exc).strip(), url)}") from None
    params.setdefault("connect_timeout", max(2, math.ceil(connect_timeout)))  # libpq's minimum is 2
    params.setdefault("application_name", "pixgate")
    return make_conninfo("", **params)


def map_error(exc: psycopg.Error, url: str) -> RepositoryError:
    """Our error for a driver error. The driver's first line is kept, minus any password."""
    detail = redact(str(exc).strip().splitlines()[0] if str(exc).strip() else "", url)
    what = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    if (
        isinstance(exc, psycopg.errors.UniqueViolation)
        and exc.diag.constraint_name == "images_pkey"
    ):
        return RepositoryError(f"image_id already exists ({what})")
    if isinstance(exc, psycopg.errors.UndefinedTable):
        return RepositoryUnavailable(f"schema missing, run migrations ({what})")
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        return RepositoryUnavailable(f"PostgreSQL unavailable ({what})")
    return RepositoryError(f"PostgreSQL error ({what})")


def redact(message: str, url: str) -> str:
    """`message` without the password of `url` (user info or ``?password=``), raw or decoded."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(details withheld: the URL does not parse)"
    secrets = [parts.netloc.rpartition("@")[0].partition(":")[2]]
    secrets += [value for name, value in parse_qsl(parts.query) if name == "password"]
    for secret in sorted({*secrets, *map(unquote, secrets)} - {""}, key=len, reverse=True):
        message = message.replace(secret, "***")
    return message


def _fields(record: ImageRecord) -> tuple[Any, ...]:
    return (
        record.image_id,
        record.owner,
        record.title,
        record.description,
        record.width,
        record.height,
        record.format,
        record.size_bytes,
        record.sha256,
        record.storage_key,
        record.processing_status,
    )


async def _fetch_one(
    conn: AsyncConnection[Any], query: str, params: tuple[Any, ...]
) -> ImageRecord | None:
    cursor = await conn.execute(query, params)
    row = await cursor.fetchone()
    return None if row is None else _record(row)


def _record(row: tuple[Any, ...]) -> ImageRecord:
    return record_from_row(row, exif=dict, timestamp=_utc)


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)

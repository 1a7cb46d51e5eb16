"""The SQLite metadata backend: stdlib sqlite3, for development and single-node installs.

All of the dialect's SQL is in this module. One connection lives on one dedicated worker
thread: every call queues on that thread, so calls are serialised without a lock, a
cancelled caller cannot let two calls overlap, the connection keeps sqlite3's same-thread
check, and the loop's default executor is never filled with threads waiting on SQLite.
The database runs in WAL mode with a busy timeout, so other processes may share the file.
exif is JSON text; timestamps are ISO-8601 UTC text (fixed width, so they sort as text).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

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
    "SqliteRepository",
    "apply_migrations",
    "describe",
    "open_sqlite_repository",
    "sqlite_path",
]

_T = TypeVar("_T")

_INSERT = (
    "INSERT INTO images (" + COLUMN_LIST + ")"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?)"
    " ON CONFLICT (COALESCE(owner, ''), sha256) WHERE deleted_at IS NULL DO NOTHING"
)
_SELECT_LIVE = "SELECT " + COLUMN_LIST + " FROM images WHERE image_id = ? AND deleted_at IS NULL"
_SELECT_LIVE_BY_SHA256 = (
    "SELECT " + COLUMN_LIST + " FROM images"
    " WHERE COALESCE(owner, '') = ? AND sha256 = ? AND deleted_at IS NULL"
)
_MARK_DELETED = "UPDATE images SET deleted_at = ? WHERE image_id = ? AND deleted_at IS NULL"
_PURGE = "DELETE FROM images WHERE image_id = ?"
# SQLite does not enforce image_views' foreign key (that needs a pragma on every connection).
_PURGE_VIEWS = "DELETE FROM image_views WHERE image_id = ?"
_SELECT_DELETED = (
    "SELECT " + COLUMN_LIST + " FROM images"
    " WHERE deleted_at IS NOT NULL AND deleted_at < ? ORDER BY deleted_at, image_id LIMIT ?"
)
_SELECT_WITHOUT_PLACEHOLDER = (
    "SELECT " + COLUMN_LIST + " FROM images"
    " WHERE thumbhash IS NULL AND deleted_at IS NULL AND image_id > ? ORDER BY image_id LIMIT ?"
)
_SET_PLACEHOLDER = (
    "UPDATE images SET thumbhash = ?, dominant_color = ?"
    " WHERE image_id = ? AND thumbhash IS NULL AND deleted_at IS NULL"
)
_CHECK = "SELECT 1 FROM images LIMIT 0"
_TOTAL_VIEWS = "SELECT coalesce(sum(views), 0) FROM image_views WHERE image_id = ?"

_CREATE_SCHEMA_MIGRATIONS = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version TEXT PRIMARY KEY NOT NULL, applied_at TEXT NOT NULL)"
)
_IS_APPLIED = "SELECT 1 FROM schema_migrations WHERE version = ?"
_RECORD_APPLIED = "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)"

# Result codes (the low byte of an extended code) that mean "try again later", not "wrong".
_TRANSIENT = {
    5,  # SQLITE_BUSY
    6,  # SQLITE_LOCKED
    10,  # SQLITE_IOERR
    13,  # SQLITE_FULL
    14,  # SQLITE_CANTOPEN
}


class SqliteRepository:
    """ImageRepository on one SQLite connection; see `uploader.repository.ImageRepository`."""

    def __init__(self, connection: sqlite3.Connection, worker: ThreadPoolExecutor) -> None:
        self._connection = connection
        self._worker = worker
        self._closed = False

    async def insert(self, record: ImageRecord) -> ImageRecord:
        validate_record(record)
        now = datetime.now(UTC)
        stored = replace(record, uploaded_at=now, deleted_at=None)
        params = (
            stored.image_id,
            stored.owner,
            stored.title,
            stored.description,
            stored.width,
            stored.height,
            stored.format,
            stored.size_bytes,
            stored.sha256,
            stored.storage_key,
            stored.processing_status,
            exif_to_json(stored.exif),
            _text(now),
            stored.thumbhash,
            stored.dominant_color,
            *animation_fields(stored),
        )

        def insert(conn: sqlite3.Connection) -> ImageRecord | None:
            # IMMEDIATE: the write lock from the start, so the winner read below is the one
            # that made our insert a no-op, even with other processes on the file.
            with immediate_transaction(conn):
                if conn.execute(_INSERT, params).rowcount == 1:
                    return None
                return _fetch_one(conn, _SELECT_LIVE_BY_SHA256, (stored.owner or "", stored.sha256))

        winner = await self._run(insert)
        if winner is not None:
            raise DuplicateImage(winner)
        return stored

    async def get(self, image_id: str) -> ImageRecord | None:
        return await self._run(lambda conn: _fetch_one(conn, _SELECT_LIVE, (image_id,)))

    async def find_by_sha256(self, owner: str | None, sha256: str) -> ImageRecord | None:
        return await self._run(
            lambda conn: _fetch_one(conn, _SELECT_LIVE_BY_SHA256, (owner or "", sha256))
        )

    async def mark_deleted(self, image_id: str, at: datetime) -> bool:
        params = (_text(require_aware(at)), image_id)
        return await self._run(lambda conn: conn.execute(_MARK_DELETED, params).rowcount == 1)

    async def purge(self, image_id: str) -> None:
        def purge(conn: sqlite3.Connection) -> None:
            with immediate_transaction(conn):
                conn.execute(_PURGE_VIEWS, (image_id,))
                conn.execute(_PURGE, (image_id,))

        await self._run(purge)

    async def list_deleted(self, *, deleted_before: datetime, limit: int) -> list[ImageRecord]:
        params = (_text(require_aware(deleted_before)), require_limit(limit))
        return await self._run(
            lambda conn: [_record(row) for row in conn.execute(_SELECT_DELETED, params)]
        )

    async def list_without_placeholder(self, *, after: str, limit: int) -> list[ImageRecord]:
        params = (after, require_limit(limit))
        return await self._run(
            lambda conn: [_record(row) for row in conn.execute(_SELECT_WITHOUT_PLACEHOLDER, params)]
        )

    async def set_placeholder(self, image_id: str, thumbhash: str, dominant_color: str) -> bool:
        validate_placeholder(thumbhash, dominant_color)
        params = (thumbhash, dominant_color, image_id)
        return await self._run(lambda conn: conn.execute(_SET_PLACEHOLDER, params).rowcount == 1)

    async def total_views(self, image_id: str) -> int:
        row = await self._run(lambda conn: conn.execute(_TOTAL_VIEWS, (image_id,)).fetchone())
        return int(row[0])

    async def check(self) -> None:
        await self._run(lambda conn: conn.execute(_CHECK))

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # Queued behind every call already submitted, so nothing uses the connection after.
        await asyncio.get_running_loop().run_in_executor(self._worker, self._connection.close)
        self._worker.shutdown(wait=False)

    async def _run(self, call: Callable[[sqlite3.Connection], _T]) -> _T:
        if self._closed:
            raise RepositoryUnavailable("the SQLite repository is closed")
        return await _on_worker(self._worker, call, self._connection)


@contextlib.asynccontextmanager
async def open_sqlite_repository(
    url: str, pool_size: int, connect_timeout: float
) -> AsyncIterator[SqliteRepository]:
    """Open the database file of `url`, creating it and its folder if missing; close on exit.

    `pool_size` is ignored: SQLite has one writer anyway. `connect_timeout` is the busy timeout.
    DatabaseOpenError names the file when it cannot be opened.
    """
    path = sqlite_path(url)
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pixgate-sqlite")
    try:
        connection = await _on_worker(worker, _open, path, connect_timeout)
    except BaseException:
        worker.shutdown(wait=False)
        raise
    repository = SqliteRepository(connection, worker)
    try:
        yield repository
    finally:
        await repository.close()


async def apply_migrations(
    url: str, migrations: Sequence[Migration], connect_timeout: float
) -> list[str]:
    """Apply the `migrations` not yet recorded, in order, one transaction each; return their
    versions. SQLite's write lock (BEGIN IMMEDIATE) queues concurrent migrators."""
    path = sqlite_path(url)
    try:
        return await asyncio.to_thread(_apply_migrations, path, migrations, connect_timeout)
    except sqlite3.Error as exc:
        raise startup_error(map_error(exc), describe(path)) from exc


def describe(path: str) -> str:
    """The database at `path` as start-up messages name it."""
    return f"the SQLite database {path}"


def sqlite_path(url: str) -> str:
    """The file of ``sqlite:///abs/path.db``, or of ``sqlite:///./rel.db`` against the cwd."""
    parts = urlsplit(url)
    path = unquote(parts.path)
    if (
        parts.scheme != "sqlite"
        or parts.netloc
        or parts.query
        or parts.fragment
        or not path.startswith("/")
        or path.endswith("/")
    ):
        raise ValueError(
            "a SQLite URL is sqlite:///absolute/path.db or sqlite:///./relative/path.db"
        )
    if path.startswith(("/./", "/../")):
        return os.path.abspath(path[1:])
    return path


def map_error(exc: sqlite3.Error) -> RepositoryError:
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    what = f"{getattr(exc, 'sqlite_errorname', type(exc).__name__)}: {exc}"
    if isinstance(exc, sqlite3.IntegrityError) and "images.image_id" in str(exc):
        return RepositoryError(f"image_id already exists ({what})")
    if str(exc).startswith("no such table"):
        return RepositoryUnavailable(f"schema missing, run migrations ({what})")
    if code in _TRANSIENT:
        return RepositoryUnavailable(f"SQLite unavailable ({what})")
    return RepositoryError(f"SQLite error ({what})")


async def _on_worker(worker: ThreadPoolExecutor, call: Callable[..., _T], *args: Any) -> _T:
    try:
        return await asyncio.get_running_loop().run_in_executor(worker, call, *args)
    except sqlite3.Error as exc:
        raise map_error(exc) from exc


def _open(path: str, connect_timeout: float) -> sqlite3.Connection:
    """`_connect`, after making the file's folder (the default, ./var/pixgate.db, lives in
    a folder a fresh checkout or container does not have); failures name the file."""
    folder = os.path.dirname(path)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        why = "a file is in the way" if isinstance(exc, FileExistsError) else exc.strerror
        reason = f"its folder {folder} cannot be made ({why or type(exc).__name__})"
        raise DatabaseOpenError(describe(path), reason) from exc
    try:
        return _connect(path, connect_timeout)
    except sqlite3.Error as exc:
        reason = f"cannot be opened ({getattr(exc, 'sqlite_errorname', type(exc).__name__)}: {exc})"
        raise DatabaseOpenError(describe(path), reason) from exc


def _connect(path: str, connect_timeout: float) -> sqlite3.Connection:
    # isolation_level=None: autocommit; transactions are explicit (see immediate_transaction).
    connection = sqlite3.connect(path, timeout=connect_timeout, isolation_level=None)
    try:
        connection.execute(f"PRAGMA busy_timeout = {int(connect_timeout * 1000)}")
        connection.execute("PRAGMA journal_mode = WAL")
        # NORMAL is safe in WAL mode: a power cut may lose the last commits, never corrupts.
        connection.execute("PRAGMA synchronous = NORMAL")
    except BaseException:
        connection.close()
        raise
    return connection


@contextlib.contextmanager
def immediate_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """One write transaction on an autocommit connection, taken at BEGIN (no upgrade races)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _apply_migrations(
    path: str, migrations: Sequence[Migration], connect_timeout: float
) -> list[str]:
    applied: list[str] = []
    conn = _open(path, connect_timeout)
    try:
        with immediate_transaction(conn):
            conn.execute(_CREATE_SCHEMA_MIGRATIONS)
        for migration in migrations:
            with immediate_transaction(conn):
                if conn.execute(_IS_APPLIED, (migration.version,)).fetchone() is not None:
                    continue
                for statement in _statements(migration.sql):
                    conn.execute(statement)
                conn.execute(_RECORD_APPLIED, (migration.version, _text(datetime.now(UTC))))
            applied.append(migration.version)
    finally:
        conn.close()
    return applied


def _statements(script: str) -> Iterator[str]:
    """The statements of `script`, one at a time (sqlite3 executes one per call, and
    executescript would commit our transaction first)."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending
            pending = ""
    if any(line.strip() and not line.strip().startswith("--") for line in pending.splitlines()):
        raise ValueError("migration ends with an unterminated statement")


def _fetch_one(conn: sqlite3.Connection, query: str, params: tuple[Any, ...]) -> ImageRecord | None:
    row = conn.execute(query, params).fetchone()
    return None if row is None else _record(row)


def _record(row: tuple[Any, ...]) -> ImageRecord:
    return record_from_row(row, exif=json.loads, timestamp=datetime.fromisoformat)


def _text(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")

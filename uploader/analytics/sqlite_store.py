"""The analytics store on SQLite: all of its SQL. One connection, WAL, explicit transactions.

Days are ``YYYY-MM-DD`` text and timestamps ISO-8601 UTC text, as in the images table.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta

from uploader.analytics.batch import Batch
from uploader.analytics.store import (
    BILLABLE_MINIMUM_BYTES,
    AgeBand,
    Committed,
    LatencyRow,
    Position,
    PositionMoved,
    TrafficRow,
    chunks,
)
from uploader.db.sqlite import immediate_transaction, map_error, sqlite_path

__all__ = ["SqliteStore", "open_sqlite_store"]

_MAX_PARAMETERS = 500

_SELECT_POSITION = (
    "SELECT device, inode, offset_bytes, head_bytes, head_sha256, lines"
    " FROM log_positions WHERE source = ?"
)
_INSERT_POSITION = (
    "INSERT INTO log_positions"
    " (source, device, inode, offset_bytes, head_bytes, head_sha256, lines, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source) DO NOTHING"
)
_MOVE_POSITION = (
    "UPDATE log_positions SET device = ?, inode = ?, offset_bytes = ?, head_bytes = ?,"
    " head_sha256 = ?, lines = ?, updated_at = ?"
    " WHERE source = ? AND device = ? AND inode = ? AND offset_bytes = ?"
)
_ADD_VIEWS = (
    "INSERT INTO image_views (image_id, day, views) VALUES (?, ?, ?)"
    " ON CONFLICT (image_id, day) DO UPDATE SET views = image_views.views + excluded.views"
)
_ADD_TRAFFIC = (
    "INSERT INTO edge_traffic (minute, status, cache_status, format, accept_class,"
    " requests, bytes, views, unattributed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (minute, status, cache_status, format, accept_class) DO UPDATE SET"
    " requests = edge_traffic.requests + excluded.requests,"
    " bytes = edge_traffic.bytes + excluded.bytes,"
    " views = edge_traffic.views + excluded.views,"
    " unattributed = edge_traffic.unattributed + excluded.unattributed"
)
_ADD_LATENCY = (
    "INSERT INTO edge_latency (minute, le_ms, requests) VALUES (?, ?, ?)"
    " ON CONFLICT (minute, le_ms) DO UPDATE SET"
    " requests = edge_latency.requests + excluded.requests"
)
_TRAFFIC_SINCE = (
    "SELECT status, cache_status, format, accept_class, sum(requests), sum(bytes), sum(views),"
    " sum(unattributed) FROM edge_traffic WHERE minute >= ?"
    " GROUP BY status, cache_status, format, accept_class"
)
_LATENCY_SINCE = (
    "SELECT le_ms, sum(requests) FROM edge_latency WHERE minute >= ? GROUP BY le_ms ORDER BY le_ms"
)


def _live_ids_query(count: int) -> str:
    marks = ", ".join("?" * count)
    return f"SELECT image_id FROM images WHERE deleted_at IS NULL AND image_id IN ({marks})"


class SqliteStore:
    """AnalyticsStore on one SQLite connection; see `uploader.analytics.store`."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def position(self, source: str) -> Position | None:
        with _errors():
            row = self._connection.execute(_SELECT_POSITION, (source,)).fetchone()
        return None if row is None else Position(*row)

    def commit(
        self,
        source: str,
        expected: Position | None,
        new: Position,
        batch: Batch,
        before_commit: Callable[[], None] | None = None,
    ) -> Committed:
        conn = self._connection
        now = datetime.now(UTC).isoformat(timespec="microseconds")
        moved = (new.device, new.inode, new.offset, new.head_bytes, new.head_sha256, new.lines)
        with _errors(), immediate_transaction(conn):
            if expected is None:
                cursor = conn.execute(_INSERT_POSITION, (source, *moved, now))
            else:
                where = (source, expected.device, expected.inode, expected.offset)
                cursor = conn.execute(_MOVE_POSITION, (*moved, now, *where))
            if cursor.rowcount != 1:
                raise PositionMoved(f"the position of {source} was moved by someone else")
            rows = batch.view_rows()
            live = self._live_ids(sorted({image_id for image_id, _, _ in rows}))
            kept = sorted(row for row in rows if row[0] in live)
            conn.executemany(_ADD_VIEWS, kept)
            conn.executemany(
                _ADD_TRAFFIC, [(*key, *counts) for key, counts in sorted(batch.traffic.items())]
            )
            conn.executemany(
                _ADD_LATENCY, [(*key, count) for key, count in sorted(batch.latency.items())]
            )
            if before_commit is not None:
                before_commit()
        added = sum(count for _, _, count in kept)
        return Committed(views=added, dropped_views=batch.view_count - added)

    def _live_ids(self, image_ids: Sequence[str]) -> set[str]:
        live: set[str] = set()
        for some in chunks(image_ids, _MAX_PARAMETERS):
            query = _live_ids_query(len(some))
            live.update(image_id for (image_id,) in self._connection.execute(query, tuple(some)))
        return live

    def traffic_since(self, minute: int) -> list[TrafficRow]:
        with _errors():
            rows = self._connection.execute(_TRAFFIC_SINCE, (minute,)).fetchall()
        return [TrafficRow(*row) for row in rows]

    def latency_since(self, minute: int) -> list[LatencyRow]:
        with _errors():
            rows = self._connection.execute(_LATENCY_SINCE, (minute,)).fetchall()
        return [LatencyRow(*row) for row in rows]

    def storage_by_age(self, now: datetime, band_starts: Sequence[int]) -> list[AgeBand]:
        # Younger than a band's start is a later upload: compare uploaded_at with now - days.
        cases = " ".join(f"WHEN uploaded_at > ? THEN {band}" for band in range(len(band_starts)))
        cutoffs = tuple(
            (now - timedelta(days=days)).astimezone(UTC).isoformat(timespec="microseconds")
            for days in band_starts
        )
        query = (
            f"SELECT CASE {cases} ELSE {len(band_starts)} END AS band, count(*),"
            " total(size_bytes), total(max(size_bytes, ?))"
            " FROM images WHERE deleted_at IS NULL GROUP BY band ORDER BY band"
        )
        with _errors():
            rows = self._connection.execute(query, (*cutoffs, BILLABLE_MINIMUM_BYTES)).fetchall()
        return [
            AgeBand(band, count, int(size), int(billable)) for band, count, size, billable in rows
        ]

    def close(self) -> None:
        self._connection.close()


@contextlib.contextmanager
def open_sqlite_store(url: str, timeout: float) -> Iterator[SqliteStore]:
    with _errors():
        connection = sqlite3.connect(sqlite_path(url), timeout=timeout, isolation_level=None)
        connection.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        connection.execute("PRAGMA journal_mode = WAL")
    store = SqliteStore(connection)
    try:
        yield store
    finally:
        store.close()


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:
        raise map_error(exc) from exc

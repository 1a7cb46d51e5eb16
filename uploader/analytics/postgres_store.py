"""The analytics store on PostgreSQL: all of its SQL. One synchronous psycopg connection."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from uploader.analytics.batch import Batch
from uploader.analytics.store import (
    BILLABLE_MINIMUM_BYTES,
    AgeBand,
    Committed,
    LatencyRow,
    Position,
    PositionMoved,
    TrafficRow,
)
from uploader.db import RepositoryUnavailable
from uploader.db.postgres import conninfo, map_error

__all__ = ["PostgresStore", "open_postgres_store"]

_SELECT_POSITION = (
    "SELECT device, inode, offset_bytes, head_bytes, head_sha256, lines"
    " FROM log_positions WHERE source = %s"
)
_INSERT_POSITION = (
    "INSERT INTO log_positions"
    " (source, device, inode, offset_bytes, head_bytes, head_sha256, lines, updated_at)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, now()) ON CONFLICT (source) DO NOTHING"
)
_MOVE_POSITION = (
    "UPDATE log_positions SET device = %s, inode = %s, offset_bytes = %s, head_bytes = %s,"
    " head_sha256 = %s, lines = %s, updated_at = now()"
    " WHERE source = %s AND device = %s AND inode = %s AND offset_bytes = %s"
)
# FOR KEY SHARE: a purge of one of these rows waits for this transaction, so no view row is
# added for an image whose row is gone.
_LIVE_IDS = (
    "SELECT image_id FROM images WHERE deleted_at IS NULL AND image_id = ANY(%s) FOR KEY SHARE"
)
_ADD_VIEWS = (
    "INSERT INTO image_views (image_id, day, views) VALUES (%s, %s, %s)"
    " ON CONFLICT (image_id, day) DO UPDATE SET views = image_views.views + EXCLUDED.views"
)
_ADD_TRAFFIC = (
    "INSERT INTO edge_traffic (minute, status, cache_status, format, accept_class,"
    " requests, bytes, views, unattributed) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (minute, status, cache_status, format, accept_class) DO UPDATE SET"
    " requests = edge_traffic.requests + EXCLUDED.requests,"
    " bytes = edge_traffic.bytes + EXCLUDED.bytes,"
    " views = edge_traffic.views + EXCLUDED.views,"
    " unattributed = edge_traffic.unattributed + EXCLUDED.unattributed"
)
_ADD_LATENCY = (
    "INSERT INTO edge_latency (minute, le_ms, requests) VALUES (%s, %s, %s)"
    " ON CONFLICT (minute, le_ms) DO UPDATE SET"
    " requests = edge_latency.requests + EXCLUDED.requests"
)
_TRAFFIC_SINCE = (
    "SELECT status, cache_status, format, accept_class, sum(requests)::bigint,"
    " sum(bytes)::bigint, sum(views)::bigint, sum(unattributed)::bigint"
    " FROM edge_traffic WHERE minute >= %s GROUP BY status, cache_status, format, accept_class"
)
_LATENCY_SINCE = (
    "SELECT le_ms, sum(requests)::bigint FROM edge_latency WHERE minute >= %s"
    " GROUP BY le_ms ORDER BY le_ms"
)


class PostgresStore:
    """AnalyticsStore on one PostgreSQL connection; see `uploader.analytics.store`."""

    def __init__(self, connection: psycopg.Connection[Any], url: str) -> None:
        self._connection = connection
        self._url = url

    def position(self, source: str) -> Position | None:
        with self._errors():
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
        moved = (new.device, new.inode, new.offset, new.head_bytes, new.head_sha256, new.lines)
        with self._errors(), conn.transaction(), conn.cursor() as cursor:
            if expected is None:
                cursor.execute(_INSERT_POSITION, (source, *moved))
            else:
                where = (source, expected.device, expected.inode, expected.offset)
                cursor.execute(_MOVE_POSITION, (*moved, *where))
            if cursor.rowcount != 1:
                raise PositionMoved(f"the position of {source} was moved by someone else")
            rows = batch.view_rows()
            ids = sorted({image_id for image_id, _, _ in rows})
            live = {image_id for (image_id,) in cursor.execute(_LIVE_IDS, (ids,)).fetchall()}
            kept = sorted(row for row in rows if row[0] in live)
            if kept:
                cursor.executemany(_ADD_VIEWS, kept)
            if batch.traffic:
                cursor.executemany(
                    _ADD_TRAFFIC, [(*key, *counts) for key, counts in sorted(batch.traffic.items())]
                )
            if batch.latency:
                cursor.executemany(
                    _ADD_LATENCY, [(*key, count) for key, count in sorted(batch.latency.items())]
                )
            if before_commit is not None:
                before_commit()
        added = sum(count for _, _, count in kept)
        return Committed(views=added, dropped_views=batch.view_count - added)

    def traffic_since(self, minute: int) -> list[TrafficRow]:
        with self._errors(), self._connection.transaction():
            rows = self._connection.execute(_TRAFFIC_SINCE, (minute,)).fetchall()
        return [TrafficRow(*row) for row in rows]

    def latency_since(self, minute: int) -> list[LatencyRow]:
        with self._errors(), self._connection.transaction():
            rows = self._connection.execute(_LATENCY_SINCE, (minute,)).fetchall()
        return [LatencyRow(*row) for row in rows]

    def storage_by_age(self, now: datetime, band_starts: Sequence[int]) -> list[AgeBand]:
        cases = " ".join(f"WHEN uploaded_at > %s THEN {band}" for band in range(len(band_starts)))
        cutoffs = tuple((now - timedelta(days=days)).astimezone(UTC) for days in band_starts)
        query = (
            f"SELECT CASE {cases} ELSE {len(band_starts)} END AS band, count(*),"
            " coalesce(sum(size_bytes), 0)::bigint,"
            " coalesce(sum(greatest(size_bytes, %s)), 0)::bigint"
            " FROM images WHERE deleted_at IS NULL GROUP BY band ORDER BY band"
        )
        with self._errors(), self._connection.transaction():
            rows = self._connection.execute(
                query.encode(), (*cutoffs, BILLABLE_MINIMUM_BYTES)
            ).fetchall()
        return [AgeBand(*row) for row in rows]

    def close(self) -> None:
        self._connection.close()

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except psycopg.Error as exc:
            raise map_error(exc, self._url) from exc


@contextlib.contextmanager
def open_postgres_store(url: str, timeout: float) -> Iterator[PostgresStore]:
    try:
        connection = psycopg.connect(conninfo(url, timeout), autocommit=True)
    except psycopg.Error as exc:
        raise map_error(exc, url) from exc
    except OSError as exc:
        raise RepositoryUnavailable(f"PostgreSQL unreachable: {type(exc).__name__}") from exc
    store = PostgresStore(connection, url)
    try:
        yield store
    finally:
        store.close()

"""A migrated metadata database (SQLite or a real PostgreSQL) with three images, one deleted,
and helpers to write logs and read what the ingester stored."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from loadtest.harness.edgelogs import LoggedRequest, nginx_line
from proxy.ids import storage_key_for
from uploader.analytics.attribution import Attributor
from uploader.analytics.formats import FORMATS
from uploader.analytics.ingest import CrashAt, IngestTotals, LogIngester
from uploader.analytics.store import open_store
from uploader.db.sqlite import sqlite_path
from uploader.ids import new_image_id
from uploader.migrate import migrate
from uploader.models import ImageRecord
from uploader.repository import open_repository

STORAGE_URL = "file:///srv/media"


@dataclass(frozen=True, slots=True)
class Images:
    url: str
    live: tuple[str, str]
    deleted: str


def record(image_id: str, size_bytes: int = 1_000_000) -> ImageRecord:
    return ImageRecord(
        image_id=image_id,
        owner=None,
        title="",
        description="",
        width=400,
        height=300,
        format="jpeg",
        size_bytes=size_bytes,
        sha256=hashlib.sha256(image_id.encode()).hexdigest(),
        storage_key=storage_key_for(image_id),
        processing_status="completed",
    )


@pytest.fixture
async def images(repository_url: str) -> Images:
    await migrate(repository_url)
    first, second, gone = new_image_id(), new_image_id(), new_image_id()
    async with open_repository(repository_url) as repository:
        for image_id in (first, second, gone):
            await repository.insert(record(image_id))
        await repository.mark_deleted(gone, datetime.now(UTC))
    return Images(repository_url, (first, second), gone)


def query(url: str, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
    if url.startswith("sqlite:"):
        conn = sqlite3.connect(sqlite_path(url))
        try:
            with conn:
                return conn.execute(sql.replace("%s", "?"), tuple(params)).fetchall()
        finally:
            conn.close()
    with psycopg.connect(url) as pg:
        cursor = pg.execute(sql.encode(), tuple(params))
        return cursor.fetchall() if cursor.description else []


def views(url: str) -> dict[str, int]:
    """Total views per image, as stored."""
    rows = query(url, "SELECT image_id, sum(views) FROM image_views GROUP BY image_id")
    return {str(image_id): int(str(total)) for image_id, total in rows}


def append(path: Path, *requests: LoggedRequest | str) -> None:
    """Log lines as the edge writes them: a LoggedRequest as nginx JSON, text as it is."""
    with path.open("a") as log:
        for request in requests:
            log.write(request if isinstance(request, str) else nginx_line(request) + "\n")


def ingest(
    url: str,
    log: Path,
    *,
    batch_lines: int = 1000,
    crash_at: CrashAt | None = None,
    log_format: str = "nginx",
) -> IngestTotals:
    with open_store(url) as store:
        ingester = LogIngester(
            store,
            log,
            FORMATS[log_format],
            Attributor(STORAGE_URL, (), {}).image_id,
            batch_lines=batch_lines,
            crash_at=crash_at,
        )
        return ingester.run_once()

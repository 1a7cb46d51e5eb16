"""Schema migrations, on SQLite and on a real PostgreSQL: once each, in order, atomically."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from loadtest.harness.ports import free_port
from uploader.db import Migration, RepositoryError, RepositoryUnavailable
from uploader.db.sqlite import sqlite_path
from uploader.migrate import load_migrations, migrate
from uploader.repository import backend_for

ALL_VERSIONS = ["0001_create_images", "0002_views", "0003_placeholders", "0004_animation"]


def query(url: str, sql: str) -> list[tuple[object, ...]]:
    """Rows of `sql`, read with a plain driver connection outside the code under test."""
    if url.startswith("sqlite:"):
        with sqlite3.connect(sqlite_path(url)) as conn:
            rows = conn.execute(sql).fetchall()
        conn.close()
        return rows
    with psycopg.connect(url) as pg_conn:
        return pg_conn.execute(sql.encode()).fetchall()


def table_names(url: str) -> set[str]:
    if url.startswith("sqlite:"):
        sql = "SELECT name FROM sqlite_master WHERE type IN ('table', 'index')"
    else:
        sql = (
            "SELECT relname FROM pg_class JOIN pg_namespace n ON n.oid = relnamespace"
            " WHERE nspname = 'public'"
        )
    return {str(name) for (name,) in query(url, sql)}


@pytest.mark.parametrize("dialect", [pytest.param("postgresql"), pytest.param("sqlite")])
def test_every_dialect_ships_the_same_versions_in_order(dialect: str) -> None:
    migrations = load_migrations(dialect)
    assert [migration.version for migration in migrations] == ALL_VERSIONS
    assert all("CREATE TABLE images" in migration.sql for migration in migrations[:1])


async def test_applies_once_then_nothing(repository_url: str) -> None:
    before = datetime.now(UTC)
    assert await migrate(repository_url) == ALL_VERSIONS
    assert await migrate(repository_url) == []

    recorded = query(repository_url, "SELECT version, applied_at FROM schema_migrations")
    assert [version for version, _ in recorded] == ALL_VERSIONS
    applied_at = recorded[0][1]
    if isinstance(applied_at, str):  # SQLite keeps ISO-8601 UTC text
        applied_at = datetime.fromisoformat(applied_at)
    assert isinstance(applied_at, datetime)
    assert before - timedelta(seconds=5) <= applied_at <= datetime.now(UTC) + timedelta(seconds=5)


async def test_creates_the_tables_and_indexes(repository_url: str) -> None:
    await migrate(repository_url)
    assert {
        "images",
        "schema_migrations",
        "images_live_owner_sha256",
        "images_deleted_at",
        "images_without_placeholder",
    } <= table_names(repository_url)


async def test_postgresql_column_types(pg_url: str) -> None:
    await migrate(pg_url)
    rows = query(
        pg_url,
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'images'",
    )
    types = {str(name): str(data_type) for name, data_type in rows}
    assert types["exif"] == "jsonb"
    assert types["uploaded_at"] == types["deleted_at"] == "timestamp with time zone"
    assert types["size_bytes"] == "bigint"


async def test_concurrent_runs_apply_each_file_once(repository_url: str) -> None:
    results = await asyncio.gather(*(migrate(repository_url) for _ in range(4)))

    # Each file is a transaction of its own: runs may share the work, never repeat it.
    assert sorted(version for applied in results for version in applied) == ALL_VERSIONS
    assert [v for (v,) in query(repository_url, "SELECT version FROM schema_migrations")] == (
        ALL_VERSIONS
    )


async def test_a_failing_migration_is_rolled_back_and_stops_the_run(repository_url: str) -> None:
    backend = backend_for(repository_url)
    migrations = [
        Migration("0001_good", "CREATE TABLE good (x integer);"),
        Migration(
            "0002_bad", "CREATE TABLE half_done (x integer);\nINSERT INTO nowhere VALUES (1);"
        ),
        Migration("0003_later", "CREATE TABLE later (x integer);"),
    ]
    with pytest.raises(RepositoryError):
        await backend.apply_migrations(repository_url, migrations, 5.0)

    names = table_names(repository_url)
    assert "good" in names and "half_done" not in names and "later" not in names
    assert [v for (v,) in query(repository_url, "SELECT version FROM schema_migrations")] == [
        "0001_good"
    ]
    # Fixed, the run resumes where it stopped.
    fixed = [
        migrations[0],
        Migration("0002_bad", "CREATE TABLE half_done (x integer);"),
        migrations[2],
    ]
    assert await backend.apply_migrations(repository_url, fixed, 5.0) == ["0002_bad", "0003_later"]


async def test_unreachable_postgresql_is_unavailable() -> None:
    url = f"postgresql://pixgate:s3cret-pw@127.0.0.1:{free_port()}/pixgate"
    with pytest.raises(RepositoryUnavailable) as caught:
        await migrate(url, connect_timeout=1.0)
    assert "s3cret-pw" not in str(caught.value)


async def test_unknown_scheme_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="'mysql'"):
        await migrate("mysql://db/pixgate")


def execute(url: str, sql: str) -> None:
    """Run one statement with a plain driver connection, committed."""
    if url.startswith("sqlite:"):
        conn = sqlite3.connect(sqlite_path(url))
        try:
            with conn:
                conn.execute(sql)
        finally:
            conn.close()
        return
    with psycopg.connect(url, autocommit=True) as pg_conn:
        pg_conn.execute(sql.encode())


_OLD_ROW = (
    "INSERT INTO images (image_id, owner, title, description, width, height, format,"
    " size_bytes, sha256, storage_key, processing_status, uploaded_at)"
    " VALUES ('img_old', NULL, '', '', 4, 3, 'jpeg', 1, '{sha}', 'originals/img_old',"
    " 'completed', '2026-01-01T00:00:00+00:00')"
).format(sha="a" * 64)


@pytest.mark.parametrize(
    ("assignment", "accepted"),
    [
        pytest.param(
            "thumbhash = 'XteFDQookoewh3l4iH0BKvlncHdwd4d4hw==', dominant_color = '#148ca0'",
            True,
            id="both",
        ),
        pytest.param("dominant_color = '#148CA0'", False, id="uppercase-colour"),
        pytest.param(
            "thumbhash = 'not base64!!', dominant_color = '#148ca0'", False, id="bad-hash"
        ),
        pytest.param("dominant_color = 'red'", False, id="named-colour"),
    ],
)
async def test_placeholders_migration_keeps_old_rows_and_checks_values(
    repository_url: str, assignment: str, accepted: bool
) -> None:
    backend = backend_for(repository_url)
    first = load_migrations(backend.dialect)[:1]
    await backend.apply_migrations(repository_url, first, 5.0)
    execute(repository_url, _OLD_ROW)
    assert await migrate(repository_url) == ALL_VERSIONS[1:]
    assert query(repository_url, "SELECT thumbhash, dominant_color FROM images") == [(None, None)]
    # Rows from before the animation columns read as stills.
    assert query(repository_url, "SELECT frames, duration_ms, loop FROM images") == [(1, 0, 0)]
    update = f"UPDATE images SET {assignment} WHERE image_id = 'img_old'"
    if accepted:
        execute(repository_url, update)
        assert query(repository_url, "SELECT dominant_color FROM images") == [("#148ca0",)]
    else:
        with pytest.raises((sqlite3.IntegrityError, psycopg.errors.CheckViolation)):
            execute(repository_url, update)

"""The image repository, on SQLite and on a real PostgreSQL: the same behaviour through one
Protocol."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import math
import re
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from loadtest.harness.pgserver import PostgresServer
from loadtest.harness.ports import free_port
from proxy.errors import StartupError
from proxy.ids import storage_key_for
from uploader.db import startup_error
from uploader.db.sqlite import sqlite_path
from uploader.migrate import migrate
from uploader.models import ImageRecord
from uploader.repository import (
    BACKENDS,
    DatabaseOpenError,
    DuplicateImage,
    ImageRepository,
    RepositoryError,
    RepositoryUnavailable,
    open_repository,
)

NESTED_EXIF: dict[str, Any] = {
    "Make": "Canon",
    "FNumber": 2.8,
    "ISOSpeedRatings": [100, 200],
    "GPS": {"GPSLatitude": [52.0, 22.5, 0.0], "GPSLatitudeRef": "N", "Fix": None},
    "UserComment": 'café ✓ "quoted" back\\slash',
    "Flash": False,
}


# A real ThumbHash (25 bytes, with alpha) in standard base64.
THUMBHASH = "XteFDQookoewh3l4iH0BKvlncHdwd4d4hw=="


def new_record(
    *, owner: str | None = "alice", content: bytes | None = None, **changes: Any
) -> ImageRecord:
    image_id = uuid.uuid4().hex
    data = content if content is not None else uuid.uuid4().bytes
    values: dict[str, Any] = {
        "image_id": image_id,
        "owner": owner,
        "title": "Sunset",
        "description": "Over the bay",
        "width": 4000,
        "height": 3000,
        "format": "jpeg",
        "size_bytes": 1_234_567,
        "sha256": hashlib.sha256(data).hexdigest(),
        "storage_key": storage_key_for(image_id),
        "processing_status": "completed",
    }
    return ImageRecord(**(values | changes))


@pytest.fixture
async def repository(repository_url: str) -> AsyncIterator[ImageRepository]:
    await migrate(repository_url)
    async with open_repository(repository_url) as opened:
        yield opened


# --- insert and read ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "record",
    [
        pytest.param(new_record(), id="owned-no-exif"),
        pytest.param(new_record(owner=None), id="anonymous"),
        pytest.param(new_record(exif=NESTED_EXIF), id="nested-exif"),
        pytest.param(
            new_record(owner="ŻÓŁW", title="", description="line 1\nline 2 — ✓", format="avif"),
            id="unicode-and-empty-title",
        ),
        pytest.param(new_record(width=1, height=1, size_bytes=0), id="smallest"),
        pytest.param(new_record(size_bytes=2**40, width=2**31 - 1), id="largest"),
        pytest.param(
            new_record(thumbhash=THUMBHASH, dominant_color="#148ca0"), id="with-placeholder"
        ),
    ],
)
async def test_insert_then_get_returns_every_field(
    repository: ImageRepository, record: ImageRecord
) -> None:
    before = datetime.now(UTC)
    stored = await repository.insert(record)
    after = datetime.now(UTC)

    assert stored.uploaded_at is not None
    assert stored.uploaded_at.utcoffset() == timedelta(0)
    assert before <= stored.uploaded_at <= after
    assert dataclasses.replace(stored, uploaded_at=None) == record
    fetched = await repository.get(record.image_id)
    assert fetched == stored
    assert fetched.uploaded_at is not None and fetched.uploaded_at.tzinfo is not None
    assert await repository.find_by_sha256(record.owner, record.sha256) == stored


async def test_insert_sets_the_timestamps_itself(repository: ImageRepository) -> None:
    long_ago = datetime(2001, 1, 1, tzinfo=UTC)
    stored = await repository.insert(new_record(uploaded_at=long_ago, deleted_at=long_ago))

    assert stored.uploaded_at is not None and stored.uploaded_at > long_ago
    assert stored.deleted_at is None
    assert await repository.get(stored.image_id) == stored


@pytest.mark.parametrize(
    "lookup",
    [
        pytest.param(lambda r: r.get("no-such-image"), id="get-unknown"),
        pytest.param(lambda r: r.find_by_sha256("alice", "0" * 64), id="sha256-unknown"),
    ],
)
async def test_unknown_images_are_none(repository: ImageRepository, lookup: Any) -> None:
    await repository.insert(new_record())
    assert await lookup(repository) is None


# --- dedup ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first_owner", "second_owner", "duplicate"),
    [
        pytest.param("alice", "alice", True, id="same-owner"),
        pytest.param(None, None, True, id="both-anonymous"),
        pytest.param("alice", "bob", False, id="other-owner"),
        pytest.param(None, "alice", False, id="anonymous-then-owner"),
        pytest.param("alice", None, False, id="owner-then-anonymous"),
    ],
)
async def test_same_bytes_are_a_duplicate_for_the_same_owner_only(
    repository: ImageRepository,
    first_owner: str | None,
    second_owner: str | None,
    duplicate: bool,
) -> None:
    first = await repository.insert(new_record(owner=first_owner, content=b"same bytes"))
    second = new_record(owner=second_owner, content=b"same bytes")

    if duplicate:
        with pytest.raises(DuplicateImage) as caught:
            await repository.insert(second)
        assert caught.value.existing == first
        assert await repository.get(second.image_id) is None
    else:
        assert (await repository.insert(second)).image_id == second.image_id
        assert await repository.find_by_sha256(second_owner, second.sha256) is not None
    assert await repository.find_by_sha256(first_owner, first.sha256) == first


async def test_concurrent_inserts_of_the_same_bytes_have_one_winner(repository_url: str) -> None:
    await migrate(repository_url)
    attempts = [new_record(owner="alice", content=b"raced bytes") for _ in range(10)]
    async with open_repository(repository_url, pool_size=len(attempts)) as repository:
        results = await asyncio.gather(
            *(repository.insert(record) for record in attempts), return_exceptions=True
        )
        winners = [result for result in results if isinstance(result, ImageRecord)]
        losers = [result for result in results if isinstance(result, DuplicateImage)]

        assert len(winners) == 1 and len(losers) == len(attempts) - 1
        assert all(loser.existing == winners[0] for loser in losers)
        assert await repository.find_by_sha256("alice", attempts[0].sha256) == winners[0]
        alive = [await repository.get(record.image_id) for record in attempts]
        assert [record for record in alive if record is not None] == winners


async def test_a_taken_image_id_is_an_error_not_a_duplicate(repository: ImageRepository) -> None:
    first = await repository.insert(new_record())
    with pytest.raises(RepositoryError, match="image_id already exists") as caught:
        await repository.insert(new_record(image_id=first.image_id))
    assert not isinstance(caught.value, DuplicateImage)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param({"owner": ""}, "owner", id="empty-owner"),
        pytest.param({"sha256": "AB" * 32}, "sha256", id="uppercase-sha256"),
        pytest.param({"sha256": "ab" * 31}, "sha256", id="short-sha256"),
        pytest.param({"title": "a\x00b"}, "title", id="nul-in-title"),
        pytest.param({"exif": {"Note": "a\x00"}}, "exif", id="nul-in-exif"),
        pytest.param({"exif": {"Ratio": math.nan}}, "exif", id="nan-in-exif"),
        pytest.param({"exif": {"Raw": b"\xff\xd8"}}, "exif", id="bytes-in-exif"),
    ],
)
async def test_records_either_store_cannot_hold_are_refused(
    repository: ImageRepository, changes: dict[str, Any], message: str
) -> None:
    record = new_record(**changes)
    with pytest.raises(ValueError, match=message):
        await repository.insert(record)
    assert await repository.get(record.image_id) is None


# --- delete, purge, reaper --------------------------------------------------------------------


async def test_a_deleted_image_is_gone_and_its_bytes_may_come_back(
    repository: ImageRepository,
) -> None:
    first = await repository.insert(new_record(content=b"photo"))
    deleted_at = datetime(2030, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)

    assert await repository.mark_deleted(first.image_id, deleted_at) is True
    assert await repository.get(first.image_id) is None
    assert await repository.find_by_sha256("alice", first.sha256) is None
    assert await repository.mark_deleted(first.image_id, deleted_at) is False

    again = await repository.insert(new_record(content=b"photo"))
    assert await repository.find_by_sha256("alice", first.sha256) == again
    deleted = await repository.list_deleted(deleted_before=deleted_at + timedelta(1), limit=10)
    assert deleted == [dataclasses.replace(first, deleted_at=deleted_at)]


async def test_mark_deleted_of_an_unknown_image_is_false(repository: ImageRepository) -> None:
    assert await repository.mark_deleted("no-such-image", datetime.now(UTC)) is False


async def test_mark_deleted_needs_an_aware_time(repository: ImageRepository) -> None:
    stored = await repository.insert(new_record())
    with pytest.raises(ValueError, match="timezone-aware"):
        await repository.mark_deleted(stored.image_id, datetime(2030, 1, 1))
    assert await repository.get(stored.image_id) == stored


async def test_list_deleted_is_oldest_first_bounded_and_before_the_cutoff(
    repository: ImageRepository,
) -> None:
    start = datetime(2030, 1, 1, tzinfo=UTC)
    records = [await repository.insert(new_record()) for _ in range(4)]
    # Deleted at start+3h, +2h, +1h, +0h: the list comes back in the opposite order.
    for hours, record in zip(range(3, -1, -1), records, strict=True):
        await repository.mark_deleted(record.image_id, start + timedelta(hours=hours))
    live = await repository.insert(new_record())

    listed = await repository.list_deleted(deleted_before=start + timedelta(hours=3), limit=2)
    assert [record.image_id for record in listed] == [records[3].image_id, records[2].image_id]
    everything = await repository.list_deleted(deleted_before=start + timedelta(days=1), limit=9)
    assert [record.image_id for record in everything] == [r.image_id for r in reversed(records)]
    assert live.image_id not in {record.image_id for record in everything}


@pytest.mark.parametrize(
    "deleted_first", [pytest.param(False, id="live"), pytest.param(True, id="deleted")]
)
async def test_purge_removes_the_row(repository: ImageRepository, deleted_first: bool) -> None:
    stored = await repository.insert(new_record())
    when = datetime(2030, 1, 1, tzinfo=UTC)
    if deleted_first:
        await repository.mark_deleted(stored.image_id, when)

    await repository.purge(stored.image_id)
    await repository.purge(stored.image_id)  # again: not an error

    assert await repository.get(stored.image_id) is None
    assert await repository.list_deleted(deleted_before=when + timedelta(1), limit=9) == []
    assert await repository.mark_deleted(stored.image_id, when) is False


# --- readiness, failures, lifecycle -------------------------------------------------------------


async def test_check_passes_on_a_migrated_database(repository: ImageRepository) -> None:
    await repository.check()


async def test_check_reports_a_database_without_schema(repository_url: str) -> None:
    async with open_repository(repository_url) as repository:
        with pytest.raises(RepositoryUnavailable, match="run migrations"):
            await repository.check()
        with pytest.raises(RepositoryUnavailable):
            await repository.get("anything")


async def test_a_closed_repository_is_unavailable(repository_url: str) -> None:
    await migrate(repository_url)
    async with open_repository(repository_url) as repository:
        await repository.check()
    await repository.close()  # idempotent
    with pytest.raises(RepositoryUnavailable):
        await repository.get("anything")


async def test_unreachable_postgresql_is_unavailable_quickly() -> None:
    url = f"postgresql://pixgate:s3cret-pw@127.0.0.1:{free_port()}/pixgate"
    started = time.monotonic()
    async with open_repository(url, connect_timeout=1.0) as repository:
        for call in (repository.check(), repository.insert(new_record())):
            with pytest.raises(RepositoryUnavailable) as caught:
                await call
            assert "s3cret-pw" not in str(caught.value)
    assert time.monotonic() - started < 5


async def test_postgresql_recovers_from_dropped_connections(
    pg_server: PostgresServer, pg_url: str
) -> None:
    await migrate(pg_url)
    async with open_repository(pg_url, pool_size=2) as repository:
        stored = await repository.insert(new_record())
        with psycopg.connect(pg_server.url, autocommit=True) as admin:
            terminated = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = %s AND application_name = 'pixgate'",
                (pg_url.rsplit("/", 1)[1],),
            ).fetchone()
        assert terminated is not None and terminated[0] >= 1
        # The pool checks a connection before handing it out, so no caller sees the cut.
        assert await repository.get(stored.image_id) == stored


# --- the registry and URLs ------------------------------------------------------------------------


def test_registry_is_keyed_by_scheme_and_read_only() -> None:
    assert set(BACKENDS) == {"postgresql", "postgres", "sqlite"}
    assert BACKENDS["postgres"] is BACKENDS["postgresql"]
    with pytest.raises(TypeError):
        BACKENDS["mysql"] = BACKENDS["sqlite"]  # type: ignore[index]


@pytest.mark.parametrize(
    ("url", "scheme"),
    [
        pytest.param("mysql://root:s3cret-pw@db/pixgate", "'mysql'", id="mysql"),
        pytest.param(
            "postgresql+psycopg://u:s3cret-pw@db/x", "'postgresql+psycopg'", id="sqlalchemy"
        ),
        pytest.param("file:///var/lib/images.db", "'file'", id="file"),
        pytest.param("/var/lib/images.db", "''", id="no-scheme"),
    ],
)
def test_unknown_scheme_is_a_value_error_naming_it(url: str, scheme: str) -> None:
    with pytest.raises(ValueError, match=re.escape(scheme)) as caught:
        open_repository(url)
    assert "s3cret-pw" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("sqlite:///var/lib/pixgate/images.db", "/var/lib/pixgate/images.db", id="abs"),
        pytest.param("sqlite:///./images.db", "{cwd}/images.db", id="relative"),
        pytest.param("sqlite:///./data/../images.db", "{cwd}/images.db", id="relative-dotdot"),
        pytest.param("sqlite:///tmp/my%20images.db", "/tmp/my images.db", id="percent-encoded"),
    ],
)
def test_sqlite_url_names_a_file(
    url: str, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert sqlite_path(url) == expected.format(cwd=tmp_path)


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("sqlite://images.db", id="host-not-path"),
        pytest.param("sqlite:///var/lib/", id="folder"),
        pytest.param("sqlite:///images.db?mode=ro", id="query"),
        pytest.param("sqlite:", id="empty"),
    ],
)
def test_malformed_sqlite_urls_are_value_errors(url: str) -> None:
    with pytest.raises(ValueError, match="sqlite:///"):
        sqlite_path(url)


async def test_sqlite_stores_iso_utc_text_and_json_text(tmp_path: Path) -> None:
    url = "sqlite" + (tmp_path / "images.db").as_uri().removeprefix("file")
    await migrate(url)
    async with open_repository(url) as repository:
        stored = await repository.insert(new_record(exif={"GPS": {"Alt": 1.5}}))
        await repository.mark_deleted(
            stored.image_id, datetime(2030, 1, 1, 2, 0, tzinfo=UTC) + timedelta(hours=1)
        )
    with sqlite3.connect(tmp_path / "images.db") as conn:
        row = conn.execute("SELECT exif, uploaded_at, deleted_at FROM images").fetchone()
        journal = conn.execute("PRAGMA journal_mode").fetchone()
    conn.close()
    assert stored.uploaded_at is not None
    assert row == (
        '{"GPS":{"Alt":1.5}}',
        stored.uploaded_at.isoformat(),
        "2030-01-01T03:00:00.000000+00:00",
    )
    assert journal == ("wal",)


def _sqlite_url(path: Path) -> str:
    return "sqlite" + path.as_uri().removeprefix("file")


async def _open_by(opening: str, url: str) -> None:
    if opening == "migrate":
        await migrate(url)
        return
    async with open_repository(url):
        pass


@pytest.mark.parametrize("opening", ["migrate", "open"])
async def test_sqlite_makes_its_missing_folder(tmp_path: Path, opening: str) -> None:
    """The default, sqlite:///./var/pixgate.db, is in a folder a fresh checkout lacks."""
    path = tmp_path / "var" / "nested" / "images.db"
    await _open_by(opening, _sqlite_url(path))
    assert path.is_file()


@pytest.mark.parametrize(
    ("where", "reason"),
    [
        pytest.param("a-file/images.db", "a file is in the way", id="file-in-the-way"),
        pytest.param("images.db/", "cannot be opened (SQLITE_CANTOPEN", id="a-folder-as-the-file"),
    ],
)
@pytest.mark.parametrize("opening", ["migrate", "open"])
async def test_sqlite_that_cannot_be_opened_names_the_variable_and_the_file(
    tmp_path: Path, where: str, reason: str, opening: str
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "images.db").mkdir()
    path = str(tmp_path / where).rstrip("/")
    with pytest.raises(DatabaseOpenError) as caught:
        await _open_by(opening, _sqlite_url(Path(path)))
    message = str(caught.value)
    assert message.startswith(f"PIXGATE_DATABASE_URL: the SQLite database {path}: ")
    assert reason in message
    assert isinstance(caught.value, RepositoryUnavailable)


async def test_unreachable_postgresql_at_migration_names_the_host_not_the_password() -> None:
    port = free_port()
    url = f"postgresql://pixgate:s3cret-pw@127.0.0.1:{port}/images"
    with pytest.raises(DatabaseOpenError) as caught:
        await migrate(url, connect_timeout=1.0)
    message = str(caught.value)
    assert message.startswith(
        f"PIXGATE_DATABASE_URL: PostgreSQL database images at 127.0.0.1:{port} as pixgate:"
        " cannot connect ("
    )
    assert "Connection refused" in message
    assert "s3cret-pw" not in message


async def test_a_refused_postgresql_login_names_the_host_not_the_password(
    pg_server: PostgresServer,
) -> None:
    url = f"postgresql://nobody:s3cret-pw@127.0.0.1:{pg_server.port}/postgres"
    with pytest.raises(DatabaseOpenError) as caught:
        await migrate(url)
    message = str(caught.value)
    assert f"PostgreSQL database postgres at 127.0.0.1:{pg_server.port} as nobody" in message
    assert '"nobody"' in message  # the server's reason: no such role
    assert "s3cret-pw" not in message


async def test_postgresql_down_at_start_is_logged_once_naming_the_host(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Opening does not wait for the server (the process serves while it is down), but
    start-up says which database it could not reach."""
    port = free_port()
    url = f"postgresql://pixgate:s3cret-pw@127.0.0.1:{port}/images"
    async with open_repository(url, connect_timeout=1.0):
        for _ in range(100):
            if any("PIXGATE_DATABASE_URL" in r.getMessage() for r in caplog.records):
                break
            await asyncio.sleep(0.02)
    warnings = [r.getMessage() for r in caplog.records if "PIXGATE_DATABASE_URL" in r.getMessage()]
    assert len(warnings) == 1
    assert f"127.0.0.1:{port}" in warnings[0]
    assert "s3cret-pw" not in caplog.text


@pytest.mark.parametrize(
    ("error", "unavailable"),
    [
        pytest.param(RepositoryUnavailable("schema missing, run migrations"), True, id="down"),
        pytest.param(RepositoryError("SQLite error (no such column)"), False, id="failed"),
    ],
)
def test_a_migration_failure_names_the_variable_and_the_database(
    error: RepositoryError, unavailable: bool
) -> None:
    named = startup_error(error, "the SQLite database /srv/images.db")
    assert str(named) == f"PIXGATE_DATABASE_URL: the SQLite database /srv/images.db: {error}"
    assert isinstance(named, StartupError)
    assert isinstance(named, RepositoryUnavailable) is unavailable
    assert startup_error(named, "elsewhere") is named


@pytest.mark.parametrize(
    "url",
    [
        # Each is a libpq parse error that quotes the password.
        pytest.param("postgresql://u:s3cret%ZZpw@db/x", id="bad-escape-in-userinfo"),
        pytest.param("postgresql://u@db/x?password=s3cret%ZZpw", id="bad-escape-in-query"),
        pytest.param("postgresql://u:s3cret pw@db/x", id="space-in-userinfo"),
        pytest.param("postgresql://u:s3cret-pw@db/x?no_such_option=1", id="unknown-option"),
    ],
)
async def test_a_malformed_postgresql_url_never_shows_the_password(url: str) -> None:
    with pytest.raises(ValueError, match="invalid PostgreSQL URL") as caught:
        async with open_repository(url):
            pass
    assert "s3cret" not in str(caught.value)


async def test_list_deleted_refuses_a_negative_limit(repository: ImageRepository) -> None:
    with pytest.raises(ValueError, match="limit"):
        await repository.list_deleted(deleted_before=datetime.now(UTC), limit=-1)


# --- placeholders (the backfill's two calls) --------------------------------------------


async def test_backfill_walks_live_rows_without_a_placeholder_by_id(
    repository: ImageRepository,
) -> None:
    without = [await repository.insert(new_record()) for _ in range(5)]
    with_one = await repository.insert(new_record(thumbhash=THUMBHASH, dominant_color="#000000"))
    deleted = await repository.insert(new_record())
    await repository.mark_deleted(deleted.image_id, datetime.now(UTC))
    expected = sorted(record.image_id for record in without)

    first = await repository.list_without_placeholder(after="", limit=3)
    assert [record.image_id for record in first] == expected[:3]
    rest = await repository.list_without_placeholder(after=first[-1].image_id, limit=3)
    assert [record.image_id for record in rest] == expected[3:]
    assert with_one.image_id not in expected and deleted.image_id not in expected

    assert await repository.set_placeholder(expected[0], THUMBHASH, "#fac80a") is True
    stored = await repository.get(expected[0])
    assert stored is not None
    assert (stored.thumbhash, stored.dominant_color) == (THUMBHASH, "#fac80a")
    # Set once: a second call changes nothing, as for deleted and unknown images.
    assert await repository.set_placeholder(expected[0], THUMBHASH, "#000000") is False
    assert (await repository.get(expected[0])) == stored
    assert await repository.set_placeholder(deleted.image_id, THUMBHASH, "#000000") is False
    assert await repository.set_placeholder("img_unknown", THUMBHASH, "#000000") is False
    remaining = await repository.list_without_placeholder(after="", limit=10)
    assert [record.image_id for record in remaining] == expected[1:]


@pytest.mark.parametrize(
    ("thumbhash", "dominant_color", "message"),
    [
        pytest.param(THUMBHASH, None, "together", id="hash-without-colour"),
        pytest.param(None, "#000000", "together", id="colour-without-hash"),
        pytest.param("not base64!", "#000000", "base64", id="bad-hash"),
        pytest.param(THUMBHASH, "#ABCDEF", "#rrggbb", id="uppercase-colour"),
        pytest.param(THUMBHASH, "red", "#rrggbb", id="named-colour"),
    ],
)
async def test_malformed_placeholders_are_refused(
    repository: ImageRepository, thumbhash: str | None, dominant_color: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await repository.insert(new_record(thumbhash=thumbhash, dominant_color=dominant_color))
    if thumbhash is not None and dominant_color is not None:
        stored = await repository.insert(new_record())
        with pytest.raises(ValueError, match=message):
            await repository.set_placeholder(stored.image_id, thumbhash, dominant_color)

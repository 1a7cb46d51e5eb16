"""The reaper (`pixgate reap`): originals without a live row and rows deleted long ago are
removed once older than the grace period; everything else is left alone."""

from __future__ import annotations

import contextlib
import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from loadtest.harness.s3server import MotoServer, s3_client
from pixgate.cli import main
from proxy.ids import storage_key_for
from proxy.sources import resolve_source
from proxy.storage import LocalStorage
from proxy.storage.base import SourceLocation, Storage, StorageSettings
from proxy.storage.s3 import open_s3_storage
from uploader.ids import new_image_id
from uploader.migrate import migrate
from uploader.models import ImageRecord
from uploader.reaper import originals_folder, reap
from uploader.repository import ImageRepository, open_repository

HOUR = timedelta(hours=1)


def record(image_id: str) -> ImageRecord:
    return ImageRecord(
        image_id=image_id,
        owner=None,
        title="",
        description="",
        width=10,
        height=10,
        format="jpeg",
        size_bytes=4,
        sha256=hashlib.sha256(uuid.uuid4().bytes).hexdigest(),
        storage_key=storage_key_for(image_id),
        processing_status="completed",
    )


@contextlib.asynccontextmanager
async def opened_storage(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[Storage, str]]:
    if kind == "file":
        root = tmp_path / "storage"
        root.mkdir()
        yield LocalStorage((str(root),)), f"file://{root}"
        return
    server: MotoServer = request.getfixturevalue("s3_server")
    bucket: str = request.getfixturevalue("s3_bucket")
    settings = StorageSettings(s3_endpoint_url=server.endpoint_url, s3_region="us-east-1")
    async with open_s3_storage(settings) as storage:
        yield storage, f"s3://{bucket}/media"


async def stored_ids(storage: Storage, locate: Callable[[str], SourceLocation]) -> set[str]:
    folder = originals_folder(locate)
    return {obj.location.key.rsplit("/", 1)[1] async for obj in storage.list_objects(folder)}


@pytest.mark.usefixtures("aws_env")
@pytest.mark.parametrize("kind", ["file", "s3"])
async def test_reaper_removes_only_what_is_left_behind(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest, pg_url: str
) -> None:
    await migrate(pg_url)
    async with (
        opened_storage(kind, tmp_path, request) as (storage, storage_url),
        open_repository(pg_url, pool_size=2) as repository,
    ):

        def locate(key: str) -> SourceLocation:
            return resolve_source(key, storage_url, ())

        async def put(key: str) -> None:
            await storage.put(locate(key), b"\xff\xd8\xff\xd9", "image/jpeg")

        now = datetime.now(UTC)
        live, orphan, hidden_old, hidden_new = (new_image_id() for _ in range(4))
        for image_id in (live, hidden_old, hidden_new):
            await repository.insert(record(image_id))
        for image_id in (live, orphan, hidden_old):  # hidden_old's delete lost its original
            await put(storage_key_for(image_id))
        await put("originals/notes.txt")  # not an image id: not ours to judge
        await repository.mark_deleted(hidden_old, now - 2 * HOUR)
        await repository.mark_deleted(hidden_new, now - timedelta(minutes=1))
        everything = {live, orphan, hidden_old, "notes.txt"}
        assert await stored_ids(storage, locate) == everything

        looked = await reap(storage, repository, locate, grace=HOUR, now=now)
        # Without a live row but too young: the orphan, and hidden_old's leftover original.
        assert (looked.orphans, looked.purged, looked.kept_young) == ([], [hidden_old], 2)
        assert await stored_ids(storage, locate) == everything  # a dry run changes nothing

        first = await reap(storage, repository, locate, grace=HOUR, now=now, apply=True)
        assert (first.orphans, first.purged, first.kept_young) == ([], [hidden_old], 1)
        assert await stored_ids(storage, locate) == {live, orphan, "notes.txt"}
        assert await deleted_ids(repository, now) == [hidden_new]

        # An hour later the orphan and the other deleted row are old enough too.
        later = await reap(storage, repository, locate, grace=HOUR, now=now + 2 * HOUR, apply=True)
        assert (later.orphans, later.purged) == ([orphan], [hidden_new])
        assert await stored_ids(storage, locate) == {live, "notes.txt"}
        assert await deleted_ids(repository, now + 2 * HOUR) == []
        assert await repository.get(live) is not None


async def deleted_ids(repository: ImageRepository, before: datetime) -> list[str]:
    rows = await repository.list_deleted(deleted_before=before + HOUR, limit=100)
    return [row.image_id for row in rows]


@pytest.mark.usefixtures("aws_env")
def test_reap_command(
    s3_server: MotoServer,
    s3_bucket: str,
    pg_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in {
        "PIXGATE_STORAGE_URL": f"s3://{s3_bucket}/media",
        "PIXGATE_S3_ENDPOINT_URL": s3_server.endpoint_url,
        "PIXGATE_DATABASE_URL": pg_url,
    }.items():
        monkeypatch.setenv(name, value)
    assert main(["migrate"]) == 0
    orphan = new_image_id()
    s3 = s3_client(s3_server.endpoint_url)
    s3.put_object(Bucket=s3_bucket, Key=f"media/originals/{orphan}", Body=b"x")
    capsys.readouterr()

    assert main(["reap", "--grace", "3600"]) == 0
    listed: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert listed["orphans_within_grace"] == 1 and not listed["applied"]

    assert main(["reap", "--grace", "0", "--apply"]) == 0
    reaped: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert reaped["orphaned_originals"] == [orphan] and reaped["applied"]
    assert "Contents" not in s3.list_objects_v2(Bucket=s3_bucket, Prefix="media/originals/")

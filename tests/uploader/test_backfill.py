"""`pixgate backfill-placeholders`: rows from before placeholders get them, from the original
in storage, on SQLite and PostgreSQL; a second run changes nothing; what cannot be read is
counted and left alone."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from config import Settings, load_settings
from loadtest.harness import imagegen
from pixgate.cli import main
from proxy.ids import storage_key_for
from uploader.commands import backfill_deployment
from uploader.ids import new_image_id
from uploader.inspect import inspect_upload
from uploader.migrate import migrate
from uploader.models import ImageRecord
from uploader.repository import open_repository

THUMBHASH = "XteFDQookoewh3l4iH0BKvlncHdwd4d4hw=="
ORIGINALS: dict[str, Callable[[], bytes]] = {
    "teal-png": lambda: imagegen.png(imagegen.solid(300, 200, (20, 140, 160))),
    "photo-jpeg": lambda: imagegen.camera_jpeg(800, 600),
    "alpha-png": lambda: imagegen.alpha_png(120, 200),
}


def deployment(tmp_path: Path, repository_url: str) -> Settings:
    storage = tmp_path / "storage"
    (storage / "originals").mkdir(parents=True, exist_ok=True)
    return load_settings(
        {"PIXGATE_STORAGE_URL": storage.as_uri(), "PIXGATE_DATABASE_URL": repository_url},
        dev=True,
    )


def old_row(data: bytes, **changes: Any) -> ImageRecord:
    """A row as an upload wrote it before placeholders existed."""
    image_id = new_image_id()
    return ImageRecord(
        image_id=image_id,
        owner=None,
        title="",
        description="",
        width=10,
        height=10,
        format="png",
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        storage_key=storage_key_for(image_id),
        processing_status="completed",
        **changes,
    )


async def seed(settings: Settings, tmp_path: Path) -> dict[str, ImageRecord]:
    """Three old rows with originals, one already filled, one deleted, one whose original
    is gone and one whose original is not an image."""
    await migrate(settings.database_url)
    rows: dict[str, ImageRecord] = {}
    originals: dict[str, bytes] = {name: make() for name, make in ORIGINALS.items()}
    originals["filled"] = imagegen.png(imagegen.solid(20, 20, (1, 2, 3)))
    originals["deleted"] = imagegen.png(imagegen.solid(20, 20, (4, 5, 6)))
    originals["missing"] = imagegen.png(imagegen.solid(20, 20, (7, 8, 9)))
    originals["garbage"] = b"not an image at all"
    async with open_repository(settings.database_url) as repository:
        for name, data in originals.items():
            changes = (
                {"thumbhash": THUMBHASH, "dominant_color": "#010203"} if name == "filled" else {}
            )
            record = await repository.insert(old_row(data, **changes))
            rows[name] = record
            if name != "missing":
                (tmp_path / "storage" / record.storage_key).write_bytes(data)
        await repository.mark_deleted(rows["deleted"].image_id, datetime.now(UTC))
    return rows


async def placeholders(
    settings: Settings, rows: dict[str, ImageRecord]
) -> dict[str, tuple[str | None, str | None]]:
    async with open_repository(settings.database_url) as repository:
        found = {}
        for name, record in rows.items():
            stored = await repository.get(record.image_id)
            if stored is not None:
                found[name] = (stored.thumbhash, stored.dominant_color)
        return found


async def test_backfill_fills_old_rows_once(repository_url: str, tmp_path: Path) -> None:
    settings = deployment(tmp_path, repository_url)
    rows = await seed(settings, tmp_path)

    counted = await backfill_deployment(settings, batch_size=2, apply=False)
    assert (counted.pending, counted.filled, counted.batches) == (5, 0, 3)
    assert await placeholders(settings, rows) == {
        **{name: (None, None) for name in [*ORIGINALS, "missing", "garbage"]},
        "filled": (THUMBHASH, "#010203"),
    }

    done = await backfill_deployment(settings, batch_size=2, concurrency=2)
    assert (done.filled, done.already_set, done.batches) == (3, 0, 3)
    assert done.missing == [rows["missing"].image_id]
    assert done.failed == [rows["garbage"].image_id]
    after = await placeholders(settings, rows)
    for name, make in ORIGINALS.items():
        # The same placeholder a new upload of these bytes gets.
        expected = inspect_upload(make(), max_pixels=10**8, keep_gps=False).placeholder
        assert expected is not None
        assert after[name] == (expected.thumbhash, expected.dominant_color), name
    assert after["teal-png"][1] == "#148ca0"
    assert after["filled"] == (THUMBHASH, "#010203")  # never overwritten
    assert after["missing"] == after["garbage"] == (None, None)
    # The deleted row was not touched (read straight from the table: get() hides it).
    async with open_repository(settings.database_url) as repository:
        assert (
            await repository.set_placeholder(rows["deleted"].image_id, THUMBHASH, "#000000")
            is False
        )

    again = await backfill_deployment(settings, batch_size=2)
    assert (again.filled, again.batches) == (0, 1)
    assert again.missing == [rows["missing"].image_id]
    assert await placeholders(settings, rows) == after


async def test_originals_over_todays_limits_are_listed_not_fatal(tmp_path: Path) -> None:
    url = "sqlite" + (tmp_path / "images.db").as_uri().removeprefix("file")
    settings = deployment(tmp_path, url)
    await migrate(url)
    big = imagegen.camera_jpeg(800, 600)
    small = ORIGINALS["teal-png"]()
    async with open_repository(url) as repository:
        records = [await repository.insert(old_row(data)) for data in (big, small)]
    for record, data in zip(records, (big, small), strict=True):
        (tmp_path / "storage" / record.storage_key).write_bytes(data)
    # The limit was raised when the big one was uploaded, and lowered since.
    limited = dataclasses.replace(settings, max_src_bytes=len(small) + 1)

    done = await backfill_deployment(limited)
    assert (done.filled, done.failed, done.missing) == (1, [records[0].image_id], [])


def test_backfill_command_prints_its_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "sqlite" + (tmp_path / "images.db").as_uri().removeprefix("file")
    settings = deployment(tmp_path, url)
    for name, value in (
        ("PIXGATE_STORAGE_URL", settings.storage_url),
        ("PIXGATE_DATABASE_URL", url),
    ):
        monkeypatch.setenv(name, value)

    async def prepare() -> ImageRecord:
        await migrate(url)
        data = ORIGINALS["teal-png"]()
        async with open_repository(url) as repository:
            record = await repository.insert(old_row(data))
        (tmp_path / "storage" / record.storage_key).write_bytes(data)
        return record

    asyncio.run(prepare())
    assert main(["backfill-placeholders", "--dry-run"]) == 0
    assert json.loads(capsys.readouterr().out)["without_placeholder"] == 1
    assert main(["backfill-placeholders", "--batch", "10", "--concurrency", "1"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert (printed["applied"], printed["filled"], printed["missing_originals"]) == (True, 1, [])
    assert main(["backfill-placeholders"]) == 0
    assert json.loads(capsys.readouterr().out)["filled"] == 0
    assert main(["backfill-placeholders", "--batch", "0"]) == 2

"""The ingester on SQLite and a real PostgreSQL: views counted exactly once, across runs,
batches and rotations; deleted images left out; the position guarded."""

from __future__ import annotations

import gzip
import logging
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from loadtest.harness.edgelogs import (
    CLOUDFRONT_HEADER,
    LoggedRequest,
    cloudflare_line,
    cloudfront_line,
)
from tests.uploader.analytics.conftest import Images, append, ingest, query, views
from uploader.analytics.batch import Batch
from uploader.analytics.store import Position, PositionMoved, open_store
from uploader.repository import open_repository

DAY = 86_400


def view(image_id: str, **changes: object) -> LoggedRequest:
    return LoggedRequest(f"/{image_id}_m", **changes)  # type: ignore[arg-type]


def mixed(images: Images) -> list[LoggedRequest | str]:
    """Ten lines: 4 views of the first image, 2 of the second, and 4 that are not views."""
    first, second = images.live
    return [
        view(first, cache="MISS"),
        view(first),
        LoggedRequest(f"/{first}.webp", accept="webp"),
        LoggedRequest(f"/{first}_s", status=304, bytes=180),
        view(second),
        LoggedRequest(f"/sig/w:300/plain/originals/{second}@avif"),
        view(first, method="HEAD"),  # not a view
        LoggedRequest("/img_00000000000000000000_s", status=404, cache="MISS"),  # not a view
        LoggedRequest(f"/v/{first}", content_type="text/html", cache=""),  # unattributed
        "{torn line\n",  # skipped
    ]


async def test_views_are_counted_once_whatever_the_runs(images: Images, tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    first, second = images.live
    append(log, *mixed(images))
    totals = ingest(images.url, log)
    assert (totals.lines, totals.requests, totals.views) == (10, 9, 6)
    assert (totals.unattributed, totals.skipped) == (1, 1)
    assert views(images.url) == {first: 4, second: 2}

    assert ingest(images.url, log).lines == 0  # nothing new: nothing counted again
    append(log, view(first), view(second))
    assert ingest(images.url, log).views == 2
    assert views(images.url) == {first: 5, second: 3}


@pytest.mark.parametrize("batch_lines", [1, 3, 1000])
async def test_batches_add_up_to_the_same(images: Images, tmp_path: Path, batch_lines: int) -> None:
    log = tmp_path / "access.log"
    append(log, *mixed(images))
    totals = ingest(images.url, log, batch_lines=batch_lines)
    assert totals.views == 6
    assert totals.batches == 1 + -(-10 // batch_lines)  # the start of the file, then batches
    assert views(images.url) == {images.live[0]: 4, images.live[1]: 2}
    [(lines, offset)] = query(images.url, "SELECT lines, offset_bytes FROM log_positions")
    assert (lines, offset) == (10, log.stat().st_size)


async def test_views_of_deleted_and_unknown_images_are_dropped(
    images: Images, tmp_path: Path
) -> None:
    log = tmp_path / "access.log"
    append(log, view(images.deleted), view("img_00000000000000000000"), view(images.live[0]))
    totals = ingest(images.url, log)
    assert (totals.views, totals.dropped_views) == (1, 2)
    assert views(images.url) == {images.live[0]: 1}


async def test_views_are_per_utc_day(images: Images, tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    midnight = 1_764_633_600  # 2025-12-02 00:00:00 UTC
    first = images.live[0]
    append(log, view(first, at=midnight - 0.5), view(first, at=midnight), view(first, at=midnight))
    ingest(images.url, log)
    rows = query(images.url, "SELECT day, views FROM image_views ORDER BY day")
    assert [(str(day), views) for day, views in rows] == [("2025-12-01", 1), ("2025-12-02", 2)]


async def test_a_line_counts_once_it_is_whole(images: Images, tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    first = images.live[0]
    line = str(view(first).uri)
    append(log, view(first))
    whole = log.read_text()
    log.write_text(whole[:40])  # the writer is half-way through a line
    assert ingest(images.url, log).views == 0
    append(log, whole[40:])
    assert ingest(images.url, log).views == 1
    assert views(images.url) == {first: 1} and line


def rename_rotation(log: Path) -> None:
    """logrotate's default: log.1 -> log.2, log -> log.1, and the writer reopens log."""
    if Path(f"{log}.1").exists():
        os.rename(f"{log}.1", f"{log}.2")
    os.rename(log, f"{log}.1")
    log.touch()


def copytruncate_rotation(log: Path) -> None:
    """logrotate's copytruncate: the content is copied to log.1, the log truncated in place."""
    shutil.copyfile(log, f"{log}.1")
    os.truncate(log, 0)


@pytest.mark.parametrize(
    "rotate",
    [
        pytest.param(rename_rotation, id="rename"),
        pytest.param(copytruncate_rotation, id="copytruncate"),
    ],
)
async def test_rotation_loses_and_repeats_nothing(
    images: Images, tmp_path: Path, rotate: object
) -> None:
    log = tmp_path / "access.log"
    first, second = images.live
    append(log, view(first), view(first))
    ingest(images.url, log)
    append(log, view(second), view(second), view(second))  # written, not yet read
    rotate(log)  # type: ignore[operator]
    append(log, view(first))
    assert ingest(images.url, log).views == 4
    assert views(images.url) == {first: 3, second: 3}

    append(log, view(second))
    assert ingest(images.url, log).views == 1
    assert ingest(images.url, log).views == 0
    assert views(images.url) == {first: 3, second: 4}


async def test_two_rotations_between_runs_are_read_in_order(images: Images, tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    first, second = images.live
    append(log, view(first))
    ingest(images.url, log)
    append(log, view(first))
    rename_rotation(log)
    os.utime(f"{log}.1", ns=(1, 1_000_000_000))  # rotated files keep their last write time
    append(log, view(second), view(second))
    rename_rotation(log)
    os.utime(f"{log}.1", ns=(1, 2_000_000_000))
    append(log, view(second))
    assert ingest(images.url, log).views == 4
    assert views(images.url) == {first: 2, second: 3}


async def test_a_truncated_log_written_past_the_offset_is_a_new_file(
    images: Images, tmp_path: Path
) -> None:
    log = tmp_path / "access.log"
    first, second = images.live
    append(log, view(first))
    ingest(images.url, log)
    copytruncate_rotation(log)
    os.remove(f"{log}.1")  # the copy is gone (compressed at once): its rest is lost, once
    append(log, *(view(second, at=1_764_648_300 + n) for n in range(5)))
    totals = ingest(images.url, log)
    assert (totals.views, totals.lost_files) == (5, 1)
    assert views(images.url) == {first: 1, second: 5}


async def test_a_lost_position_is_logged(
    images: Images, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = tmp_path / "access.log"
    append(log, view(images.live[0]))
    ingest(images.url, log)
    log.unlink()
    append(log, view(images.live[1]))
    with caplog.at_level(logging.WARNING, logger="pixgate.analytics"):
        assert ingest(images.url, log).views == 1
    assert "log position lost" in caplog.text


async def test_a_moved_position_refuses_the_batch(images: Images, tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    append(log, view(images.live[0]))
    ingest(images.url, log)
    source = str(log.absolute())
    with open_store(images.url) as store:
        current = store.position(source)
        assert current is not None
        stale = Position(current.device, current.inode, 0, 0, current.head_sha256)
        batch = Batch()
        batch.views[(images.live[0], 20_000)] = 5
        batch.view_count = 5
        with pytest.raises(PositionMoved):
            store.commit(source, stale, current, batch)
        with pytest.raises(PositionMoved):
            store.commit(source, None, current, batch)  # a second "first" ingester
        assert store.position(source) == current
    assert views(images.url) == {images.live[0]: 1}


async def test_edge_figures_are_stored_per_minute(images: Images, tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    append(log, *mixed(images))
    ingest(images.url, log)
    with open_store(images.url) as store:
        traffic = store.traffic_since(0)
        latency = store.latency_since(0)
    assert sum(row.requests for row in traffic) == 9
    assert sum(row.views for row in traffic) == 6
    assert sum(row.unattributed for row in traffic) == 1
    assert {row.cache_status for row in traffic} == {"HIT", "MISS", "-"}
    assert [(row.le_ms, row.requests) for row in latency] == [(2, 9)]


async def test_ingesters_of_different_logs_add_up_concurrently(
    images: Images, tmp_path: Path
) -> None:
    """The same images and minutes in four logs, ingested at once in small batches: the rows
    they share are written in key order, so nobody deadlocks and every view is there."""
    first, second = images.live
    logs = [tmp_path / f"edge{n}.log" for n in range(4)]
    for n, log in enumerate(logs):
        requests = [view(first if (n + k) % 3 else second, at=1_764_648_258 + k) for k in range(60)]
        append(log, *requests)
    with ThreadPoolExecutor(max_workers=4) as pool:
        totals = list(pool.map(lambda log: ingest(images.url, log, batch_lines=7), logs))
    assert sum(t.views for t in totals) == 240
    counted = views(images.url)
    assert sum(counted.values()) == 240
    rows = query(images.url, "SELECT sum(requests) FROM edge_traffic")
    assert int(str(rows[0][0])) == 240


async def test_the_repository_reads_the_total_the_pages_show(
    images: Images, tmp_path: Path
) -> None:
    log = tmp_path / "access.log"
    first, second = images.live
    append(log, view(first, at=1_764_648_258), view(first, at=1_764_648_258 + DAY))
    ingest(images.url, log)
    async with open_repository(images.url) as repository:
        assert await repository.total_views(first) == 2  # two days, one total
        assert await repository.total_views(second) == 0
        assert await repository.total_views("img_00000000000000000000") == 0


@pytest.mark.parametrize(
    ("log_format", "name", "write", "header"),
    [
        pytest.param("cloudfront", "E2ABC.2025-12-02-04.f00d", cloudfront_line, True, id="cf"),
        pytest.param("cloudfront", "E2ABC.2025-12-02-04.f00d.gz", cloudfront_line, True, id="gz"),
        pytest.param("cloudflare", "20251202T040000Z_cf.log", cloudflare_line, False, id="cflr"),
    ],
)
async def test_cdn_logs_are_counted_once(
    images: Images, tmp_path: Path, log_format: str, name: str, write: object, header: bool
) -> None:
    first, second = images.live
    requests = [view(first), view(first, method="HEAD"), view(second), view(second, status=404)]
    text = (CLOUDFRONT_HEADER if header else "") + "".join(
        write(request) + "\n"  # type: ignore[operator]
        for request in requests
    )
    log = tmp_path / name
    if name.endswith(".gz"):
        log.write_bytes(gzip.compress(text.encode()))
    else:
        log.write_text(text)
    totals = ingest(images.url, log, log_format=log_format, batch_lines=2)
    assert (totals.views, totals.requests, totals.skipped) == (2, 4, 0)
    assert ingest(images.url, log, log_format=log_format).lines == 0
    assert views(images.url) == {first: 1, second: 1}


async def test_purging_an_image_drops_its_views(images: Images, tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    first, second = images.live
    append(log, view(first), view(second))
    ingest(images.url, log)
    async with open_repository(images.url) as repository:
        await repository.purge(first)
    assert views(images.url) == {second: 1}

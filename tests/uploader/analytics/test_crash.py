"""`pixgate analytics ingest` killed (SIGKILL) between reading a batch and committing it, or
inside its transaction, or right after: the next run neither loses nor double-counts a line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from loadtest.harness.edgelogs import LoggedRequest
from tests.uploader.analytics.conftest import STORAGE_URL, Images, append, views

COMMAND = [sys.executable, "-c", "from pixgate.cli import main; raise SystemExit(main())"]


def run_ingest(images: Images, log: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PIXGATE_DATABASE_URL": images.url,
        "PIXGATE_STORAGE_URL": STORAGE_URL,
        "PIXGATE_ANALYTICS_BATCH_LINES": "4",
    }
    return subprocess.run(
        [*COMMAND, "analytics", "ingest", str(log), *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "crash_at",
    [
        pytest.param("read:1", id="first-batch-read-not-committed"),
        pytest.param("read:3", id="later-batch-read-not-committed"),
        pytest.param("commit:3", id="inside-the-transaction"),
        pytest.param("committed:3", id="after-commit-before-the-next-read"),
    ],
)
async def test_a_killed_ingester_loses_nothing_and_counts_nothing_twice(
    images: Images, tmp_path: Path, crash_at: str
) -> None:
    log = tmp_path / "access.log"
    first, second = images.live
    append(log, *(LoggedRequest(f"/{first}_m") for _ in range(7)))
    append(log, *(LoggedRequest(f"/{second}.webp") for _ in range(6)))

    killed = run_ingest(images, log, "--crash-at", crash_at)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    counted = views(images.url)
    assert sum(counted.values()) < 13  # it really stopped part-way

    restarted = run_ingest(images, log)
    assert restarted.returncode == 0, restarted.stderr
    assert views(images.url) == {first: 7, second: 6}
    assert json.loads(restarted.stdout)["total"]["views"] == 13 - sum(counted.values())

    again = run_ingest(images, log)
    assert json.loads(again.stdout)["total"]["lines"] == 0
    assert views(images.url) == {first: 7, second: 6}

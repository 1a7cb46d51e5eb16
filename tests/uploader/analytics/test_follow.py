"""`pixgate analytics ingest --follow`: keeps counting as the log grows, serves its metrics on
a port and in a textfile, and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from loadtest.harness.edgelogs import LoggedRequest
from loadtest.harness.ports import free_port
from loadtest.ingest_bench import seed_sqlite
from tests.uploader.analytics.conftest import STORAGE_URL, Images, append, views
from uploader.ids import new_image_id
from uploader.migrate import migrate

COMMAND = [sys.executable, "-c", "from pixgate.cli import main; raise SystemExit(main())"]


def wait_for(condition: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def scrape(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            return str(response.read().decode())
    except OSError:
        return ""


def test_follow_counts_as_the_log_grows_and_exports_metrics(images: Images, tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    textfile = tmp_path / "pixgate.prom"
    first, second = images.live
    append(log, LoggedRequest(f"/{first}_m"), LoggedRequest(f"/{first}_m", cache="MISS"))
    port = free_port()
    env = {**os.environ, "PIXGATE_DATABASE_URL": images.url, "PIXGATE_STORAGE_URL": STORAGE_URL}
    process = subprocess.Popen(
        [
            *COMMAND,
            "analytics",
            "ingest",
            str(log),
            "--follow",
            "--poll",
            "0.1",
            "--metrics-port",
            str(port),
            "--textfile",
            str(textfile),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: "pixgate_views_total 2.0" in scrape(port))
        append(log, LoggedRequest(f"/{second}.webp", accept="webp", content_type="image/webp"))
        wait_for(lambda: "pixgate_views_total 3.0" in scrape(port))
        metrics = scrape(port)
        assert 'pixgate_edge_requests_total{cache_status="HIT",format="avif",status="200"} 1.0' in (
            metrics
        )
        assert 'pixgate_edge_request_duration_seconds_bucket{le="0.002"} 3.0' in metrics
        assert 'pixgate_ingest_lines_total{outcome="view"} 3.0' in metrics
        assert "pixgate_images 2.0" in metrics
        assert 'pixgate_storage_bytes{class="STANDARD"} 2e+06' in metrics
        assert "pixgate_storage_cost_per_image_usd_per_month" in metrics
        wait_for(lambda: "pixgate_views_total 3.0" in textfile.read_text())
        assert views(images.url) == {first: 2, second: 1}
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert json.loads(stdout)["total"]["views"] == 3


def test_follow_waits_for_the_database(tmp_path: Path) -> None:
    """A long-running ingester started before its database is there retries, then counts."""
    folder = tmp_path / "not-yet"
    url = f"sqlite://{folder}/views.db"
    image_id = new_image_id()
    log = tmp_path / "access.log"
    append(log, LoggedRequest(f"/{image_id}_m"))
    env = {**os.environ, "PIXGATE_DATABASE_URL": url, "PIXGATE_STORAGE_URL": STORAGE_URL}
    process = subprocess.Popen(
        [*COMMAND, "analytics", "ingest", str(log), "--follow", "--poll", "0.1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(2)
        assert process.poll() is None  # still trying
        folder.mkdir()
        asyncio.run(migrate(url))
        seed_sqlite(url, [image_id])
        wait_for(lambda: views(url) == {image_id: 1})
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert "database unavailable, retrying" in stderr
    assert json.loads(stdout)["total"]["views"] == 1

"""Each role imports only its own layers: a `PIXGATE_ROLE=proxy` process never loads the
uploader or its database driver, proven on a real `pixgate serve` answering a real request."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import pyvips
from pixgate_signing import UrlBuilder

from loadtest.harness import imagegen
from loadtest.harness.ports import free_port

KEY, SALT = "736563726574", "68656C6C6F"

ROLES = {
    # role: (top-level packages it must never import, packages it must import)
    "proxy": ({"uploader", "psycopg", "psycopg_pool", "sqlite3"}, {"proxy", "pyvips"}),
    "all": (set(), {"proxy", "uploader", "psycopg"}),
}


def _imported_packages(importtime_log: str) -> set[str]:
    # `python -X importtime` writes one line per import: "import time: self | cumulative | name".
    names = re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", importtime_log, re.MULTILINE)
    return {name.split(".")[0] for name in names}


def _wait_until_healthy(base: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "pixgate serve exited during start-up"
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"pixgate serve did not answer /health within {timeout:g}s")


@pytest.mark.parametrize("role", ROLES)
def test_a_role_imports_only_its_layers(role: str, tmp_path: Path) -> None:
    never, always = ROLES[role]
    storage = tmp_path / "storage"
    storage.mkdir()
    (storage / "photo.jpg").write_bytes(imagegen.camera_jpeg(640, 480))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXGATE_")}
    env.update(
        PIXGATE_ROLE=role,
        PIXGATE_BIND=f"127.0.0.1:{port}",
        PIXGATE_KEY=KEY,
        PIXGATE_SALT=SALT,
        PIXGATE_STORAGE_URL=storage.as_uri(),
        PIXGATE_DATABASE_URL=f"sqlite:///{tmp_path}/pixgate.db",
        PIXGATE_MIGRATE_ON_START="true",
    )
    base = f"http://127.0.0.1:{port}"
    # A file, not a pipe: the import log outgrows a pipe's buffer, and a full pipe would
    # block the server before it answers.
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-X", "importtime", "-m", "pixgate", "serve"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        _wait_until_healthy(base, process, timeout=60)
        url = UrlBuilder(base, bytes.fromhex(KEY), bytes.fromhex(SALT)).url(
            "photo.jpg", width=200, format="webp"
        )
        with urllib.request.urlopen(url, timeout=30) as response:
            assert pyvips.Image.new_from_buffer(response.read(), "").width == 200
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert process.returncode == 0
    imported = _imported_packages(log_path.read_text())
    assert imported & never == set()
    assert always <= imported

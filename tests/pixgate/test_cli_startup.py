"""`pixgate serve` and `pixgate migrate` at start-up: the embedded SQLite default works in
an empty folder, and a database that cannot be opened stops the command with one line
naming PIXGATE_DATABASE_URL and the file or host, never the password."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from loadtest.harness.ports import free_port

PIXGATE_COMMAND = [sys.executable, "-c", "from pixgate.cli import main; raise SystemExit(main())"]
KEYS = {"PIXGATE_KEY": "736563726574", "PIXGATE_SALT": "68656C6C6F"}
SOURCES = str(Path(__file__).resolve().parents[2])


def _environment(**pixgate: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXGATE_")}
    # The command runs in an empty folder; the sources stay importable.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [SOURCES, env.get("PYTHONPATH")]))
    return {**env, **KEYS, **pixgate}


def _healthy(port: int, process: subprocess.Popen[str], within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as reply:
                return bool(reply.status == 200)
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    return False


def test_serve_in_an_empty_folder_comes_up_with_the_sqlite_default(tmp_path: Path) -> None:
    """Key, salt and storage only: the default sqlite:///./var/pixgate.db makes ./var.
    (The port is chosen too, so the test never meets another server on 8080.)"""
    port = free_port()
    env = _environment(
        PIXGATE_STORAGE_URL=f"file://{tmp_path}/storage", PIXGATE_BIND=f"127.0.0.1:{port}"
    )
    process = subprocess.Popen(
        [*PIXGATE_COMMAND, "serve"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        up = _healthy(port, process, within=60)
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert up, stderr
    assert process.returncode == 0, stderr
    assert (tmp_path / "var" / "pixgate.db").is_file()


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(["serve"], id="serve-migrating-on-start"),
        pytest.param(["migrate"], id="migrate"),
    ],
)
def test_unreachable_postgresql_stops_start_up_naming_the_variable_and_host(
    tmp_path: Path, command: list[str]
) -> None:
    port = free_port()  # nothing listens there
    env = _environment(
        PIXGATE_STORAGE_URL=f"file://{tmp_path}/storage",
        PIXGATE_BIND=f"127.0.0.1:{free_port()}",
        PIXGATE_DATABASE_URL=f"postgresql://pixgate:s3cret-pw@127.0.0.1:{port}/pixgate",
        PIXGATE_MIGRATE_ON_START="true",
    )
    done = subprocess.run(
        [*PIXGATE_COMMAND, *command],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "PIXGATE_DATABASE_URL" in done.stderr
    assert f"127.0.0.1:{port}" in done.stderr
    assert "Connection refused" in done.stderr
    assert "s3cret-pw" not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


def test_sqlite_that_cannot_be_opened_stops_start_up_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "var").write_text("a file where the folder should be")
    env = _environment(
        PIXGATE_STORAGE_URL=f"file://{tmp_path}/storage",
        PIXGATE_BIND=f"127.0.0.1:{free_port()}",
    )
    done = subprocess.run(
        [*PIXGATE_COMMAND, "serve"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert (
        f"pixgate: PIXGATE_DATABASE_URL: the SQLite database {tmp_path}/var/pixgate.db:"
        f" its folder {tmp_path}/var cannot be made (a file is in the way)\n" == done.stderr
    )
    assert "Traceback" not in done.stderr

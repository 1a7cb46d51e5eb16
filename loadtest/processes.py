"""The benchmark's child processes: pixgate as a server, and run-to-completion measurers.

Every process started here is stopped by its PID (SIGTERM, then SIGKILL after a grace
period) on exit, Ctrl-C or failure; each runs in its own session, so a Ctrl-C reaches only
the benchmark.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.processes import stop
from loadtest.harness.ports import HOST, free_port

REPO = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class Server:
    pid: int
    base_url: str
    log_path: Path


def run_child(args: Sequence[str], timeout_s: float, env: dict[str, str] | None = None) -> Any:
    """Run `python -m ...` to completion and return the JSON it prints."""
    process = subprocess.Popen(
        [sys.executable, *args],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # Ctrl-C reaches only us; we stop the child by PID.
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout_s)
    finally:
        stop(process, grace_s=2.0)
    if process.returncode != 0:
        tail = stderr.decode(errors="replace")[-2000:]
        raise RuntimeError(f"{' '.join(args[:2])} failed ({process.returncode}):\n{tail}")
    return json.loads(stdout)


def _server_env(settings: Mapping[str, str], port: int) -> dict[str, str]:
    # pixgate runs with `settings` only: drop the caller's own PIXGATE_* variables.
    env = {name: value for name, value in os.environ.items() if not name.startswith("PIXGATE_")}
    env.update(settings)
    env.update(
        PIXGATE_BIND=f"{HOST}:{port}",
        PYTHONPATH=os.pathsep.join(
            filter(None, [str(REPO), str(REPO / "signing"), os.environ.get("PYTHONPATH")])
        ),
    )
    return env


@contextlib.contextmanager
def run_pixgate(settings: Mapping[str, str], log_path: Path) -> Iterator[Server]:
    """Start `pixgate serve` with these PIXGATE_* `settings` on a free loopback port, its
    output going to `log_path`; stop it by PID on exit."""
    port = free_port()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from pixgate.cli import main; raise SystemExit(main(['serve']))",
            ],
            cwd=REPO,
            env=_server_env(settings, port),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        server = Server(process.pid, f"http://{HOST}:{port}", log_path)
        _wait_healthy(process, server)
        yield server
    finally:
        stop(process)


def _wait_healthy(process: subprocess.Popen[bytes], server: Server) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = server.log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"pixgate exited ({process.returncode}) on start-up:\n{tail}")
        try:
            with urllib.request.urlopen(f"{server.base_url}/health", timeout=1) as response:
                if response.status == 200:
                    return
        except (OSError, urllib.error.HTTPError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"pixgate did not answer /health within {STARTUP_TIMEOUT_S:g}s")

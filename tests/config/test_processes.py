"""Stopping a child by its PID: the graceful signal first, SIGKILL after the grace period."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from config.processes import stop

# A child that reports it is ready, then either obeys SIGTERM or ignores it.
_CHILD = """
import signal, sys, time
if sys.argv[1] == "ignore":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ready", flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize(
    ("behaviour", "grace_s", "returncode"),
    [
        pytest.param("obey", 5.0, -signal.SIGTERM, id="stops-on-the-graceful-signal"),
        pytest.param("ignore", 0.3, -signal.SIGKILL, id="killed-after-the-grace-period"),
    ],
)
def test_stop(behaviour: str, grace_s: float, returncode: int) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, behaviour], stdout=subprocess.PIPE, text=False
    )
    assert child.stdout is not None and child.stdout.readline() == b"ready\n"
    started = time.monotonic()
    stop(child, grace_s=grace_s)
    assert child.returncode == returncode
    assert time.monotonic() - started < grace_s + 5
    child.stdout.close()


def test_an_exited_child_is_left_alone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    stop(child)
    assert child.returncode == 0

"""Stopping a child process pixgate's tooling started (the edge's nginx, benchmark servers,
test services): by its PID, gracefully first."""

from __future__ import annotations

import signal
import subprocess


def stop(
    process: subprocess.Popen[bytes], grace_s: float = 10.0, signum: int = signal.SIGTERM
) -> None:
    """Send `signum` (the graceful stop this program understands), wait up to `grace_s`,
    then SIGKILL. A process that has already exited is left alone."""
    if process.poll() is None:
        process.send_signal(signum)
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

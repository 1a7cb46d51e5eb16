"""The machine and the tree a benchmark ran on, for its report."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
from pathlib import Path

import pyvips

from loadtest.processes import REPO
from loadtest.results import Machine


def describe() -> Machine:
    return Machine(
        cores=cores(),
        cpu_count=os.cpu_count(),
        cpu_model=cpu_model(),
        memory_gib=memory_gib(),
        platform=platform.platform(terse=True),
        python=platform.python_version(),
        libvips=libvips_version(),
        git=git_state(),
    )


def cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0))


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or "?"


def memory_gib() -> float:
    return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)


def libvips_version() -> str:
    return ".".join(str(pyvips.version(i)) for i in range(3))


def loadavg() -> tuple[str, ...]:
    return tuple(Path("/proc/loadavg").read_text().split()[:3])


def git_state() -> str:
    """The commit, and whether tracked files differ from it."""

    def git(*argv: str) -> str:
        result = subprocess.run(["git", *argv], cwd=REPO, capture_output=True, text=True)
        return result.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "?"
    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    return commit + (" + uncommitted changes" if dirty else "")

"""CPU time and peak memory of a process, read from /proc (Linux; no psutil needed)."""

from __future__ import annotations

import contextlib
import os

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int | str = "self") -> float:
    """User + system CPU time of every thread of `pid`, in seconds (10 ms resolution)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        text = stat.read()
    # The command name (field 2) may hold spaces: split after its closing parenthesis.
    fields = text[text.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / _CLOCK_TICKS


def family_cpu_seconds(pid: int) -> float:
    """CPU time of `pid`, of its children that have exited, and of its live children (one
    level: PostgreSQL's postmaster and its backends)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rpartition(")")[2].split()
    # utime, stime, cutime, cstime: fields 14-17 of proc(5)
    total = sum(int(value) for value in fields[11:15]) / _CLOCK_TICKS
    with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as children:
        for child in children.read().split():
            # One that exited meanwhile is gone; its time moves to our cutime/cstime.
            with contextlib.suppress(FileNotFoundError):
                total += cpu_seconds(child)
    return total


def peak_rss_bytes(pid: int | str = "self") -> int:
    """The peak resident set size (VmHWM) of `pid`, in bytes."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmHWM in /proc/{pid}/status")


def reset_peak_rss(pid: int) -> bool:
    """Restart `pid`'s VmHWM from its current RSS (proc(5), clear_refs "5"), so the next
    reading is the peak of what follows; False where the kernel does not allow it."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w", encoding="ascii") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


def machine_busy_seconds() -> float:
    """CPU time spent by every process on the machine (all cores), from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = stat.readline().split()
    # cpu user nice system idle iowait irq softirq steal guest guest_nice
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / _CLOCK_TICKS

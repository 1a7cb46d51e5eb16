"""A closed-loop HTTP load client, run as its own process by the benchmark.

`concurrency` workers each send one GET, read the whole body, and send the next. After a
warm-up, completions inside a fixed window are recorded. The client's own CPU time and the
server's (by PID, from /proc) are read at the window's edges, as is the server's /metrics.
One JSON object is printed on stdout.

With `--urls-file`, workers take URLs in turn from one list: distinct URLs for the same work
(e.g. differing only in a cachebuster) keep pixgate from coalescing concurrent identical
requests into one render, so every request is measured doing its own transform.

    python -m loadtest.loadgen --url URL --concurrency 2 --duration 10 --warmup 2 \
        --server-pid PID --metrics-url http://127.0.0.1:PORT/metrics
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from loadtest.procfs import cpu_seconds, machine_busy_seconds

REQUEST_TIMEOUT_S = 60.0
MAX_ERROR_SAMPLES = 5


@dataclass(slots=True)
class Window:
    start: float
    end: float
    latencies_ms: list[float] = field(default_factory=list)
    body_bytes: int = 0
    errors: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)

    def record(self, finished: float, latency: float, status: str, size: int, ok: bool) -> None:
        if not self.start <= finished <= self.end:
            return
        self.statuses[status] += 1
        if ok:
            self.latencies_ms.append(latency * 1000)
            self.body_bytes += size
        else:
            self.errors += 1


def parse_metrics(text: str) -> dict[str, float]:
    """pixgate_* samples of a Prometheus text exposition, keyed by `name{labels}`."""
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("pixgate_"):
            series, _, value = line.rpartition(" ")
            samples[series] = float(value)
    return samples


async def _snapshot(
    session: aiohttp.ClientSession, server_pid: int | None, metrics_url: str | None
) -> dict[str, Any]:
    snapshot: dict[str, Any] = {
        "at": time.perf_counter(),
        "client_cpu_s": cpu_seconds(),
        "machine_busy_s": machine_busy_seconds(),
    }
    if server_pid is not None:
        snapshot["server_cpu_s"] = cpu_seconds(server_pid)
        # The main thread runs the server's event loop; libvips work runs in other threads.
        snapshot["server_loop_cpu_s"] = cpu_seconds(f"{server_pid}/task/{server_pid}")
    if metrics_url is not None:
        async with session.get(metrics_url) as response:
            snapshot["metrics"] = parse_metrics(await response.text())
    return snapshot


async def _worker(session: aiohttp.ClientSession, urls: Iterator[str], window: Window) -> None:
    while time.perf_counter() < window.end:
        url = next(urls)
        started = time.perf_counter()
        try:
            async with session.get(url) as response:
                body = await response.read()
                status, ok = str(response.status), response.status == 200
                if not ok and len(window.error_samples) < MAX_ERROR_SAMPLES:
                    window.error_samples.append(f"{status}: {body[:200]!r}")
        except (aiohttp.ClientError, TimeoutError) as error:
            body, status, ok = b"", type(error).__name__, False
            if len(window.error_samples) < MAX_ERROR_SAMPLES:
                window.error_samples.append(f"{status}: {error}")
        finished = time.perf_counter()
        window.record(finished, finished - started, status, len(body), ok)


async def run(
    urls: Sequence[str],
    concurrency: int,
    duration: float,
    warmup: float,
    server_pid: int | None,
    metrics_url: str | None,
) -> dict[str, Any]:
    begun = time.perf_counter()
    window = Window(start=begun + warmup, end=begun + warmup + duration)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    # The load gets its own connections; /metrics is read over a separate one.
    load_connector = aiohttp.TCPConnector(limit=concurrency)
    async with (
        aiohttp.ClientSession(connector=load_connector, timeout=timeout) as session,
        aiohttp.ClientSession(timeout=timeout) as side,
    ):
        shared = itertools.cycle(urls)  # one sequence for all workers: no two share a URL
        workers = [
            asyncio.create_task(_worker(session, shared, window)) for _ in range(concurrency)
        ]
        try:
            await asyncio.sleep(max(0.0, window.start - time.perf_counter()))
            before = await _snapshot(side, server_pid, metrics_url)
            await asyncio.sleep(max(0.0, window.end - time.perf_counter()))
            after = await _snapshot(side, server_pid, metrics_url)
            await asyncio.gather(*workers)
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
    measured = after["at"] - before["at"]
    result: dict[str, Any] = {
        "concurrency": concurrency,
        "window_s": duration,
        "measured_s": measured,
        "latencies_ms": window.latencies_ms,
        "errors": window.errors,
        "statuses": dict(window.statuses),
        "error_samples": window.error_samples,
        "body_bytes_mean": window.body_bytes / len(window.latencies_ms)
        if window.latencies_ms
        else 0,
        "client_cpu_s": after["client_cpu_s"] - before["client_cpu_s"],
        "machine_busy_s": after["machine_busy_s"] - before["machine_busy_s"],
    }
    if server_pid is not None:
        for key in ("server_cpu_s", "server_loop_cpu_s"):
            result[key] = after[key] - before[key]
    if metrics_url is not None:
        result["metrics_before"] = before["metrics"]
        result["metrics_after"] = after["metrics"]
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.loadgen", description=__doc__)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="request this URL again and again")
    target.add_argument(
        "--urls-file", type=Path, help="cycle through these URLs (one a line) in order"
    )
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--duration", type=float, required=True, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds first")
    parser.add_argument("--server-pid", type=int, help="read this process's CPU time")
    parser.add_argument("--metrics-url", help="snapshot this Prometheus endpoint")
    args = parser.parse_args(argv)
    urls = [args.url] if args.url else args.urls_file.read_text().split()
    result = asyncio.run(
        run(
            urls,
            args.concurrency,
            args.duration,
            args.warmup,
            args.server_pid,
            args.metrics_url,
        )
    )
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

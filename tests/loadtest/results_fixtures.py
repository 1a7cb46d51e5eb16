"""Small typed results for the report and target tests."""

from __future__ import annotations

import math

from loadtest.peer_results import GridRow
from loadtest.results import Machine, Measurement
from loadtest.stats import Summary

MACHINE = Machine(
    cores=2,
    cpu_count=2,
    cpu_model="Test CPU",
    memory_gib=8.0,
    platform="Linux",
    python="3.11.7",
    libvips="8.18.7",
    git="abc1234",
)


def measured(per_second: float, cpu_ms: float, **figures: float) -> Measurement:
    """One system's figures: `per_second` requests/s over a 10 s window, `cpu_ms` CPU ms per
    request; the rest as given or plain."""
    summary = Summary(
        completed=round(per_second * 10),
        errors=0,
        window_s=10.0,
        per_second=per_second,
        mean_ms=figures.get("mean_ms", 1000 / per_second),
        p50_ms=figures.get("p50_ms", 100.0),
        p90_ms=150.0,
        p95_ms=180.0,
        p99_ms=figures.get("p99_ms", 200.0),
        max_ms=250.0,
    )
    return Measurement(
        summary=summary,
        cpu_ms_per_request=cpu_ms,
        client_cpu_ms_per_request=figures.get("client_ms", 0.5),
        main_thread_cpu_ms_per_request=figures.get("loop_ms", 1.0),
        cpu_cores=per_second * cpu_ms / 1000,
        client_cpu_cores=0.01,
        other_cpu_cores=figures.get("other_cores", 0.0),
        output_bytes=figures.get("output_bytes", 50_000.0),
        peak_rss_bytes=int(figures.get("peak_rss_bytes", 100 << 20)),
        segment_per_second=(per_second,),
        statuses={"200": round(per_second * 10)},
        error_samples=(),
    )


def row(
    system: str, per_second: float, cpu_ms: float, *, transform: str = "T1", concurrency: int = 2
) -> GridRow:
    psnr = None if system.startswith("bare") else math.nan
    return GridRow(transform, system, concurrency, psnr, measured(per_second, cpu_ms))

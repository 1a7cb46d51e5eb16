"""Summaries of a closed-loop run: throughput, latency percentiles and CPU per request."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """The `fraction` quantile of already sorted values, linearly interpolated."""
    if not sorted_values:
        return math.nan
    position = fraction * (len(sorted_values) - 1)
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    weight = position - low
    return sorted_values[low] * (1 - weight) + sorted_values[high] * weight


@dataclass(frozen=True, slots=True)
class Summary:
    """Completions inside the measured window, and their latencies in milliseconds."""

    completed: int
    errors: int
    window_s: float
    per_second: float
    mean_ms: float
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(latencies_ms: Sequence[float], errors: int, window_s: float) -> Summary:
    ordered = sorted(latencies_ms)
    count = len(ordered)
    return Summary(
        completed=count,
        errors=errors,
        window_s=window_s,
        per_second=count / window_s if window_s > 0 else math.nan,
        mean_ms=sum(ordered) / count if count else math.nan,
        p50_ms=percentile(ordered, 0.50),
        p90_ms=percentile(ordered, 0.90),
        p95_ms=percentile(ordered, 0.95),
        p99_ms=percentile(ordered, 0.99),
        max_ms=ordered[-1] if ordered else math.nan,
    )


@dataclass(slots=True)
class WindowTally:
    """One system under one load: the measured windows of the load client
    (`loadtest.loadgen`, or a bare loop reporting the same keys) added together."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    window_s: float = 0.0
    measured_s: float = 0.0
    cpu_s: float = 0.0  # the pixgate server, peer server or bare loop
    loop_cpu_s: float = 0.0  # a server's main thread: its event loop
    client_cpu_s: float = 0.0
    machine_busy_s: float = 0.0
    output_bytes: float = 0.0
    peak_rss_bytes: int = 0
    segment_rates: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)

    def add(self, raw: Mapping[str, Any], cpu_key: str = "cpu_s") -> None:
        """Add one window; `cpu_key` names the raw field holding the system's CPU seconds."""
        latencies = raw["latencies_ms"]
        self.latencies_ms.extend(latencies)
        self.errors += raw["errors"]
        self.window_s += raw["window_s"]
        self.measured_s += raw["measured_s"]
        self.cpu_s += raw[cpu_key]
        self.loop_cpu_s += raw.get("server_loop_cpu_s", 0.0)
        self.client_cpu_s += raw.get("client_cpu_s", 0.0)
        self.machine_busy_s += raw["machine_busy_s"]
        self.output_bytes = max(
            self.output_bytes, raw.get("output_bytes", raw.get("body_bytes_mean", 0))
        )
        self.peak_rss_bytes = max(self.peak_rss_bytes, raw.get("peak_rss_bytes", 0))
        self.segment_rates.append(len(latencies) / raw["window_s"])
        for status, count in raw.get("statuses", {}).items():
            self.statuses[status] = self.statuses.get(status, 0) + count
        self.error_samples.extend(raw.get("error_samples", [])[:3])

    def per_request_ms(self, cpu_s: float) -> float:
        """`cpu_s` spent in the measured windows, per completed request, in ms."""
        if not self.latencies_ms or not self.measured_s:
            return math.nan
        return cpu_s * (self.window_s / self.measured_s) / len(self.latencies_ms) * 1000

    @property
    def cpu_ms_per_request(self) -> float:
        return self.per_request_ms(self.cpu_s)

    @property
    def other_cores(self) -> float:
        """Machine-wide busy time minus ours, in cores: the noise from neighbours."""
        if not self.measured_s:
            return math.nan
        return max(0.0, (self.machine_busy_s - self.cpu_s - self.client_cpu_s) / self.measured_s)

    def summary(self) -> Summary:
        return summarize(self.latencies_ms, self.errors, self.window_s)

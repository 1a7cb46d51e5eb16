"""Summaries of a closed-loop run: throughput and latency percentiles."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
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

"""What pixgate's own /metrics say about a measured window: the load client snapshots
them before and after (`--metrics-url`), and `ModeResult` adds the differences up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from loadtest.stats import Summary, WindowTally

_NOT_TRANSFORMS = ('route="/health"', 'route="/ready"', 'route="/metrics"')


def _series_sum(samples: Mapping[str, float], name: str, *, needs: str = "") -> float:
    total = 0.0
    for series, value in samples.items():
        metric, _, labels = series.partition("{")
        if metric != name or (needs and needs not in labels):
            continue
        if any(other in labels for other in _NOT_TRANSFORMS):
            continue
        total += value
    return total


def metric_deltas(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
    """What pixgate's own metrics say about the measured window."""
    picks = {
        "request_sum": ("pixgate_request_duration_seconds_sum", 'status="200"'),
        "request_count": ("pixgate_request_duration_seconds_count", 'status="200"'),
        "transform_sum": ("pixgate_transform_duration_seconds_sum", ""),
        "transform_count": ("pixgate_transform_duration_seconds_count", ""),
        "cache_hit": ("pixgate_source_cache_total", 'outcome="hit"'),
        "cache_miss": ("pixgate_source_cache_total", 'outcome="miss"'),
        "fetches": ("pixgate_source_fetch_duration_seconds_count", ""),
    }
    return {
        key: _series_sum(after, name, needs=needs) - _series_sum(before, name, needs=needs)
        for key, (name, needs) in picks.items()
    }


@dataclass(slots=True)
class ModeResult(WindowTally):
    """One mode of one workload: its segments added together, with pixgate's own metrics."""

    server_means_ms: dict[str, float] = field(default_factory=dict)
    source_reads: dict[str, float] = field(default_factory=dict)
    _metric_sums: dict[str, float] = field(default_factory=dict)

    def add(self, raw: Mapping[str, Any], cpu_key: str = "cpu_s") -> None:
        # Named, not super(): a slots dataclass is a new class, without super()'s cell.
        WindowTally.add(self, raw, cpu_key)
        if "metrics_before" in raw:
            for key, value in metric_deltas(raw["metrics_before"], raw["metrics_after"]).items():
                self._metric_sums[key] = self._metric_sums.get(key, 0.0) + value

    def finish(self) -> Summary:
        sums = self._metric_sums
        for label, prefix in (
            ("handler", "request"),
            ("transform", "transform"),
        ):
            count = sums.get(f"{prefix}_count", 0.0)
            if count:
                self.server_means_ms[label] = sums[f"{prefix}_sum"] / count * 1000
        for key in ("cache_hit", "cache_miss", "fetches"):
            if key in sums:
                self.source_reads[key] = sums[key]
        return self.summary()

"""The ingester's Prometheus metrics: edge figures from the committed batches, the ingester's
own progress, and the storage cost gauges.

Batches are summed into plain dictionaries under a lock and turned into metric families only
when scraped, so counting a line costs nothing here. The hit ratio and percentiles are
PromQL over these (README, "Views and edge figures"):

    sum(rate(pixgate_edge_requests_total{cache_status=~"HIT|STALE|UPDATING|REVALIDATED"}[5m]))
    / sum(rate(pixgate_edge_requests_total{
        cache_status=~"HIT|STALE|UPDATING|REVALIDATED|MISS|EXPIRED"}[5m]))
    histogram_quantile(0.99, sum by (le) (rate(pixgate_edge_request_duration_seconds_bucket[5m])))
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from uploader.analytics.batch import LATENCY_BOUNDS_MS, OVERFLOW_MS, Batch
from uploader.analytics.storage_cost import StorageCost
from uploader.analytics.store import Committed

__all__ = ["IngestMetrics"]


@dataclass(slots=True)
class _Totals:
    requests: dict[tuple[str, str, str], int] = field(default_factory=dict)  # status, cache, fmt
    bytes: dict[tuple[str, str], int] = field(default_factory=dict)  # status, format
    latency: dict[int, int] = field(default_factory=dict)  # le_ms -> requests
    seconds: float = 0.0
    lines: dict[str, int] = field(default_factory=dict)  # outcome -> lines
    views: int = 0
    dropped_views: int = 0
    batches: int = 0


class IngestMetrics(Collector):
    """A collector over the committed batches; `registry` is where it is registered."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals = _Totals()
        self._storage: StorageCost | None = None
        self._lag: dict[str, int] = {}
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    def committed(self, batch: Batch, committed: Committed) -> None:
        with self._lock:
            totals = self._totals
            for (_, status, cache, fmt, _accept), counts in batch.traffic.items():
                key = (str(status), cache, fmt)
                totals.requests[key] = totals.requests.get(key, 0) + counts[0]
                byte_key = (str(status), fmt)
                totals.bytes[byte_key] = totals.bytes.get(byte_key, 0) + counts[1]
            for (_, le_ms), count in batch.latency.items():
                totals.latency[le_ms] = totals.latency.get(le_ms, 0) + count
            totals.seconds += batch.request_seconds
            other = batch.requests - batch.view_count - batch.unattributed
            comments = batch.lines - batch.requests - batch.skipped
            for outcome, count in (
                ("view", batch.view_count),
                ("unattributed", batch.unattributed),
                ("other", other),
                ("skipped", batch.skipped),
                ("comment", comments),
            ):
                totals.lines[outcome] = totals.lines.get(outcome, 0) + count
            totals.views += committed.views
            totals.dropped_views += committed.dropped_views
            totals.batches += 1

    def storage(self, cost: StorageCost) -> None:
        with self._lock:
            self._storage = cost

    def lag(self, source: str, lag_bytes: int) -> None:
        with self._lock:
            self._lag[source] = lag_bytes

    def describe(self) -> Iterator[Metric]:
        return iter(())

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            totals = self._totals
            requests = dict(totals.requests)
            sent = dict(totals.bytes)
            latency = dict(totals.latency)
            seconds, lines = totals.seconds, dict(totals.lines)
            views, dropped, batches = totals.views, totals.dropped_views, totals.batches
            storage, lag = self._storage, dict(self._lag)
        family = CounterMetricFamily(
            "pixgate_edge_requests",
            "Edge requests by status, cache outcome and served format.",
            labels=["status", "cache_status", "format"],
        )
        for labels, value in sorted(requests.items()):
            family.add_metric(list(labels), value)
        yield family
        family = CounterMetricFamily(
            "pixgate_edge_sent_bytes",
            "Bytes the edge sent (headers included), by status and format.",
            labels=["status", "format"],
        )
        for byte_labels, value in sorted(sent.items()):
            family.add_metric(list(byte_labels), value)
        yield family
        buckets: list[tuple[str, float]] = []
        cumulative = 0
        for bound in LATENCY_BOUNDS_MS:
            cumulative += latency.get(bound, 0)
            buckets.append((repr(bound / 1000), cumulative))
        buckets.append(("+Inf", cumulative + latency.get(OVERFLOW_MS, 0)))
        histogram = HistogramMetricFamily(
            "pixgate_edge_request_duration_seconds", "The edge's request time."
        )
        histogram.add_metric([], buckets, sum_value=seconds)
        yield histogram
        family = CounterMetricFamily(
            "pixgate_ingest_lines",
            "Log lines counted: view, unattributed (a successful GET of no uploaded image), "
            "other (errors, HEAD), skipped (unreadable), comment.",
            labels=["outcome"],
        )
        for outcome, value in sorted(lines.items()):
            family.add_metric([outcome], value)
        yield family
        yield CounterMetricFamily(
            "pixgate_views", "Views added to images (deleted and unknown images left out).", views
        )
        yield CounterMetricFamily(
            "pixgate_ingest_dropped_views", "Views of deleted or unknown images.", dropped
        )
        yield CounterMetricFamily("pixgate_ingest_batches", "Batches committed.", batches)
        lag_family = GaugeMetricFamily(
            "pixgate_ingest_lag_bytes", "Bytes of the live log not yet counted.", labels=["source"]
        )
        for source, value in sorted(lag.items()):
            lag_family.add_metric([source], value)
        yield lag_family
        if storage is not None:
            yield from _storage_families(storage)


def _storage_families(cost: StorageCost) -> Iterator[Metric]:
    stored = GaugeMetricFamily(
        "pixgate_storage_bytes", "Bytes of live originals by storage class.", labels=["class"]
    )
    monthly = GaugeMetricFamily(
        "pixgate_storage_cost_usd_per_month",
        "Monthly storage cost of the originals by class (PIXGATE_STORAGE_PRICES).",
        labels=["class"],
    )
    for item in cost.classes:
        stored.add_metric([item.storage_class], item.bytes)
        monthly.add_metric([item.storage_class], item.usd_per_month)
    yield stored
    yield monthly
    yield GaugeMetricFamily("pixgate_images", "Live images.", cost.images)
    yield GaugeMetricFamily(
        "pixgate_storage_cost_per_image_usd_per_month",
        "Monthly storage cost per live image.",
        cost.usd_per_image_month,
    )

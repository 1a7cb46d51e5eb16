"""Prometheus metrics of one app instance (own registry, so tests can run many apps)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_SIZE_BUCKETS = tuple(float(2**n) for n in range(10, 26))  # 1 KiB .. 32 MiB
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass(slots=True)
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    requests: Counter = field(init=False)
    request_seconds: Histogram = field(init=False)
    transform_seconds: Histogram = field(init=False)
    fetch_seconds: Histogram = field(init=False)
    source_cache: Counter = field(init=False)
    in_flight: Gauge = field(init=False)
    queued: Gauge = field(init=False)
    queue_seconds: Histogram = field(init=False)
    transform_timeouts: Counter = field(init=False)
    uploads: Counter = field(init=False)
    upload_seconds: Histogram = field(init=False)
    upload_bytes: Histogram = field(init=False)
    deletes: Counter = field(init=False)

    def __post_init__(self) -> None:
        r = self.registry
        self.requests = Counter(
            "pixgate_requests",
            "HTTP requests by route and status",
            ["route", "status"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "pixgate_request_duration_seconds",
            "HTTP request latency by route and status",
            ["route", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.transform_seconds = Histogram(
            "pixgate_transform_duration_seconds",
            "libvips transform time by output format",
            ["format"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.fetch_seconds = Histogram(
            "pixgate_source_fetch_duration_seconds",
            "Time to read an original by backend",
            ["backend"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.source_cache = Counter(
            "pixgate_source_cache",
            "In-process source cache lookups by outcome",
            ["outcome"],
            registry=r,
        )
        self.in_flight = Gauge("pixgate_transforms_in_flight", "Transforms running now", registry=r)
        self.queued = Gauge(
            "pixgate_transforms_queued", "Transforms waiting for a slot", registry=r
        )
        self.queue_seconds = Histogram(
            "pixgate_transform_queue_seconds",
            "Time a transform waited for a pool slot",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.transform_timeouts = Counter(
            "pixgate_transform_timeouts",
            "Transforms abandoned after PIXGATE_TRANSFORM_TIMEOUT",
            registry=r,
        )
        self.uploads = Counter(
            "pixgate_uploads",
            "Uploads by outcome (accepted, duplicate, rejected, failed) and reason",
            ["outcome", "reason"],
            registry=r,
        )
        self.upload_seconds = Histogram(
            "pixgate_upload_duration_seconds",
            "Upload time, body read to row written",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.upload_bytes = Histogram(
            "pixgate_upload_size_bytes",
            "Size of accepted uploads",
            buckets=_SIZE_BUCKETS,
            registry=r,
        )
        self.deletes = Counter("pixgate_deletes", "Deletes by outcome", ["outcome"], registry=r)

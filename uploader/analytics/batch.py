"""A batch of edge requests summed into what the database stores.

Which requests are views: a GET answered 2xx or 304 whose URI shows an uploaded image. A
successful GET that shows none (a page, an asset, a transform of some other source) is
counted as unattributed; HEAD, other methods and errors count as requests only.

Memory is bounded by the batch: at most one entry per distinct (image, day), per distinct
(minute, status, cache outcome, format, Accept class) and per (minute, latency bucket).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from uploader.analytics.formats import EdgeRequest

__all__ = [
    "HIT_OUTCOMES",
    "LATENCY_BOUNDS_MS",
    "MISS_OUTCOMES",
    "OVERFLOW_MS",
    "Batch",
    "TrafficKey",
    "day_text",
    "is_view",
]

# Upper bounds (ms) of the request-time histogram; OVERFLOW_MS holds everything slower.
LATENCY_BOUNDS_MS: tuple[int, ...] = (
    1, 2, 3, 5, 10, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750,
    1000, 1500, 2000, 3000, 5000, 10000, 30000, 60000,
)  # fmt: skip
OVERFLOW_MS = 2**31 - 1
_BUCKETS: tuple[int, ...] = (*LATENCY_BOUNDS_MS, OVERFLOW_MS)
# Cache outcomes served from the edge's store (REVALIDATED: a 304 from the origin, no body)
# and those that fetched the body from the origin. Others (BYPASS, errors) are neither.
HIT_OUTCOMES = frozenset({"HIT", "STALE", "UPDATING", "REVALIDATED"})
MISS_OUTCOMES = frozenset({"MISS", "EXPIRED"})
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()

# (minute, status, cache outcome, format, Accept class)
TrafficKey = tuple[int, int, str, str, str]


def is_view(request: EdgeRequest) -> bool:
    """A request that would show an image: GET answered 2xx or 304."""
    return request.method == "GET" and (200 <= request.status < 300 or request.status == 304)


def day_text(epoch_day: int) -> str:
    """``YYYY-MM-DD`` of a Unix day number."""
    return date.fromordinal(epoch_day + _EPOCH_ORDINAL).isoformat()


@dataclass(slots=True)
class Batch:
    """Counts of some lines of one log, to be committed with the position after them."""

    views: dict[tuple[str, int], int] = field(default_factory=dict)  # (image_id, Unix day)
    # [requests, bytes, views, unattributed]
    traffic: dict[TrafficKey, list[int]] = field(default_factory=dict)
    latency: dict[tuple[int, int], int] = field(default_factory=dict)  # (minute, le_ms)
    request_seconds: float = 0.0
    lines: int = 0  # every line read, comments included
    requests: int = 0
    view_count: int = 0
    unattributed: int = 0
    skipped: int = 0  # lines that are not a request of the format (garbage, torn)

    def add(self, request: EdgeRequest, image_id: Callable[[str], str | None]) -> None:
        """Count one request; `image_id` attributes successful GETs."""
        self.requests += 1
        viewed = unattributed = 0
        if is_view(request):
            found = image_id(request.uri)
            if found is None:
                unattributed = 1
            else:
                viewed = 1
                key = (found, request.minute // 1440)
                self.views[key] = self.views.get(key, 0) + 1
        self.view_count += viewed
        self.unattributed += unattributed
        traffic_key = (
            request.minute,
            request.status,
            request.cache_status,
            request.format,
            request.accept_class,
        )
        counts = self.traffic.get(traffic_key)
        if counts is None:
            self.traffic[traffic_key] = [1, request.bytes, viewed, unattributed]
        else:
            counts[0] += 1
            counts[1] += request.bytes
            counts[2] += viewed
            counts[3] += unattributed
        bucket = _BUCKETS[bisect.bisect_left(LATENCY_BOUNDS_MS, request.seconds * 1000)]
        latency_key = (request.minute, bucket)
        self.latency[latency_key] = self.latency.get(latency_key, 0) + 1
        self.request_seconds += request.seconds

    def view_rows(self) -> list[tuple[str, str, int]]:
        """(image_id, YYYY-MM-DD, views) of the batch."""
        return [(image_id, day_text(day), count) for (image_id, day), count in self.views.items()]

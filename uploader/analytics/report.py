"""`pixgate analytics report`: the edge figures of a recent window and the storage cost, as
a dictionary (`--json`) or a readable table.

Hit ratio = hits / (hits + misses), where hits are HIT, STALE, UPDATING and REVALIDATED and
misses MISS and EXPIRED; other outcomes (BYPASS, errors at the edge, none logged) are in
neither. Percentiles come from the stored histogram: the upper bound of the bucket that
holds them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from uploader.analytics.batch import HIT_OUTCOMES, MISS_OUTCOMES, OVERFLOW_MS
from uploader.analytics.storage_cost import StorageCost, storage_cost
from uploader.analytics.store import AnalyticsStore, LatencyRow

__all__ = ["build_report", "parse_window", "percentile_ms", "render_table"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_window(text: str) -> timedelta:
    """``90s``, ``15m``, ``1h``, ``7d`` (a bare number is minutes)."""
    value = text.strip().lower()
    unit = value[-1:] if value[-1:] in _UNITS else "m"
    number = value[:-1] if value[-1:] in _UNITS else value
    try:
        amount = float(number)
    except ValueError:
        raise ValueError(f"expected a duration such as 90s, 15m, 1h or 7d, got {text!r}") from None
    if not 0 < amount < 1e7:
        raise ValueError(f"expected a positive duration, got {text!r}")
    return timedelta(seconds=amount * _UNITS[unit])


def percentile_ms(rows: list[LatencyRow], quantile: float) -> int | None:
    """The bucket bound (ms) at `quantile` of the histogram; None without requests."""
    total = sum(row.requests for row in rows)
    if total == 0:
        return None
    wanted = quantile * total
    seen = 0
    for row in sorted(rows, key=lambda row: row.le_ms):
        seen += row.requests
        if seen >= wanted:
            return row.le_ms
    return rows[-1].le_ms


def _add(table: dict[str, dict[str, int]], key: str, requests: int, sent: int) -> None:
    entry = table.setdefault(key, {"requests": 0, "bytes": 0})
    entry["requests"] += requests
    entry["bytes"] += sent


def build_report(
    store: AnalyticsStore,
    *,
    window: timedelta,
    prices: Mapping[str, float],
    now: datetime | None = None,
) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    since = now - window
    first_minute = int(since.timestamp() // 60)
    traffic = store.traffic_since(first_minute)
    latency = store.latency_since(first_minute)
    hits = sum(row.requests for row in traffic if row.cache_status in HIT_OUTCOMES)
    misses = sum(row.requests for row in traffic if row.cache_status in MISS_OUTCOMES)
    by_format: dict[str, dict[str, int]] = {}
    by_status: dict[str, dict[str, int]] = {}
    by_cache: dict[str, dict[str, int]] = {}
    by_accept: dict[str, dict[str, int]] = {}
    for row in traffic:
        _add(by_format, row.format, row.requests, row.bytes)
        _add(by_status, str(row.status), row.requests, row.bytes)
        _add(by_cache, row.cache_status, row.requests, row.bytes)
        _add(by_accept, row.accept_class, row.requests, row.bytes)
    cost = storage_cost(store, prices, now)
    p50, p99 = percentile_ms(latency, 0.5), percentile_ms(latency, 0.99)
    return {
        "since": since.isoformat(timespec="seconds"),
        "until": now.isoformat(timespec="seconds"),
        "requests": sum(row.requests for row in traffic),
        "bytes": sum(row.bytes for row in traffic),
        "views": sum(row.views for row in traffic),
        "unattributed": sum(row.unattributed for row in traffic),
        "hits": hits,
        "misses": misses,
        "hit_ratio": hits / (hits + misses) if hits + misses else None,
        "request_time_ms": {
            "p50": None if p50 == OVERFLOW_MS else p50,
            "p99": None if p99 == OVERFLOW_MS else p99,
            "over_60s": p99 == OVERFLOW_MS,
        },
        "by_format": dict(sorted(by_format.items())),
        "by_status": dict(sorted(by_status.items())),
        "by_cache_status": dict(sorted(by_cache.items())),
        "by_accept_class": dict(sorted(by_accept.items())),
        "storage": _storage(cost),
    }


def _storage(cost: StorageCost) -> dict[str, Any]:
    return {
        "images": cost.images,
        "bytes": cost.bytes,
        "usd_per_month": round(cost.usd_per_month, 6),
        "usd_per_image_month": round(cost.usd_per_image_month, 9),
        "classes": [
            {
                "class": item.storage_class,
                "from_days": item.from_days,
                "images": item.images,
                "bytes": item.bytes,
                "billed_bytes": item.billed_bytes,
                "usd_per_gb_month": item.usd_per_gb_month,
                "usd_per_month": round(item.usd_per_month, 6),
            }
            for item in cost.classes
        ],
    }


def _bytes(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def _ms(value: int | None) -> str:
    return "-" if value is None else f"<= {value} ms"


def render_table(report: Mapping[str, Any]) -> str:
    """The report as aligned text for a terminal."""
    ratio = report["hit_ratio"]
    timing = report["request_time_ms"]
    lines = [
        f"Edge, {report['since']} .. {report['until']}",
        f"  requests        {report['requests']:>12,}   sent {_bytes(report['bytes'])}",
        f"  views           {report['views']:>12,}   unattributed {report['unattributed']:,}",
        f"  hit ratio       {'-' if ratio is None else f'{ratio:.1%}':>12}"
        f"   ({report['hits']:,} hits, {report['misses']:,} misses)",
        f"  request time    p50 {_ms(timing['p50'])}, p99 "
        + ("> 60000 ms" if timing["over_60s"] else _ms(timing["p99"])),
    ]
    for title, key in (
        ("format", "by_format"),
        ("status", "by_status"),
        ("cache", "by_cache_status"),
        ("accept class", "by_accept_class"),
    ):
        lines.append("")
        lines.append(f"  {'by ' + title:<16}{'requests':>12}{'bytes':>14}")
        for name, entry in report[key].items():
            lines.append(f"  {name:<16}{entry['requests']:>12,}{_bytes(entry['bytes']):>14}")
    storage = report["storage"]
    lines += [
        "",
        f"Storage: {storage['images']:,} originals, {_bytes(storage['bytes'])},"
        f" ${storage['usd_per_month']:,.2f}/month,"
        f" ${storage['usd_per_image_month']:.6f} per image per month",
        f"  {'class':<14}{'age':>10}{'images':>12}{'billed':>14}{'$/GB-month':>12}{'$/month':>12}",
    ]
    for item in storage["classes"]:
        lines.append(
            f"  {item['class']:<14}{'>= ' + str(item['from_days']) + ' d':>10}"
            f"{item['images']:>12,}{_bytes(item['billed_bytes']):>14}"
            f"{item['usd_per_gb_month']:>12}{item['usd_per_month']:>12,.4f}"
        )
    return "\n".join(lines)

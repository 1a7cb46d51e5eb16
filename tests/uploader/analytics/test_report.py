"""The report and the storage cost: figures from stored rows, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from loadtest.harness.edgelogs import LoggedRequest
from tests.uploader.analytics.conftest import Images, append, ingest, query
from uploader.analytics.report import build_report, parse_window, percentile_ms, render_table
from uploader.analytics.storage_cost import GIB, storage_cost
from uploader.analytics.store import LatencyRow, open_store

PRICES = {"STANDARD": 0.023, "STANDARD_IA": 0.0125, "GLACIER_IR": 0.004}
NOW = datetime(2025, 12, 2, 5, 0, tzinfo=UTC)
AT = NOW.timestamp() - 600  # ten minutes before NOW


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        pytest.param("1h", 3600, id="hour"),
        pytest.param("90s", 90, id="seconds"),
        pytest.param("15m", 900, id="minutes"),
        pytest.param("30", 1800, id="bare-minutes"),
        pytest.param("7d", 7 * 86400, id="days"),
    ],
)
def test_windows(text: str, seconds: int) -> None:
    assert parse_window(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "h", "-1h", "0m", "soon"])
def test_bad_windows(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_window(text)


@pytest.mark.parametrize(
    ("rows", "quantile", "expected"),
    [
        pytest.param([], 0.5, None, id="empty"),
        pytest.param([LatencyRow(2, 98), LatencyRow(500, 2)], 0.5, 2, id="p50"),
        pytest.param([LatencyRow(2, 98), LatencyRow(500, 2)], 0.99, 500, id="p99-tail"),
        pytest.param([LatencyRow(2, 99), LatencyRow(500, 1)], 0.99, 2, id="p99-edge"),
    ],
)
def test_percentiles_are_bucket_bounds(
    rows: list[LatencyRow], quantile: float, expected: int | None
) -> None:
    assert percentile_ms(rows, quantile) == expected


async def test_report_of_the_window(images: Images, tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    first, second = images.live
    old = AT - 7200  # outside a one-hour window
    append(
        log,
        LoggedRequest(f"/{first}_m", at=old, cache="MISS"),
        *(LoggedRequest(f"/{first}_m", at=AT) for _ in range(8)),
        LoggedRequest(
            f"/{second}.webp", at=AT, cache="MISS", request_time=0.8, content_type="image/webp"
        ),
        LoggedRequest(f"/{second}_s", at=AT, status=404, cache="MISS", content_type=""),
        LoggedRequest("/", at=AT, cache="", content_type="text/html"),
    )
    ingest(images.url, log)
    with open_store(images.url) as store:
        report = build_report(store, window=timedelta(hours=1), prices=PRICES, now=NOW)
    assert (report["requests"], report["views"], report["unattributed"]) == (11, 9, 1)
    assert (report["hits"], report["misses"]) == (8, 2)
    assert report["hit_ratio"] == 0.8
    assert report["request_time_ms"] == {"p50": 2, "p99": 1000, "over_60s": False}
    assert report["by_status"]["404"]["requests"] == 1
    assert report["by_format"]["webp"] == {"requests": 1, "bytes": 5301}
    assert set(report["by_accept_class"]) == {"avif"}
    table = render_table(report)
    assert "hit ratio" in table and "80.0%" in table and "STANDARD_IA" in table


async def test_storage_cost_by_age_and_class(images: Images) -> None:
    first, second = images.live
    ages = {first: 400, second: 100}  # the deleted image costs nothing
    for image_id, days in ages.items():
        uploaded = NOW - timedelta(days=days)
        text = uploaded.isoformat(timespec="microseconds")
        query(
            images.url,
            "UPDATE images SET uploaded_at = %s, size_bytes = %s WHERE image_id = %s",
            (uploaded if images.url.startswith("postgres") else text, 64 * 1024, image_id),
        )
    with open_store(images.url) as store:
        cost = storage_cost(store, PRICES, NOW)
    by_class = {item.storage_class: item for item in cost.classes}
    assert by_class["STANDARD"].images == 0
    assert (by_class["STANDARD_IA"].images, by_class["GLACIER_IR"].images) == (1, 1)
    # Both objects are under 128 KiB: Standard-IA and Glacier IR bill them as 128 KiB.
    assert by_class["GLACIER_IR"].billed_bytes == by_class["STANDARD_IA"].billed_bytes == 131072
    expected = 131072 / GIB * (0.0125 + 0.004)
    assert cost.usd_per_month == pytest.approx(expected)
    assert cost.usd_per_image_month == pytest.approx(expected / 2)
    assert cost.bytes == 2 * 64 * 1024

"""The miss-latency report: the 1 s bound is judged on the q:auto rows only."""

from __future__ import annotations

import pytest

from loadtest.miss_latency import MissResult, MissRow, report
from loadtest.report import markdown
from loadtest.stats import summarize


def _row(output_format: str, quality: str, latencies_ms: list[float]) -> MissRow:
    return MissRow(output_format, quality, 2, summarize(latencies_ms, 0, 10.0), 50.0)


@pytest.mark.parametrize(
    ("latencies_ms", "verdict"),
    [
        pytest.param([100.0] * 99 + [900.0], "met", id="p99-under-the-bound"),
        pytest.param([100.0] * 90 + [1500.0] * 10, "MISSED", id="p99-over-the-bound"),
    ],
)
def test_the_bound_is_judged_on_auto_rows(latencies_ms: list[float], verdict: str) -> None:
    result = MissResult(
        "photo.jpg", (_row("avif", "auto", latencies_ms), _row("avif", "80", [2000.0] * 10))
    )
    rendered = markdown(report(result))
    auto_row = next(line for line in rendered if "| auto |" in line)
    fixed_row = next(line for line in rendered if "| 80 |" in line)
    assert auto_row.rstrip(" |").endswith(verdict)
    assert "met" not in fixed_row and "MISSED" not in fixed_row

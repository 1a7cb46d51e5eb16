"""Window tallies of the benchmarks: what they add up and the figures derived from them."""

from __future__ import annotations

import math
from typing import Any

import pytest

from loadtest.server_metrics import ModeResult
from loadtest.stats import WindowTally


def _window(**overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "latencies_ms": [10.0, 20.0, 30.0, 40.0],
        "errors": 1,
        "window_s": 2.0,
        "measured_s": 2.0,
        "cpu_s": 0.4,
        "server_cpu_s": 0.8,
        "server_loop_cpu_s": 0.04,
        "client_cpu_s": 0.02,
        "machine_busy_s": 1.5,
        "body_bytes_mean": 1000.0,
        "statuses": {"200": 4, "503": 1},
        "error_samples": ["503: busy"],
    }
    return raw | overrides


@pytest.mark.parametrize("tally_type", [WindowTally, ModeResult], ids=["tally", "bench-mode"])
def test_windows_add_up(tally_type: type[WindowTally]) -> None:
    tally = tally_type()
    tally.add(_window())
    tally.add(_window(latencies_ms=[50.0, 60.0, 70.0, 80.0], output_bytes=1200, peak_rss_bytes=9))
    assert tally.summary().completed == 8
    assert tally.summary().per_second == 2.0  # 8 requests over 4 s of windows
    assert tally.errors == 2
    assert tally.statuses == {"200": 8, "503": 2}
    assert tally.segment_rates == [2.0, 2.0]
    assert tally.output_bytes == 1200
    assert tally.peak_rss_bytes == 9
    assert tally.cpu_ms_per_request == pytest.approx(100.0)  # 0.8 s over 8 requests
    assert tally.per_request_ms(tally.loop_cpu_s) == pytest.approx(10.0)
    assert tally.other_cores == pytest.approx((3.0 - 0.8 - 0.04) / 4.0)


def test_a_server_window_counts_the_named_cpu_and_its_metrics() -> None:
    transforms = "pixgate_transform_duration_seconds"
    before = {f'{transforms}_sum{{format="webp"}}': 1.0, f'{transforms}_count{{format="webp"}}': 2}
    after = {f'{transforms}_sum{{format="webp"}}': 1.3, f'{transforms}_count{{format="webp"}}': 6}
    mode = ModeResult()
    mode.add(_window(metrics_before=before, metrics_after=after), "server_cpu_s")
    assert mode.cpu_ms_per_request == pytest.approx(200.0)  # 0.8 s over 4 requests
    assert mode.finish().completed == 4
    assert mode.server_means_ms == {"transform": pytest.approx(75.0)}  # 0.3 s over 4


def test_an_empty_tally_has_no_figures() -> None:
    tally = WindowTally()
    assert math.isnan(tally.cpu_ms_per_request)
    assert math.isnan(tally.other_cores)
    assert tally.summary().completed == 0

"""The proxy benchmark's derived figures and its upload section's, from small typed rows:
pixgate over the bare loop, AVIF over WebP, pixgate's uploads over their pieces."""

from __future__ import annotations

import math

import pytest

from loadtest.bench_report import report as bench_report
from loadtest.bench_results import (
    BenchMeta,
    BenchRun,
    FirstRequest,
    ModeRow,
    avif_over_webp,
    pixgate_over_bare,
)
from loadtest.report import text
from loadtest.stats import summarize
from loadtest.upload_results import Stored, UploadRow, pixgate_over_pieces
from tests.loadtest.results_fixtures import MACHINE, measured


def _mode(workload: str, mode: str, per_second: float, cpu_ms: float, p50_ms: float) -> ModeRow:
    output_format, _, concurrency = workload.partition("@")
    return ModeRow(
        workload=workload,
        format=output_format,
        quality=80,
        effort=2,
        concurrency=int(concurrency),
        mode=mode,
        measured=measured(per_second, cpu_ms, p50_ms=p50_ms),
        server_means_ms={},
        source_reads={},
    )


ROWS = (
    _mode("webp@2", "bare", 20, 50, 100),
    _mode("webp@2", "pixgate", 19, 55, 110),
    _mode("avif@2", "bare", 10, 100, 180),
    _mode("avif@2", "pixgate", 8, 110, 250),
)


def test_pixgate_over_bare() -> None:
    ratios = pixgate_over_bare(ROWS)
    assert list(ratios) == ["webp@2", "avif@2"]
    webp = ratios["webp@2"]
    assert webp.per_second == pytest.approx(0.95)
    assert webp.p50 == pytest.approx(1.1)
    assert webp.cpu_per_image == pytest.approx(1.1)
    assert webp.rounds == pytest.approx((0.95,))


@pytest.mark.parametrize(
    ("rows", "concurrency", "expected"),
    [
        pytest.param(
            ROWS,
            2,
            {"bare": (2.0, 1.8, 2.0), "pixgate": (19 / 8, 250 / 110, 2.0)},
            id="both-formats-at-2",
        ),
        pytest.param(ROWS, 4, {}, id="not-measured-at-that-concurrency"),
        pytest.param(ROWS[:2], 2, {}, id="no-avif-row"),
    ],
)
def test_avif_over_webp(
    rows: tuple[ModeRow, ...], concurrency: int, expected: dict[str, tuple[float, ...]]
) -> None:
    ratios = avif_over_webp(rows, concurrency)
    assert list(ratios) == list(expected)
    for mode, r in ratios.items():
        assert (r.time_by_throughput, r.p50, r.cpu_per_image) == pytest.approx(expected[mode])


def _upload(phase: str, mode: str, latencies_ms: list[float]) -> UploadRow:
    return UploadRow(
        phase=phase,
        mode=mode,
        concurrency=1,
        summary=summarize(latencies_ms, 0, 1.0),
        steps_mean_ms={},
        cpu_ms_per_upload={},
        other_cpu_cores=0.0,
        segment_per_second=(),
        segment_other_cores=(),
        server_means_ms={},
        statuses={},
        error_samples=(),
    )


def test_pixgate_over_pieces() -> None:
    rows = [
        _upload("sequential", "pixgate", [100.0, 200.0]),
        _upload("sequential", "pieces", [50.0, 150.0, 100.0, 100.0]),
    ]
    (ratios,) = pixgate_over_pieces(rows).values()
    assert ratios.per_second == pytest.approx(0.5)
    assert ratios.mean_ms == pytest.approx(1.5)
    assert ratios.p50_ms == pytest.approx(1.5)
    assert not math.isnan(ratios.p95_ms)


@pytest.mark.parametrize(
    ("rows", "objects", "expected", "ok"),
    [
        pytest.param(54, 54, 54, True, id="all-landed"),
        pytest.param(54, 53, 54, False, id="an-object-missing"),
        pytest.param(55, 55, 54, False, id="one-too-many"),
    ],
)
def test_stored(rows: int, objects: int, expected: int, ok: bool) -> None:
    assert Stored(rows, objects, expected).ok is ok


def test_bench_report_tables() -> None:
    meta = BenchMeta(
        machine=MACHINE, server_overrides={}, loadavg_start="0.1 0.2 0.3", server_concurrency=2,
        webp_effort=2,
        avif_effort=2, avif_quality=55, source_size="4000x3000", source_quality=90,
        source_bytes=2_860_191, moto="standalone server, loopback", duration_s=2.0, rounds=1,
        warmup_s=0.5, distinct_urls=4000, target_width=800, source_cache_ttl_s=3600,
        avif_concurrency=2, first_requests={"webp": FirstRequest(250.0, 52_446, "800x600")},
        date="2026-12-01 10:00:00", elapsed_s=42.0,
    )  # fmt: skip
    run = BenchRun(meta, ROWS, pixgate_over_bare(ROWS), avif_over_webp(ROWS, 2), 200 << 20)
    lines = text(bench_report(run))
    header = "workload     mode         conc   req/s   p50 ms   p99 ms errors CPU ms/img"
    start = lines.index(header)
    assert lines[start + 1] == "-" * len(header)
    assert lines[start + 2] == (
        "WEBP 800px   bare pyvips     2    20.0    100.0    200.0      0       50.0"
    )
    assert "  webp@2             0.95 (0.95-0.95)        1.10  1.00  1.05     1.10" in lines
    assert (
        "first requests (before load; the first includes the S3 read from moto): webp 250 ms"
        " (52,446 bytes)"
    ) in lines
    assert "  pixgate      2.38x by throughput, 2.27x by p50, 2.00x by CPU per image" in lines

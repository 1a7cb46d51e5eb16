"""The peer benchmark's pure parts: each system's spelling of T1-T3, wrk's output, PSNR, the
verdicts and the bare loop's threads (the benchmark itself is a command:
`python -m loadtest.peers`)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from pixgate_signing import UrlBuilder

from loadtest import segments
from loadtest.cachebench import WrkResult, combine, parse_wrk
from loadtest.checks import psnr_db
from loadtest.harness.imagegen import jpeg, landscape
from loadtest.peer_plan import parse_overrides
from loadtest.peer_servers import TRANSFORMS, Transform, ipx_path, pixgate_url, thumbor_path
from loadtest.peer_targets import verdict
from loadtest.segments import bare_segment

T1, T2, T3 = TRANSFORMS

WRK_OUTPUT = """Running 3s test @ http://127.0.0.1:40000/variant.webp
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   412.50us  210.11us   9.87ms   91.00%
    Req/Sec    38.12k     1.20k   40.01k    70.00%
  Latency Distribution
     50%  380.00us
     75%  450.00us
     90%  600.00us
     99%    1.25ms
  114360 requests in 3.00s, 5.55GB read
  Non-2xx or 3xx responses: 2
Requests/sec:  38120.00
Transfer/sec:      1.85GB
"""


@pytest.mark.parametrize(
    ("transform", "expected"),
    [
        pytest.param(T1, "/unsafe/800x0/filters:format(webp):quality(80)/a.jpg", id="T1"),
        pytest.param(T2, "/unsafe/300x300/filters:format(avif):quality(55)/a.jpg", id="T2"),
        pytest.param(
            T3,
            "/unsafe/500x0/filters:format(jpeg):quality(80):background_color(ffffff)/a.jpg",
            id="T3",
        ),
    ],
)
def test_thumbor_paths(transform: Transform, expected: str) -> None:
    assert thumbor_path(transform, "a.jpg") == expected


@pytest.mark.parametrize(
    ("transform", "expected"),
    [
        pytest.param(T1, "/f_webp,q_80,w_800/a.jpg", id="T1"),
        pytest.param(T2, "/f_avif,q_55,s_300x300/a.jpg", id="T2"),
        pytest.param(T3, "/b_ffffff,flatten,f_jpeg,q_80,w_500/a.jpg", id="T3"),
    ],
)
def test_ipx_paths(transform: Transform, expected: str) -> None:
    assert ipx_path(transform, "a.jpg") == expected


def test_lossless_references_keep_the_geometry() -> None:
    assert thumbor_path(T2, "a.jpg", lossless=True) == "/unsafe/300x300/filters:format(png)/a.jpg"
    assert ipx_path(T3, "a.png", lossless=True) == "/f_png,w_500/a.png"


def test_pixgate_urls_differ_only_by_the_cachebuster() -> None:
    builder = UrlBuilder("http://pixgate", "ab" * 16, "cd" * 8)
    first, second = pixgate_url(builder, T2, 0), pixgate_url(builder, T2, 1)
    assert first != second
    assert "/rs:fill:300:300/q:55/cb:0/plain/" in first
    assert first.endswith("@avif")
    assert pixgate_url(builder, T3, None).endswith("/w:500/plain/" + T3.source.name + "@png")


def test_parse_wrk() -> None:
    parsed = parse_wrk(WRK_OUTPUT)
    assert parsed["requests"] == 114360
    assert parsed["seconds"] == pytest.approx(3.0)
    assert parsed["per_second"] == pytest.approx(38120.0)
    assert parsed["p50_ms"] == pytest.approx(0.38)
    assert parsed["p99_ms"] == pytest.approx(1.25)
    assert parsed["non_2xx"] == 2


def test_wrk_rounds_combine() -> None:
    rounds = [
        WrkResult(30_000, 2.0, 15_000.0, 0.3, 4.0, 1, 0, 0.5, 0.4, 1.2),
        WrkResult(50_000, 2.0, 25_000.0, 0.2, 6.0, 0, 2, 0.7, 0.6, 1.6),
        WrkResult(40_000, 2.0, 20_000.0, 0.25, 5.0, 0, 0, 0.6, 0.5, 1.4),
    ]
    mode = combine(rounds)
    assert mode.requests == 120_000
    assert mode.per_second == pytest.approx(20_000.0)
    assert mode.round_per_second == (15_000.0, 25_000.0, 20_000.0)
    assert (mode.p50_ms, mode.p99_ms) == (0.25, 5.0)  # the rounds' medians
    assert (mode.non_2xx, mode.socket_errors) == (1, 2)
    assert mode.nginx_cpu_us_per_request == pytest.approx(1.5 / 120_000 * 1e6)
    assert mode.nginx_cpu_cores == pytest.approx(0.25)
    assert mode.wrk_cpu_cores == pytest.approx(0.3)
    assert mode.other_cpu_cores == pytest.approx((4.2 - 1.5 - 1.8) / 6.0)


def test_psnr_of_a_copy_is_infinite_and_of_a_lossy_copy_finite() -> None:
    image = landscape(160, 120)
    lossless = bytes(image.pngsave_buffer())
    assert math.isinf(psnr_db(lossless, lossless))
    assert 25 < psnr_db(jpeg(image, quality=50), lossless) < 60


@pytest.mark.parametrize(
    ("values", "target", "strictly", "expected"),
    [
        pytest.param({2: 1.2, 4: 1.1}, 1.1, False, "MET", id="at-target"),
        pytest.param({2: 1.2, 4: 1.09}, 1.1, False, "MISSED", id="one-concurrency-short"),
        pytest.param({2: 1.0}, 1.0, True, "MISSED", id="ahead-means-strictly"),
        pytest.param({}, 1.0, False, "n/a", id="not-measured"),
    ],
)
def test_status(values: dict[int, float], target: float, strictly: bool, expected: str) -> None:
    assert verdict(values, target, strictly) == expected


def test_overrides_split_settings_from_environment() -> None:
    settings, environment = parse_overrides(
        {"PIXGATE_WEBP_EFFORT": "2", "VIPS_CONCURRENCY": "1", "MALLOC_ARENA_MAX": "2"}
    )
    assert settings == {"PIXGATE_WEBP_EFFORT": "2"}
    assert environment == {"VIPS_CONCURRENCY": "1", "MALLOC_ARENA_MAX": "2"}
    with pytest.raises(ValueError, match="PIXGATE_KEY"):
        parse_overrides({"PIXGATE_KEY": "00"})
    with pytest.raises(ValueError, match="PIXGATE_WEBP_EFFORT"):
        parse_overrides({"PIXGATE_WEBP_EFFORT": "9"})


@pytest.mark.parametrize(
    ("max_threads", "clients", "threads"),
    [
        pytest.param(None, 4, 4, id="one-thread-per-client"),
        pytest.param(2, 4, 2, id="bounded-by-cores"),
        pytest.param(2, 1, 1, id="fewer-clients-than-the-bound"),
    ],
)
def test_bare_loop_threads(
    monkeypatch: pytest.MonkeyPatch, max_threads: int | None, clients: int, threads: int
) -> None:
    """The bare loop's command line (the child process itself is the benchmark's to run)."""
    commands: list[list[str]] = []
    monkeypatch.setattr(segments, "run_child", lambda args, timeout, env: commands.append(args))
    bare_segment(Path("images"), {"webp": 2}, None, max_threads)(T1, clients, 1.0, 0.5)
    (command,) = commands
    assert command[command.index("--threads") + 1] == str(threads)
    assert command[command.index("--effort") + 1] == "2"

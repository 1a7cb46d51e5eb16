"""One measured window of one system, each in its own process, and systems taking turns.

A segment runs the bare pyvips loop (`loadtest.bare`) or the load client on a server
(`loadtest.loadgen`) for one window and returns the JSON the child printed; `alternate`
runs several in rounds, forward then backward, so drift in the machine's load hits all
alike, and adds the windows up per system.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from loadtest.peer_servers import Transform
from loadtest.processes import Server, run_child
from loadtest.procfs import peak_rss_bytes, reset_peak_rss
from loadtest.stats import WindowTally
from proxy.options import OutputFormat
from proxy.quality import encoder_quality

CHILD_SLACK_S = 90.0

# (transform, concurrency, measured seconds, warm-up seconds) -> the child's JSON
Segment = Callable[[Transform, int, float, float], dict[str, Any]]
Tally = TypeVar("Tally", bound=WindowTally)


def bare_quality(transform: Transform) -> int:
    """The encoder Q pixgate uses for the transform's q (proxy.quality's scale), so the bare
    loop encodes exactly as pixgate does."""
    return encoder_quality(OutputFormat(transform.output_format), transform.quality)


def bare_segment(
    images: Path,
    efforts: Mapping[str, int],
    env: dict[str, str] | None = None,
    max_threads: int | None = None,
) -> Segment:
    """The bare pyvips loop doing pixgate's libvips calls on the source in `images`: one
    thread per client, or at most `max_threads`."""

    def segment(
        transform: Transform, concurrency: int, duration: float, warmup: float
    ) -> dict[str, Any]:
        threads = concurrency if max_threads is None else min(concurrency, max_threads)
        args = [
            "-m", "loadtest.bare",
            "--source", str(images / transform.source.name),
            "--width", str(transform.width),
            "--height", str(transform.height),
            "--crop", "centre" if transform.cover else "none",
            "--format", transform.output_format,
            "--quality", str(bare_quality(transform)),
            "--effort", str(efforts.get(transform.output_format, 0)),
            "--threads", str(threads),
            "--duration", str(duration),
            "--warmup", str(warmup),
        ]  # fmt: skip
        if transform.flatten:
            args.append("--flatten")
        raw: dict[str, Any] = run_child(args, duration + warmup + CHILD_SLACK_S, env)
        return raw

    return segment


def http_segment(
    server: Server,
    urls_files: Mapping[str, Path],
    *,
    metrics: bool = False,
    reset_peak: bool = True,
) -> Segment:
    """The load client on one server, on the URLs in `urls_files[transform.key]`, reading
    the server's CPU, its peak RSS (restarted first unless `reset_peak` is off, for a peak
    over the whole run) and, with `metrics`, its /metrics before and after."""

    def segment(
        transform: Transform, concurrency: int, duration: float, warmup: float
    ) -> dict[str, Any]:
        if reset_peak:
            reset_peak_rss(server.pid)
        metrics_args = ["--metrics-url", f"{server.base_url}/metrics"] if metrics else []
        raw: dict[str, Any] = run_child(
            [
                "-m", "loadtest.loadgen",
                "--urls-file", str(urls_files[transform.key]),
                "--concurrency", str(concurrency),
                "--duration", str(duration),
                "--warmup", str(warmup),
                "--server-pid", str(server.pid),
                *metrics_args,
            ],
            duration + warmup + CHILD_SLACK_S,
        )  # fmt: skip
        raw["cpu_s"] = raw["server_cpu_s"]
        raw["output_bytes"] = raw["body_bytes_mean"]
        raw["peak_rss_bytes"] = peak_rss_bytes(server.pid)
        return raw

    return segment


def alternate(
    segments: Mapping[str, Segment],
    transform: Transform,
    concurrency: int,
    *,
    rounds: int,
    duration: float,
    warmup: float,
    new_tally: Callable[[], Tally],
    on_window: Callable[[str, int, dict[str, Any]], None] | None = None,
) -> dict[str, Tally]:
    """Each system `rounds` times for `duration / rounds` seconds, forward then backward;
    `on_window(system, round_index, raw)` after each window."""
    tallies = {key: new_tally() for key in segments}
    keys = list(segments)
    for round_index in range(rounds):
        for key in keys if round_index % 2 == 0 else keys[::-1]:
            raw = segments[key](transform, concurrency, duration / rounds, warmup)
            tallies[key].add(raw)
            if on_window is not None:
                on_window(key, round_index, raw)
    return tallies

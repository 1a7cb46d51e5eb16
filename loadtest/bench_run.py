"""The run of `python -m loadtest.bench`: the source in moto's S3, pixgate reading it, and
for each workload pixgate under load and the bare pyvips loop doing the same work, taking
turns (ABBA); then the upload section. Returns what was measured (`BenchRun`). Every
process started here is stopped by its PID when the run ends, however it ends."""

from __future__ import annotations

import secrets
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pyvips
from pixgate_signing import UrlBuilder

from config.settings import variable_value
from loadtest import machine
from loadtest.bench_results import (
    MODE_LABELS,
    MODES,
    BenchMeta,
    BenchRun,
    FirstRequest,
    ModeRow,
    avif_over_webp,
    pixgate_over_bare,
)
from loadtest.harness.imagegen import jpeg
from loadtest.harness.s3server import aws_test_env, create_bucket, run_moto_server, s3_client
from loadtest.imageset import Source, photo
from loadtest.overrides import OWN_VARIABLES, parse_overrides
from loadtest.peer_servers import Transform
from loadtest.processes import Server, run_pixgate
from loadtest.procfs import peak_rss_bytes
from loadtest.results import Measurement
from loadtest.segments import alternate, bare_segment, http_segment
from loadtest.server_metrics import ModeResult
from loadtest.upload_bench import run_uploads
from loadtest.upload_results import UploadPlan

BUCKET = "pixgate-bench"
SOURCE_KEY = "bench/source.jpg"
SOURCE = Source("source.jpg", 4000, 3000)
SOURCE_QUALITY = 90
TARGET_WIDTH = 800
WEBP_QUALITY = 80
AVIF_QUALITY = 80  # pixgate's scale (AVIF Q63): q:auto has no fixed Q for the loop to match
# Long enough that the original is read from S3 once per run, as the bare loop holds it.
SOURCE_CACHE_TTL_S = 3600
# URLs per workload, taken in turn; far more than can be in flight at once.
DISTINCT_URLS = 4000
CONTENT_TYPES = {"webp": "image/webp", "avif": "image/avif"}


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """pixgate's settings (config/settings.py defaults, plus any --set), which the bare loop
    must copy."""

    concurrency: int
    webp_effort: int
    avif_effort: int
    avif_quality: int
    overrides: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_settings(cls, pairs: Mapping[str, str]) -> ServerConfig:
        """From --set; ValueError names a setting the benchmark refuses."""
        own = OWN_VARIABLES | {"PIXGATE_S3_ENDPOINT_URL"}
        settings, _ = parse_overrides(pairs, own=own)
        qualities = dict(variable_value("PIXGATE_FORMAT_QUALITY", settings))
        return cls(
            concurrency=variable_value("PIXGATE_CONCURRENCY", settings),
            webp_effort=variable_value("PIXGATE_WEBP_EFFORT", settings),
            avif_effort=variable_value("PIXGATE_AVIF_EFFORT", settings),
            avif_quality=qualities.get("avif", variable_value("PIXGATE_QUALITY", settings))
            or AVIF_QUALITY,
            overrides=tuple(sorted(settings.items())),
        )

    @property
    def efforts(self) -> dict[str, int]:
        return {"webp": self.webp_effort, "avif": self.avif_effort}


@dataclass(frozen=True, slots=True)
class BenchPlan:
    """What to measure (`python -m loadtest.bench` builds it)."""

    server: ServerConfig
    log_dir: Path
    duration: float = 20.0  # measured seconds per mode per row
    warmup: float = 1.0
    rounds: int = 4
    concurrency: tuple[int, ...] = (2, 4)  # WebP client counts
    avif_concurrency: int = 2  # 0: no AVIF row
    uploads: UploadPlan | None = field(default_factory=UploadPlan)


@dataclass(frozen=True, slots=True)
class Workload:
    """One output and the concurrency it is measured at, by both modes."""

    transform: Transform
    effort: int
    concurrency: int
    urls_file: Path  # distinct URLs for the same work, so no two requests coalesce
    first_url: str

    @property
    def name(self) -> str:
        return self.transform.key


def server_settings(
    endpoint_url: str, key_hex: str, salt_hex: str, overrides: Mapping[str, str]
) -> dict[str, str]:
    """pixgate's defaults, with --set, serving the benchmark's bucket."""
    return {
        **overrides,
        "PIXGATE_KEY": key_hex,
        "PIXGATE_SALT": salt_hex,
        "PIXGATE_STORAGE_URL": f"s3://{BUCKET}",
        "PIXGATE_S3_ENDPOINT_URL": endpoint_url,
        "PIXGATE_LOG_LEVEL": "warning",
        "PIXGATE_SOURCE_CACHE_TTL": str(SOURCE_CACHE_TTL_S),
    }


def make_source() -> bytes:
    """A photo-like JPEG: the test landscape plus detail that survives the downscale."""
    return jpeg(photo(SOURCE.width, SOURCE.height), quality=SOURCE_QUALITY)


def make_workloads(builder: UrlBuilder, plan: BenchPlan, scratch: Path) -> list[Workload]:
    """WebP at each concurrency, then AVIF (quality from pixgate's default) at one."""
    server = plan.server
    formats = {
        # pixgate's q, in the URL; the bare loop encodes with the Q it maps to.
        "webp": (WEBP_QUALITY, server.webp_effort),
        "avif": (server.avif_quality, server.avif_effort),
    }
    wanted = [("webp", concurrency) for concurrency in plan.concurrency]
    if plan.avif_concurrency:
        wanted.append(("avif", plan.avif_concurrency))
    workloads = []
    for output_format, concurrency in wanted:
        quality, effort = formats[output_format]
        # A cachebuster changes the URL (and so pixgate's coalescing key), not the work.
        urls = [
            builder.url(
                SOURCE_KEY,
                width=TARGET_WIDTH,
                format=output_format,
                quality=quality,
                options=[f"cb:{index}"],
            )
            for index in range(DISTINCT_URLS)
        ]
        urls_file = scratch / f"urls-{output_format}.txt"
        urls_file.write_text("\n".join(urls) + "\n")
        transform = Transform(
            f"{output_format}@{concurrency}",
            SOURCE,
            TARGET_WIDTH,
            0,
            False,
            output_format,
            quality,
            flatten=False,
        )
        workloads.append(Workload(transform, effort, concurrency, urls_file, urls[0]))
    return workloads


def check_output(url: str, output_format: str) -> FirstRequest:
    """One request before any load: status, type, decoded size, and its (cold) time."""
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            body = response.read()
            content_type = response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        detail = error.read()[:300].decode(errors="replace")
        raise RuntimeError(f"pixgate answered {error.code} to {url}: {detail}") from None
    elapsed_ms = (time.perf_counter() - started) * 1000
    image = pyvips.Image.new_from_buffer(body, "")
    if content_type != CONTENT_TYPES[output_format] or image.width != TARGET_WIDTH:
        raise RuntimeError(
            f"unexpected {output_format} output: {content_type}, {image.width}x{image.height}"
        )
    return FirstRequest(elapsed_ms, len(body), f"{image.width}x{image.height}")


def measure(
    plan: BenchPlan, workloads: Sequence[Workload], source_dir: Path, server: Server
) -> list[ModeRow]:
    """Each workload in ABBA rounds: the bare loop and pixgate (whose peak RSS is kept over
    the whole run) taking turns."""
    segments = {
        "bare": bare_segment(source_dir, plan.server.efforts),
        "pixgate": http_segment(
            server,
            {w.name: w.urls_file for w in workloads},
            metrics=True,
            reset_peak=False,
        ),
    }
    rows = []
    for workload in workloads:
        tallies = alternate(
            {mode: segments[mode] for mode in MODES},
            workload.transform,
            workload.concurrency,
            rounds=plan.rounds,
            duration=plan.duration,
            warmup=plan.warmup,
            new_tally=ModeResult,
            on_window=partial(_progress, workload.name, plan.rounds),
        )
        for mode, tally in tallies.items():
            tally.finish()
            transform = workload.transform
            rows.append(
                ModeRow(
                    workload=workload.name,
                    format=transform.output_format,
                    quality=transform.quality,
                    effort=workload.effort,
                    concurrency=workload.concurrency,
                    mode=mode,
                    measured=Measurement.of(tally),
                    server_means_ms=dict(tally.server_means_ms),
                    source_reads=dict(tally.source_reads),
                )
            )
    return rows


def _progress(name: str, rounds: int, mode: str, round_index: int, raw: Mapping[str, Any]) -> None:
    rate = len(raw["latencies_ms"]) / raw["window_s"]
    print(
        f"  {name:<8} round {round_index + 1}/{rounds} {MODE_LABELS[mode]:<12} "
        f"{rate:6.1f}/s  errors {raw['errors']}",
        flush=True,
    )


def run(plan: BenchPlan) -> BenchRun:
    loadavg_start = machine.loadavg()
    started = time.perf_counter()
    source = make_source()
    print(f"  source: {len(source):,} bytes in {time.perf_counter() - started:.1f}s", flush=True)
    key_hex, salt_hex = secrets.token_hex(32), secrets.token_hex(16)
    overrides = dict(plan.server.overrides)
    with (
        tempfile.TemporaryDirectory(prefix="pixgate-bench-") as tmp,
        aws_test_env(),
        run_moto_server() as moto,
    ):
        scratch = Path(tmp)
        (scratch / SOURCE.name).write_bytes(source)
        create_bucket(moto.endpoint_url, BUCKET)
        s3_client(moto.endpoint_url).put_object(Bucket=BUCKET, Key=SOURCE_KEY, Body=source)
        with run_pixgate(
            server_settings(moto.endpoint_url, key_hex, salt_hex, overrides),
            plan.log_dir / "pixgate.log",
        ) as server:
            print(f"  pixgate pid {server.pid} at {server.base_url}; moto pid {moto.pid}")
            builder = UrlBuilder(server.base_url, key_hex, salt_hex)
            workloads = make_workloads(builder, plan, scratch)
            first_urls = {w.transform.output_format: w.first_url for w in workloads}
            first_requests = {fmt: check_output(url, fmt) for fmt, url in first_urls.items()}
            rows = measure(plan, workloads, scratch, server)
            server_peak_rss = peak_rss_bytes(server.pid)
        uploads = None
        if plan.uploads is not None:
            uploads = run_uploads(
                plan.uploads,
                moto=moto,
                key_hex=key_hex,
                salt_hex=salt_hex,
                overrides=overrides,
                scratch=scratch,
                log_dir=plan.log_dir,
            )
    meta = BenchMeta(
        machine=machine.describe(),
        server_overrides=overrides,
        loadavg_start=" ".join(loadavg_start),
        server_concurrency=plan.server.concurrency,
        webp_effort=plan.server.webp_effort,
        avif_effort=plan.server.avif_effort,
        avif_quality=plan.server.avif_quality,
        source_size=f"{SOURCE.width}x{SOURCE.height}",
        source_quality=SOURCE_QUALITY,
        source_bytes=len(source),
        moto="standalone server, loopback",
        duration_s=plan.duration,
        rounds=plan.rounds,
        warmup_s=plan.warmup,
        distinct_urls=DISTINCT_URLS,
        target_width=TARGET_WIDTH,
        source_cache_ttl_s=SOURCE_CACHE_TTL_S,
        avif_concurrency=plan.avif_concurrency,
        first_requests=first_requests,
        date=time.strftime("%Y-%m-%d %H:%M:%S"),
        elapsed_s=time.perf_counter() - started,
    )
    return BenchRun(
        meta=meta,
        rows=tuple(rows),
        ratios_pixgate_over_bare=pixgate_over_bare(rows),
        avif_over_webp=avif_over_webp(rows, plan.avif_concurrency),
        pixgate_peak_rss_bytes=server_peak_rss,
        uploads=uploads,
    )

"""The animation section of `make bench`: long GIFs through pixgate against the bare libvips loop.

1. Sources: a photographic 300-frame 480x270 GIF (a camera panning across
   `imagegen.landscape`, 40 ms a frame, generated once and kept in var/bench/anim/), and a
   real one: the terminal recording Locust ships with its web UI (20 frames of 2240x508,
   delays of 50 to 2000 ms, played once).
2. Start pixgate (local storage and SQLite in a temporary folder, `PIXGATE_CONCURRENCY=4`,
   one libvips thread per transform) and upload both, so they are served whole.
3. Time `/{image_id}_m` (fit in 500 px) with a browser's Accept (animated WebP) against the
   bare loop doing the same conversion in this process (`thumbnail_buffer` with `n=-1`,
   no upscaling, `webpsave` at pixgate's defaults: the Q `q:auto` starts from, which is
   the one encode an animation gets, effort 2, metadata stripped, one libvips thread),
   in alternating rounds; medians are compared, of CPU time and of wall time.
4. Four such requests at once: the server's peak RSS (VmHWM, reset first).
5. Check every output: frames, each frame's delay and the loop count identical to the
   source's; bytes against the GIF's.

    python -m loadtest.anim_bench [--rounds 3] [--output var/bench/anim.json]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pyvips

from loadtest import report as report_layer
from loadtest.harness.imagegen import panning_gif
from loadtest.processes import REPO, Server, run_pixgate
from loadtest.procfs import family_cpu_seconds, peak_rss_bytes, reset_peak_rss
from proxy.options import OutputFormat
from proxy.plan import DEFAULT_QUALITY_TARGET
from proxy.quality import start_quality

PAN_SIZE = (480, 270)
PAN_FRAMES = 300
PAN_DELAY_MS = 40
BOX = 500  # the `_m` link: fit in 500x500, never enlarged
# pixgate's default quality is `auto`; an animation gets one encode at its starting Q.
WEBP_QUALITY = start_quality(OutputFormat.WEBP, DEFAULT_QUALITY_TARGET)
WEBP_EFFORT = 2
CONCURRENT = 4
# Targets of the animation issue: time against the bare loop, on one core, RSS, bytes.
RATIO_TARGET = 1.1
SECONDS_TARGET = 5.0
RSS_TARGET_MB = 400.0
BYTES_TARGET = 0.6
BROWSER_ACCEPT = "image/avif,image/webp,image/apng,image/*,*/*;q=0.8"


@dataclass(frozen=True, slots=True)
class Timing:
    """One source: what it is, and how it came out."""

    name: str
    source_bytes: int
    frames: int
    width: int
    height: int
    bare_s: float  # medians of the rounds: wall-clock time
    pixgate_s: float
    bare_cpu_s: float  # CPU time: this process for the bare loop, the server for pixgate
    pixgate_cpu_s: float
    output_bytes: int
    output_frames: int
    output_width: int
    output_height: int
    timing_identical: bool  # every delay and the loop count

    @property
    def ratio(self) -> float:
        return self.pixgate_s / self.bare_s if self.bare_s else float("inf")

    @property
    def cpu_ratio(self) -> float:
        return self.pixgate_cpu_s / self.bare_cpu_s if self.bare_cpu_s else float("inf")

    @property
    def byte_ratio(self) -> float:
        return self.output_bytes / self.source_bytes


@dataclass(frozen=True, slots=True)
class Concurrent:
    requests: int
    seconds: float
    peak_rss_mb: float
    all_whole: bool


@dataclass(frozen=True, slots=True)
class AnimResults:
    libvips: str
    rounds: int
    loadavg: str  # at the start: other work on the machine skews wall-clock times
    timings: tuple[Timing, ...]
    concurrent: Concurrent

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for row, timing in zip(data["timings"], self.timings, strict=True):
            row.update(ratio=timing.ratio, cpu_ratio=timing.cpu_ratio, byte_ratio=timing.byte_ratio)
        return data


def pan_source(cache: Path) -> bytes:
    """The 300-frame GIF, made once (libvips' GIF quantiser takes about 100 s) and kept."""
    width, height = PAN_SIZE
    path = cache / f"pan-{PAN_FRAMES}x{width}x{height}-{PAN_DELAY_MS}ms.gif"
    if not path.exists():
        started = time.perf_counter()
        print(f"  making {path.name} (once)...", flush=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = panning_gif(width, height, PAN_FRAMES, delay_ms=PAN_DELAY_MS)
        path.with_suffix(".tmp").write_bytes(data)
        path.with_suffix(".tmp").rename(path)
        print(f"  made in {time.perf_counter() - started:.0f}s", flush=True)
    return path.read_bytes()


def real_source() -> tuple[str, bytes]:
    """A real animated GIF installed with the test extras (Locust's web UI recording)."""
    spec = importlib.util.find_spec("locust")  # found, not imported: it patches the stdlib
    if spec is None or spec.origin is None:
        raise RuntimeError("locust is not installed: make install")
    path = Path(spec.origin).parent / "webui" / "dist" / "assets" / "terminal.gif"
    return "locust terminal.gif (real)", path.read_bytes()


def bare_convert(data: bytes) -> bytes:
    """The bare libvips loop: the same conversion pixgate's `_m` link does."""
    image = pyvips.Image.thumbnail_buffer(data, BOX, height=BOX, size="down", option_string="n=-1")
    return bytes(image.webpsave_buffer(Q=WEBP_QUALITY, effort=WEBP_EFFORT, keep="none"))


def timing_of(data: bytes) -> tuple[int, tuple[int, ...], int, int, int]:
    """(frames, delays, loop, width, page height) as libvips reads them."""
    image = pyvips.Image.new_from_buffer(data, "", n=-1)
    page_height = int(image.get("page-height")) if image.get_typeof("page-height") else 0
    page_height = page_height or int(image.height)
    frames = int(image.height) // page_height
    delays = tuple(image.get("delay")) if image.get_typeof("delay") else ()
    loop = int(image.get("loop")) if image.get_typeof("loop") else 0
    return frames, delays[:frames], loop, int(image.width), page_height


async def upload(session: aiohttp.ClientSession, server: Server, data: bytes) -> str:
    form = aiohttp.FormData()
    form.add_field("image", data, filename="animation.gif", content_type="image/gif")
    async with session.post(f"{server.base_url}/api/v1/images", data=form) as response:
        body = await response.json()
        if response.status not in (200, 201):  # 200: the same bytes again
            raise RuntimeError(f"upload answered {response.status}: {body}")
        return str(body["image_id"])


async def fetch(session: aiohttp.ClientSession, url: str) -> tuple[float, bytes]:
    started = time.perf_counter()
    async with session.get(url, headers={"Accept": BROWSER_ACCEPT}) as response:
        body = await response.read()
        if response.status != 200 or response.content_type != "image/webp":
            raise RuntimeError(f"{url} answered {response.status} {response.content_type}")
        if "X-Pixgate-Frames-Dropped" in response.headers:
            raise RuntimeError(f"{url} dropped frames of an upload")
    return time.perf_counter() - started, body


async def measure_source(
    session: aiohttp.ClientSession, server: Server, name: str, data: bytes, rounds: int
) -> Timing:
    image_id = await upload(session, server, data)
    url = f"{server.base_url}/{image_id}_m"
    await fetch(session, url)  # warm: the original is in pixgate's source cache after this
    bare_convert(data)
    bare: list[float] = []
    bare_cpu: list[float] = []
    served: list[float] = []
    served_cpu: list[float] = []
    output = b""
    for _ in range(rounds):
        started, cpu = time.perf_counter(), time.process_time()
        bare_convert(data)
        bare.append(time.perf_counter() - started)
        bare_cpu.append(time.process_time() - cpu)
        cpu = family_cpu_seconds(server.pid)
        seconds, output = await fetch(session, url)
        served.append(seconds)
        served_cpu.append(family_cpu_seconds(server.pid) - cpu)
    frames, delays, loop, width, height = timing_of(data)
    out_frames, out_delays, out_loop, out_width, out_height = timing_of(output)
    return Timing(
        name=name,
        source_bytes=len(data),
        frames=frames,
        width=width,
        height=height,
        bare_s=statistics.median(bare),
        pixgate_s=statistics.median(served),
        bare_cpu_s=statistics.median(bare_cpu),
        pixgate_cpu_s=statistics.median(served_cpu),
        output_bytes=len(output),
        output_frames=out_frames,
        output_width=out_width,
        output_height=out_height,
        timing_identical=(out_frames, out_delays, out_loop) == (frames, delays, loop),
    )


async def measure_concurrent(
    session: aiohttp.ClientSession, server: Server, data: bytes
) -> Concurrent:
    image_id = await upload(session, server, data)
    url = f"{server.base_url}/{image_id}_m"
    await fetch(session, url)
    reset_peak_rss(server.pid)
    started = time.perf_counter()
    results = await asyncio.gather(*(fetch(session, url) for _ in range(CONCURRENT)))
    seconds = time.perf_counter() - started
    frames = timing_of(data)[0]
    return Concurrent(
        requests=CONCURRENT,
        seconds=seconds,
        peak_rss_mb=peak_rss_bytes(server.pid) / 2**20,
        all_whole=all(timing_of(body)[0] == frames for _, body in results),
    )


async def run(rounds: int, cache: Path, log_path: Path) -> AnimResults:
    loadavg = _loadavg()
    pyvips.concurrency_set(1)  # the bare loop gets what each pixgate transform gets
    pyvips.cache_set_max(0)
    pan = pan_source(cache)
    real_name, real = real_source()
    with tempfile.TemporaryDirectory(prefix="pixgate-anim-") as scratch:
        settings = {
            "PIXGATE_KEY": secrets.token_hex(32),
            "PIXGATE_SALT": secrets.token_hex(16),
            "PIXGATE_STORAGE_URL": f"file://{_folder(scratch, 'storage')}",
            "PIXGATE_DATABASE_URL": f"sqlite:///{scratch}/pixgate.db",
            "PIXGATE_MIGRATE_ON_START": "true",
            "PIXGATE_CONCURRENCY": str(CONCURRENT),
            "PIXGATE_VIPS_THREADS": "1",
            "PIXGATE_UPLOAD_RATE": "0",
            "PIXGATE_LOG_LEVEL": "warning",
        }
        with run_pixgate(settings, log_path) as server:
            timeout = aiohttp.ClientTimeout(total=120)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                timings = (
                    await measure_source(
                        session,
                        server,
                        f"{PAN_FRAMES}-frame {PAN_SIZE[0]}x{PAN_SIZE[1]} pan",
                        pan,
                        rounds,
                    ),
                    await measure_source(session, server, real_name, real, rounds),
                )
                concurrent = await measure_concurrent(session, server, pan)
    return AnimResults(
        libvips=".".join(str(pyvips.version(i)) for i in range(3)),
        rounds=rounds,
        loadavg=loadavg,
        timings=timings,
        concurrent=concurrent,
    )


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _folder(parent: str, name: str) -> Path:
    path = Path(parent, name)
    path.mkdir()
    return path


def _met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def report(results: AnimResults) -> list[report_layer.Block]:
    """The section as blocks of the benchmarks' one report layer."""
    header = report_layer.lines(
        f"Animations (libvips {results.libvips}, one libvips thread, median of "
        f"{results.rounds} alternating rounds, load average {results.loadavg} at the start): "
        "the `_m` link (fit 500 px) as animated WebP against the bare libvips loop; "
        "CPU s (wall s)."
    )
    columns = (
        report_layer.Column("source", 38, "<"),
        report_layer.Column("frames", 34, "<"),
        report_layer.Column("bare libvips", 14),
        report_layer.Column("pixgate", 14),
        report_layer.Column("ratio CPU (wall)", 18),
        report_layer.Column("WebP / GIF bytes", 24),
        report_layer.Column("delays + loop", 14),
    )
    rows = [
        (
            f"{t.name}, {t.source_bytes:,} B",
            f"{t.frames} of {t.width}x{t.height} -> {t.output_frames} of "
            f"{t.output_width}x{t.output_height}",
            f"{t.bare_cpu_s:.2f} ({t.bare_s:.2f})",
            f"{t.pixgate_cpu_s:.2f} ({t.pixgate_s:.2f})",
            f"{t.cpu_ratio:.2f} ({t.ratio:.2f})",
            f"{t.byte_ratio:.3f} ({t.output_bytes:,} B)",
            "identical" if t.timing_identical else "DIFFER",
        )
        for t in results.timings
    ]
    pan = results.timings[0]
    c = results.concurrent
    rss_mb = c.peak_rss_mb * 1.048576
    targets = report_layer.lines(
        f"{c.requests} at once: {c.seconds:.1f} s, server peak RSS {c.peak_rss_mb:.0f} MiB, "
        f"every response whole: {c.all_whole}",
        "Targets:",
        f"  pan within {RATIO_TARGET}x of the bare loop: CPU {pan.cpu_ratio:.2f} "
        f"{_met(pan.cpu_ratio <= RATIO_TARGET)}, wall {pan.ratio:.2f} "
        f"{_met(pan.ratio <= RATIO_TARGET)}",
        f"  pan under {SECONDS_TARGET:g} s on one core: CPU {pan.pixgate_cpu_s:.2f} s "
        f"{_met(pan.pixgate_cpu_s < SECONDS_TARGET)}, wall {pan.pixgate_s:.2f} s "
        f"{_met(pan.pixgate_s < SECONDS_TARGET)}",
        f"  peak RSS under {RSS_TARGET_MB:g} MB for {c.requests} at once: {rss_mb:.0f} MB "
        f"{_met(rss_mb < RSS_TARGET_MB)}",
        f"  photographic WebP at most {BYTES_TARGET}x the GIF's bytes: {pan.byte_ratio:.3f} "
        f"{_met(pan.byte_ratio <= BYTES_TARGET)}; delays and loop identical: "
        f"{_met(pan.timing_identical)}",
    )
    return [header, report_layer.table(rows, columns, gap=" ", rule=True), targets]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.anim_bench", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--output", type=Path, default=REPO / "var" / "bench" / "anim.json")
    args = parser.parse_args(argv)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    print("pixgate bench, animations: about 2 minutes (plus 2 the first time)", flush=True)
    results = asyncio.run(
        run(args.rounds, args.output.parent / "anim", args.output.parent / "pixgate-anim.log")
    )
    blocks = report(results)
    print("\n".join(report_layer.text(blocks)))
    report_layer.write(args.output, results.as_dict(), blocks)
    print(f"  results: {args.output} (and {args.output.with_suffix('.md').name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The baseline: a bare pyvips loop doing pixgate's work, run as its own process.

`threads` threads each loop thumbnail-from-buffer then encode over the same in-memory bytes
(a closed loop, like the HTTP clients). After a warm-up, completions inside a fixed window
are recorded; the process's CPU time is read at the window's edges. One JSON object is
printed on stdout.

    python -m loadtest.bare --source var/bench/source.jpg --threads 2 --duration 10 \
        --format webp --quality 80 --effort 2

`--height` with `--crop centre` makes a cover crop (pixgate's `rs:fill`); `--flatten` puts
an alpha channel on white before encoding, as pixgate does for formats without alpha.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pyvips

from loadtest.procfs import cpu_seconds, machine_busy_seconds, peak_rss_bytes

WHITE = [255, 255, 255]


def encoder(output_format: str, quality: int, effort: int) -> Callable[[Any], bytes]:
    """The libvips save call pixgate's render makes for this format (metadata stripped)."""
    if output_format == "jpeg":
        return lambda image: bytes(
            image.jpegsave_buffer(
                Q=quality, optimize_coding=True, quant_table=3, interlace=True, keep="none"
            )
        )
    if output_format == "webp":
        return lambda image: bytes(image.webpsave_buffer(Q=quality, effort=effort, keep="none"))
    if output_format == "avif":
        return lambda image: bytes(
            image.heifsave_buffer(Q=quality, effort=effort, compression="av1", keep="none")
        )
    raise ValueError(f"unsupported format {output_format!r}")


def thumbnailer(width: int, height: int, crop: str, flatten: bool) -> Callable[[bytes], Any]:
    """Decode with shrink-on-load and resize (cover-cropped with `crop`), as pixgate's load."""
    options: dict[str, Any] = {}
    if height:
        options["height"] = height
    if crop != "none":
        options["crop"] = crop

    def thumbnail(data: bytes) -> Any:
        image = pyvips.Image.thumbnail_buffer(data, width, **options)
        if flatten and image.hasalpha():
            image = image.flatten(background=WHITE).cast("uchar")
        return image

    return thumbnail


def run(
    data: bytes,
    thumbnail: Callable[[bytes], Any],
    encode: Callable[[Any], bytes],
    threads: int,
    duration: float,
    warmup: float,
) -> dict[str, Any]:
    begun = time.perf_counter()
    start, end = begun + warmup, begun + warmup + duration
    latencies: list[list[float]] = [[] for _ in range(threads)]
    output_bytes: list[int] = [0] * threads

    def loop(index: int) -> None:
        mine = latencies[index]
        while time.perf_counter() < end:
            started = time.perf_counter()
            output = encode(thumbnail(data))
            finished = time.perf_counter()
            if start <= finished <= end:
                mine.append((finished - started) * 1000)
            output_bytes[index] = len(output)

    workers = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(threads)]
    for worker in workers:
        worker.start()
    time.sleep(max(0.0, start - time.perf_counter()))
    cpu_before, busy_before, at_before = cpu_seconds(), machine_busy_seconds(), time.perf_counter()
    time.sleep(max(0.0, end - time.perf_counter()))
    cpu_after, busy_after, at_after = cpu_seconds(), machine_busy_seconds(), time.perf_counter()
    for worker in workers:
        worker.join()
    return {
        "concurrency": threads,
        "window_s": duration,
        "measured_s": at_after - at_before,
        "latencies_ms": [value for per_thread in latencies for value in per_thread],
        "errors": 0,
        "cpu_s": cpu_after - cpu_before,
        "machine_busy_s": busy_after - busy_before,
        "output_bytes": max(output_bytes),
        "peak_rss_bytes": peak_rss_bytes(),
        "vips_concurrency": pyvips.concurrency_get(),
        "vips_cache_max": pyvips.cache_get_max(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.bare", description=__doc__)
    parser.add_argument("--source", type=Path, required=True, help="the encoded original")
    parser.add_argument("--width", type=int, default=800)
    parser.add_argument("--height", type=int, default=0, help="0: from the width")
    parser.add_argument("--crop", choices=["none", "centre"], default="none", help="cover crop")
    parser.add_argument("--flatten", action="store_true", help="alpha onto white first")
    parser.add_argument("--format", choices=["webp", "avif", "jpeg"], required=True)
    parser.add_argument("--quality", type=int, required=True)
    parser.add_argument("--effort", type=int, required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--duration", type=float, required=True, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds first")
    parser.add_argument(
        "--vips-concurrency", type=int, default=0, help="libvips threads per image (0: default)"
    )
    args = parser.parse_args(argv)
    # Every iteration must do the whole job: no libvips operation cache.
    pyvips.cache_set_max(0)
    if args.vips_concurrency > 0:
        pyvips.concurrency_set(args.vips_concurrency)
    data = args.source.read_bytes()
    encode = encoder(args.format, args.quality, args.effort)
    thumbnail = thumbnailer(args.width, args.height, args.crop, args.flatten)
    result = run(data, thumbnail, encode, args.threads, args.duration, args.warmup)
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

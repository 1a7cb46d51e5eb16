"""What the placeholder (ThumbHash and dominant colour) adds to an upload's CPU.

The baseline is the same inspection without it (`inspect_upload(..., with_placeholder=False)`:
probe, full decode pass, EXIF), on the same bytes, in the same process, alternating the two
in ABBA order so both see the same machine. CPU time of the process (libvips works in threads
of its own), median of the rounds.
Also the pure-Python parts alone over the 64 px image the inspection keeps.

    python -m loadtest.placeholder_cost [--rounds 20]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence

import pyvips

from loadtest.harness import imagegen
from loadtest.upload_bench import make_photo
from uploader.inspect import inspect_upload
from uploader.placeholder import Pixels, dominant_color, thumbhash_encode

SOURCES: dict[str, Callable[[], bytes]] = {
    "upload bench photo, 5 MB": make_photo,
    "photo JPEG 3000x2000": lambda: imagegen.sample_photo(),
    "camera JPEG 4000x3000": lambda: imagegen.camera_jpeg(4000, 3000),
    "RGBA PNG 1000x800": lambda: imagegen.alpha_png(1000, 800),
    "GIF 300x200, 4 frames": lambda: imagegen.animated_gif(300, 200, 4),
}


def cpu_ms(call: Callable[[], object]) -> float:
    started = time.process_time()
    call()
    return (time.process_time() - started) * 1000


def measure(data: bytes, rounds: int) -> tuple[float, float]:
    """Median CPU ms of the inspection without and with the placeholder."""
    times: dict[bool, list[float]] = {False: [], True: []}

    def inspect(with_placeholder: bool) -> object:
        return inspect_upload(
            data, max_pixels=50_000_000, keep_gps=False, with_placeholder=with_placeholder
        )

    for with_placeholder in (False, True):  # warm-up: libvips' first calls load codecs
        inspect(with_placeholder)
    for _ in range(rounds):
        for with_placeholder in (False, True, True, False):
            times[with_placeholder].append(cpu_ms(lambda: inspect(with_placeholder)))  # noqa: B023
    return statistics.median(times[False]), statistics.median(times[True])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="ABBA rounds (default: 20)")
    args = parser.parse_args(argv)
    pyvips.cache_set_max(0)  # every call decodes, as every upload does
    pyvips.concurrency_set(1)
    print(f"{'source':26} {'inspection':>11} {'+ placeholder':>14} {'added':>8} {'ratio':>6}")
    for name, make in SOURCES.items():
        without, with_it = measure(make(), args.rounds)
        print(
            f"{name:26} {without:8.1f} ms {with_it:11.1f} ms {with_it - without:5.1f} ms"
            f" {with_it / without:6.2f}"
        )
    small = pyvips.Image.thumbnail_buffer(imagegen.sample_photo(), 64).bandjoin(255)
    pixels = Pixels(small.width, small.height, bytes(small.write_to_memory()))
    colour = small.thumbnail_image(32)
    colour_pixels = Pixels(colour.width, colour.height, bytes(colour.write_to_memory()))
    hashing = statistics.median(cpu_ms(lambda: thumbhash_encode(pixels)) for _ in range(50))
    counting = statistics.median(cpu_ms(lambda: dominant_color(colour_pixels)) for _ in range(50))
    print(
        f"ThumbHash of {pixels.width}x{pixels.height}: {hashing:.2f} ms; dominant colour of"
        f" {colour_pixels.width}x{colour_pixels.height}: {counting:.2f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

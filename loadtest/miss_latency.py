"""Latency of a miss under `q:auto`: `python -m loadtest.miss_latency` (`make bench-miss`).

A fresh pixgate at its defaults (`q:auto`, local storage) serves a real 12 MP photo of the
corpus (`earth_night_iss.jpg`, 4256x2832) as 500 px wide variants, every request a distinct
URL (a cachebuster), so each one decodes, resizes, searches its quality and encodes; two
closed-loop clients, one format at a time, then the same at a fixed `q:80` for the ratio.
The issue's bound: p99 of a miss under 1 s at 2 clients.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pixgate_signing import UrlBuilder

from loadtest import loadgen
from loadtest.processes import REPO, run_pixgate
from loadtest.report import Block, Column, lines, table, text, write
from loadtest.stats import Summary, summarize

PHOTO = REPO / "loadtest" / "corpus" / "photos" / "earth_night_iss.jpg"
KEY, SALT = "6d6973732d6c6174656e6379", "73616c74"
FORMATS = ("jpeg", "webp", "avif")
WIDTH = 500
BOUND_MS = 1000.0
DEFAULT_OUTPUT = REPO / "var" / "bench" / "miss_latency.json"


@dataclass(frozen=True, slots=True)
class MissRow:
    output_format: str
    quality: str  # "auto" or the fixed q
    clients: int
    summary: Summary
    server_cpu_ms_per_request: float


@dataclass(frozen=True, slots=True)
class MissResult:
    photo: str
    rows: tuple[MissRow, ...]


def measure(
    formats: Sequence[str], clients: int, duration: float, warmup: float, work: Path
) -> MissResult:
    storage = work / "storage"
    storage.mkdir()
    shutil.copyfile(PHOTO, storage / PHOTO.name)
    settings = {
        "PIXGATE_KEY": KEY,
        "PIXGATE_SALT": SALT,
        "PIXGATE_STORAGE_URL": storage.as_uri(),
        "PIXGATE_ROLE": "proxy",
        "PIXGATE_LOG_LEVEL": "warning",
    }
    rows = []
    with run_pixgate(settings, work / "pixgate.log") as server:
        builder = UrlBuilder(server.base_url, bytes.fromhex(KEY), bytes.fromhex(SALT))
        for output_format in formats:
            for quality in ("auto", "80"):
                urls = [
                    builder.url(
                        PHOTO.name,
                        width=WIDTH,
                        format=output_format,
                        options=[f"q:{quality}", f"cb:{quality}-{index}"],
                    )
                    for index in range(5000)
                ]
                raw = asyncio.run(loadgen.run(urls, clients, duration, warmup, server.pid, None))
                summary = summarize(raw["latencies_ms"], raw["errors"], raw["measured_s"])
                done = max(summary.completed, 1)
                rows.append(
                    MissRow(
                        output_format,
                        quality,
                        clients,
                        summary,
                        raw["server_cpu_s"] * 1000 / done,
                    )
                )
                print(f"  {output_format} q:{quality}: p99 {summary.p99_ms:.0f} ms", flush=True)
    return MissResult(PHOTO.name, tuple(rows))


def report(result: MissResult) -> list[Block]:
    columns = (
        Column("format", 7, "<"),
        Column("q", 5, "<"),
        Column("clients", 8),
        Column("misses", 7),
        Column("errors", 7),
        Column("p50 ms", 8),
        Column("p99 ms", 8),
        Column("CPU ms/miss", 12),
        Column("p99 < 1 s", 10),
    )
    rows = [
        (
            row.output_format,
            row.quality,
            str(row.clients),
            str(row.summary.completed),
            str(row.summary.errors),
            f"{row.summary.p50_ms:.0f}",
            f"{row.summary.p99_ms:.0f}",
            f"{row.server_cpu_ms_per_request:.0f}",
            ("met" if row.summary.p99_ms < BOUND_MS else "MISSED") if row.quality == "auto" else "",
        )
        for row in result.rows
    ]
    return [
        lines(
            f"miss latency: {result.photo} (12 MP) -> {WIDTH} px, distinct URLs, pixgate defaults"
        ),
        table(rows, columns, rule=True),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.miss_latency", description=__doc__)
    parser.add_argument("--formats", nargs="+", default=list(FORMATS), choices=FORMATS)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds per row")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pixgate-miss-") as work:
        result = measure(args.formats, args.clients, args.duration, args.warmup, Path(work))
    blocks = report(result)
    print("\n".join(text(blocks)))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    write(args.output, result, blocks)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Log ingestion benchmark: `pixgate analytics ingest`'s rate on one core, and its memory.

    python -m loadtest.ingest_bench [--lines 1000000] [--images 50000] [--no-postgres]

For each log format it writes a log of realistic edge traffic (popular images viewed far more
than the rest, mostly cache hits, the fixed sizes and formats, some signed URLs, 404s, HEADs,
pages), then, in a fresh process pinned to one core, times the ingester over it into SQLite
(and PostgreSQL, from the harness) and reads the process's peak RSS. The baseline, measured in
the same run, is the bare loop every Python ingester of the format pays at least: read the
file and decode each line (json.loads, or a split on tabs), nothing else. It prints the table
and writes var/bench/ingest.json and ingest.md (the shared report layer, `loadtest.report`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadtest.harness.edgelogs import (
    CLOUDFRONT_HEADER,
    LoggedRequest,
    cloudflare_line,
    cloudfront_line,
    nginx_line,
)
from loadtest.report import Block, Column, lines, table, table_lines, text, write
from loadtest.results import Machine

STORAGE_URL = "file:///srv/media"
START = 1_764_648_000.0  # 2025-12-02 04:00 UTC
WRITERS: dict[str, Callable[[LoggedRequest], str]] = {
    "nginx": nginx_line,
    "cloudfront": cloudfront_line,
    "cloudflare": cloudflare_line,
}
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_TYPES = {"avif": "image/avif", "webp": "image/webp", "other": "image/jpeg"}


def image_ids(count: int, rng: random.Random) -> list[str]:
    return ["img_" + "".join(rng.choices(_ALPHABET, k=20)) for _ in range(count)]


def traffic(ids: list[str], lines: int, rng: random.Random) -> Iterator[LoggedRequest]:
    """`lines` requests over an hour: Zipf-like popularity, 92% hits, the usual link mix."""
    weights = [1 / (rank + 1) for rank in range(len(ids))]
    chosen = rng.choices(ids, weights=weights, k=lines)
    for n, image_id in enumerate(chosen):
        at = START + 3600 * n / lines
        accept = rng.choices(("avif", "webp", "other"), weights=(70, 20, 10))[0]
        cache = "HIT" if rng.random() < 0.92 else "MISS"
        seconds = rng.expovariate(1 / 0.004) if cache == "HIT" else rng.expovariate(1 / 0.09)
        kind = rng.random()
        status, method, content_type = 200, "GET", _TYPES[accept]
        if kind < 0.70:
            uri = f"/{image_id}{rng.choice(('', '_s', '_m', '_l', '_t'))}"
        elif kind < 0.83:
            uri = f"/{image_id}.{rng.choice(('jpg', 'webp', 'avif'))}"
        elif kind < 0.88:
            width = rng.choice((300, 600, 900))
            uri = f"/sIgNaTuRe0123456789abcdef/rs:fit:{width}:0/plain/originals/{image_id}@webp"
        elif kind < 0.91:
            uri = f"/{image_id}.jpg?w={rng.choice((320, 640))}&fit=cover&s=0123456789abcdef"
        elif kind < 0.93:
            uri, status, cache, content_type = f"/{image_id}_x", 404, "MISS", "application/json"
        elif kind < 0.95:
            uri, method = f"/{image_id}_m", "HEAD"
        elif kind < 0.98:
            uri, content_type, cache = f"/v/{image_id}", "text/html", ""
        else:
            uri, status = f"/{image_id}_m", 304
        yield LoggedRequest(
            uri,
            at=at,
            method=method,
            status=status,
            bytes=rng.randint(2_000, 120_000),
            cache=cache,
            request_time=round(seconds, 3),
            accept=accept,
            content_type=content_type,
        )


def write_log(path: Path, log_format: str, ids: list[str], lines: int, seed: int) -> None:
    write = WRITERS[log_format]
    with path.open("w") as log:
        if log_format == "cloudfront":
            log.write(CLOUDFRONT_HEADER)
        for request in traffic(ids, lines, random.Random(seed)):
            log.write(write(request) + "\n")


def seed_sqlite(url: str, ids: list[str]) -> None:
    from uploader.db.sqlite import sqlite_path

    conn = sqlite3.connect(sqlite_path(url))
    with conn:
        conn.executemany(
            "INSERT INTO images (image_id, owner, title, description, width, height, format,"
            " size_bytes, sha256, storage_key, processing_status, exif, uploaded_at)"
            " VALUES (?, NULL, '', '', 4000, 3000, 'jpeg', 2000000, ?, ?, 'completed', '{}',"
            " '2026-11-01T00:00:00.000000+00:00')",
            [(image_id, f"{n:064x}", f"originals/{image_id}") for n, image_id in enumerate(ids)],
        )
    conn.close()


def seed_postgres(url: str, ids: list[str]) -> None:
    import psycopg

    with (
        psycopg.connect(url) as conn,
        conn.cursor() as cursor,
        cursor.copy(
            "COPY images (image_id, title, description, width, height, format, size_bytes,"
            " sha256, storage_key, processing_status, uploaded_at) FROM STDIN"
        ) as copy,
    ):
        for n, image_id in enumerate(ids):
            copy.write_row(
                (image_id, "", "", 4000, 3000, "jpeg", 2_000_000, f"{n:064x}",
                 f"originals/{image_id}", "completed", "2026-11-01T00:00:00+00:00")
            )  # fmt: skip


# --- the measured children ----------------------------------------------------------------


def _pin_to_one_core() -> int:
    core = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    return core


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mib() -> float:
    """Resident memory now (VmRSS), where the peak (VmHWM) includes the imports' passing use."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return _peak_rss_mib()


def child_baseline(log_format: str, log: Path) -> dict[str, Any]:
    _pin_to_one_core()
    decode: Callable[[bytes], Any] = (
        (lambda line: line.split(b"\t")) if log_format == "cloudfront" else json.loads
    )
    started, cpu = time.perf_counter(), time.process_time()
    lines = 0
    with log.open("rb") as handle:
        for line in handle:
            if line[:1] != b"#":
                decode(line)
            lines += 1
    return {
        "lines": lines,
        "cpu_seconds": time.process_time() - cpu,
        "wall_seconds": time.perf_counter() - started,
    }


class _TimedStore:
    """The store, with the wall time of its commits and the view rows they wrote."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self.seconds = 0.0
        self.view_rows = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def commit(self, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return self._store.commit(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - started
            self.view_rows += len(args[3].views)


def child_ingest(log_format: str, log: Path, url: str, batch_lines: int) -> dict[str, Any]:
    from uploader.analytics.attribution import Attributor
    from uploader.analytics.formats import FORMATS
    from uploader.analytics.ingest import LogIngester
    from uploader.analytics.store import open_store

    _pin_to_one_core()
    rss_before = _rss_mib()
    with open_store(url) as opened:
        store = _TimedStore(opened)
        ingester = LogIngester(
            store,
            log,
            FORMATS[log_format],
            Attributor(STORAGE_URL, (), {}).image_id,
            batch_lines=batch_lines,
        )
        started, cpu = time.perf_counter(), time.process_time()
        totals = ingester.run_once()
        cpu_seconds, wall = time.process_time() - cpu, time.perf_counter() - started
    return {
        "lines": totals.lines,
        "views": totals.views,
        "batches": totals.batches,
        "skipped": totals.skipped,
        "cpu_seconds": cpu_seconds,
        "wall_seconds": wall,
        "commit_seconds": store.seconds,
        "view_rows": store.view_rows,
        "rss_start_mib": rss_before,
        "rss_peak_mib": _peak_rss_mib(),
    }


def _in_child(*arguments: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "loadtest.ingest_bench", "--child", *arguments],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"benchmark child failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


# --- the run ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IngestRow:
    """One log format into one database: the ingester's rate on one core and its memory."""

    format: str
    database: str
    lines: int
    lines_per_cpu_second: float
    lines_per_second_wall: float
    baseline_lines_per_cpu_second: float  # the bare decode loop over the same file
    ratio_to_baseline: float
    views: int
    batches: int
    skipped: int
    view_rows: int
    commit_seconds: float  # wall time inside the database's commits
    rss_start_mib: float  # after the imports, before the first line
    rss_peak_mib: float


@dataclass(frozen=True, slots=True)
class IngestResult:
    machine: Machine
    measured_at: str
    load_average: tuple[str, ...]
    images: int
    batch_lines: int
    rows: tuple[IngestRow, ...]


COLUMNS = (
    Column("format", 11, "<"),
    Column("database", 11, "<"),
    Column("lines", 10),
    Column("lines/s CPU", 13),
    Column("wall", 10),
    Column("baseline", 11),
    Column("ratio", 7),
    Column("RSS start", 11),
    Column("peak", 8),
    Column("view rows", 11),
    Column("commit s", 10),
)


def row_cells(row: IngestRow) -> tuple[str, ...]:
    return (
        row.format,
        row.database,
        f"{row.lines:,}",
        f"{row.lines_per_cpu_second:,.0f}",
        f"{row.lines_per_second_wall:,.0f}",
        f"{row.baseline_lines_per_cpu_second:,.0f}",
        f"{row.ratio_to_baseline:.2f}",
        f"{row.rss_start_mib:.0f} MiB",
        f"{row.rss_peak_mib:.0f} MiB",
        f"{row.view_rows:,}",
        f"{row.commit_seconds:.2f}",
    )


def blocks(result: IngestResult) -> list[Block]:
    """The report: what ran, then one row per format and database."""
    machine = result.machine
    return [
        lines(
            f"Log ingestion on one core, {result.measured_at} UTC: {result.images:,} images, "
            f"batches of {result.batch_lines:,} lines",
            f"  {machine.cores} cores ({machine.cpu_model}), Python {machine.python}, "
            f"load average {' '.join(result.load_average)}, {machine.git}",
        ),
        table([row_cells(row) for row in result.rows], COLUMNS, indent=""),
    ]


@dataclass(frozen=True, slots=True)
class Database:
    name: str
    url: str


@contextlib.contextmanager
def databases(folder: Path, with_postgres: bool) -> Iterator[list[Database]]:
    found = [Database("sqlite", f"sqlite://{folder}/bench.db")]
    if not with_postgres:
        yield found
        return
    from loadtest.harness.pgserver import PostgresNotInstalled, create_database, run_postgres

    try:
        with run_postgres() as server:
            create_database(server.url, "bench")
            yield [*found, Database("postgresql", server.database_url("bench"))]
    except PostgresNotInstalled:
        print("PostgreSQL is not installed: SQLite only", file=sys.stderr)
        yield found


def fresh(database: Database, ids: list[str]) -> None:
    """An empty, migrated database with the images."""
    from uploader.migrate import migrate

    if database.name == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(database.url.removeprefix("sqlite://") + suffix).unlink(missing_ok=True)
        asyncio.run(migrate(database.url))
        seed_sqlite(database.url, ids)
        return
    import psycopg

    with psycopg.connect(database.url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    asyncio.run(migrate(database.url))
    seed_postgres(database.url, ids)


def run(args: argparse.Namespace) -> IngestResult:
    rng = random.Random(20261202)
    ids = image_ids(args.images, rng)
    results: list[IngestRow] = []
    with tempfile.TemporaryDirectory(prefix="pixgate-ingest-bench-") as name:
        folder = Path(name)
        with databases(folder, not args.no_postgres) as stores:
            for log_format in args.formats:
                sizes = [args.lines // 4, args.lines] if log_format == "nginx" else [args.lines]
                for lines in sizes:
                    log = folder / f"{log_format}-{lines}.log"
                    write_log(log, log_format, ids, lines, seed=lines)
                    baseline = _in_child("baseline", log_format, str(log))
                    for database in stores if lines == args.lines else stores[:1]:
                        fresh(database, ids)
                        measured = _in_child(
                            "ingest", log_format, str(log), database.url, str(args.batch_lines)
                        )
                        rate = measured["lines"] / measured["cpu_seconds"]
                        base_rate = baseline["lines"] / baseline["cpu_seconds"]
                        results.append(
                            IngestRow(
                                format=log_format,
                                database=database.name,
                                lines=measured["lines"],
                                lines_per_cpu_second=round(rate),
                                lines_per_second_wall=round(
                                    measured["lines"] / measured["wall_seconds"]
                                ),
                                baseline_lines_per_cpu_second=round(base_rate),
                                ratio_to_baseline=round(rate / base_rate, 3),
                                views=measured["views"],
                                batches=measured["batches"],
                                skipped=measured["skipped"],
                                view_rows=measured["view_rows"],
                                commit_seconds=round(measured["commit_seconds"], 2),
                                rss_start_mib=round(measured["rss_start_mib"], 1),
                                rss_peak_mib=round(measured["rss_peak_mib"], 1),
                            )
                        )
                        print(
                            table_lines(
                                table([row_cells(results[-1])], COLUMNS, indent="", header=False)
                            )[0],
                            flush=True,
                        )
                    log.unlink()
    from loadtest.machine import (  # here: it loads libvips, which children need not
        describe,
        loadavg,
    )

    return IngestResult(
        machine=describe(),
        measured_at=time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        load_average=loadavg(),
        images=args.images,
        batch_lines=args.batch_lines,
        rows=tuple(results),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.ingest_bench", description=__doc__)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--images", type=int, default=50_000)
    parser.add_argument("--batch-lines", type=int, default=50_000)
    parser.add_argument("--formats", type=lambda text: text.split(","), default=list(WRITERS))
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--output", type=Path, default=Path("var/bench/ingest.json"))
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, log_format, log, *rest = args.child
        if kind == "baseline":
            print(json.dumps(child_baseline(log_format, Path(log))))
        else:
            print(json.dumps(child_ingest(log_format, Path(log), rest[0], int(rest[1]))))
        return 0
    print(f"ingestion on one core; {args.images:,} images; batches of {args.batch_lines:,} lines")
    print(table_lines(table([], COLUMNS, indent=""))[0], flush=True)
    result = run(args)
    print("\n".join(text(blocks(result))))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    write(args.output, result, blocks(result))
    print(f"written to {args.output} (and {args.output.with_suffix('.md').name} beside it)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

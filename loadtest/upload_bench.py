"""The upload section of `make bench`: pixgate's upload API against its pieces without HTTP.

1. Make a ~5 MB photo-like JPEG (4000x3000, q95, camera EXIF).
2. Start a throwaway PostgreSQL and a second pixgate (S3 in the benchmark's moto, its own
   bucket; metadata in PostgreSQL; upload rate limit off), with the run's --set.
3. Run `loadtest.uploadgen` in its own process: sequential uploads, then uploads by N
   concurrent clients, each through pixgate and through the pieces (inspect + sha256 +
   S3 put + INSERT, no HTTP), in ABBA order; every upload has distinct bytes.
4. Check the rows and objects that landed; return the typed section of results.json
   (loadtest.upload_results), which loadtest.upload_report prints.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import psycopg

from config.settings import variable_value
from loadtest.harness.imagegen import CameraTags, with_metadata
from loadtest.harness.pgserver import PostgresNotInstalled, create_database, run_postgres
from loadtest.harness.s3server import MotoServer, create_bucket, s3_client
from loadtest.imageset import photo
from loadtest.processes import run_child, run_pixgate
from loadtest.procfs import peak_rss_bytes
from loadtest.stats import summarize
from loadtest.upload_results import (
    MODES,
    Photo,
    Stored,
    UploadPlan,
    UploadRow,
    Uploads,
    UploadsSkipped,
    by_phase,
    pixgate_over_pieces,
)

UPLOAD_BUCKET = "pixgate-bench-uploads"
DATABASE = "pixgate_bench"
PHOTO_SIZE = (4000, 3000)
PHOTO_QUALITY = 95
P95_TARGET_MS = 500.0
# CPU time of the processes taking part (as the driver names it).
_OWN_CPU = ("driver_cpu_s", "server_cpu_s", "moto_cpu_s", "postgres_cpu_s")
# Generous: the driver's own time is bounded by its uploads' 60 s timeouts and counts.
DRIVER_TIMEOUT_S = 240.0


def make_photo() -> bytes:
    """A ~5 MB camera-like JPEG: the benchmark photo with stronger grain, camera EXIF."""
    image = photo(*PHOTO_SIZE, grain_sigma=4)
    return bytes(with_metadata(image, camera=CameraTags()).jpegsave_buffer(Q=PHOTO_QUALITY))


def run_uploads(
    plan: UploadPlan,
    *,
    moto: MotoServer,
    key_hex: str,
    salt_hex: str,
    overrides: dict[str, str],
    scratch: Path,
    log_dir: Path,
) -> Uploads | UploadsSkipped:
    """Measure; the section of results.json (`loadtest.upload_report` prints it)."""
    started = time.perf_counter()
    photo = make_photo()
    print(
        f"  uploads: photo {PHOTO_SIZE[0]}x{PHOTO_SIZE[1]} JPEG q{PHOTO_QUALITY}, "
        f"{len(photo):,} bytes ({len(photo) / 1e6:.2f} MB), made in "
        f"{time.perf_counter() - started:.1f}s",
        flush=True,
    )
    photo_path = scratch / "upload-photo.jpg"
    photo_path.write_bytes(photo)
    create_bucket(moto.endpoint_url, UPLOAD_BUCKET)
    pool_size = variable_value("PIXGATE_CONCURRENCY", overrides)
    with contextlib.ExitStack() as stack:
        try:
            postgres = stack.enter_context(run_postgres())
        except PostgresNotInstalled as error:
            print(f"  uploads: skipped: {error}", flush=True)
            return UploadsSkipped(str(error))
        create_database(postgres.url, DATABASE)
        database_url = postgres.database_url(DATABASE)
        settings = {
            **overrides,
            "PIXGATE_KEY": key_hex,
            "PIXGATE_SALT": salt_hex,
            "PIXGATE_STORAGE_URL": f"s3://{UPLOAD_BUCKET}",
            "PIXGATE_S3_ENDPOINT_URL": moto.endpoint_url,
            "PIXGATE_LOG_LEVEL": "warning",
            "PIXGATE_DATABASE_URL": database_url,
            "PIXGATE_MIGRATE_ON_START": "true",
            "PIXGATE_UPLOAD_RATE": "0",
        }
        server = stack.enter_context(run_pixgate(settings, log_dir / "pixgate-uploads.log"))
        print(
            f"  uploads: pixgate pid {server.pid} at {server.base_url}, PostgreSQL pid "
            f"{postgres.pid}; {plan.sequential} sequential + {plan.concurrent} by "
            f"{plan.concurrency} clients, per mode",
            flush=True,
        )
        raw = run_child(
            [
                "-m", "loadtest.uploadgen",
                "--photo", str(photo_path),
                "--url", server.base_url,
                "--s3-endpoint-url", moto.endpoint_url,
                "--bucket", UPLOAD_BUCKET,
                "--database-url", database_url,
                "--server-pid", str(server.pid),
                "--moto-pid", str(moto.pid),
                "--postgres-pid", str(postgres.pid),
                "--sequential", str(plan.sequential),
                "--concurrent", str(plan.concurrent),
                "--concurrency", str(plan.concurrency),
                "--warmup", str(plan.warmup),
                "--pool-size", str(pool_size),
                "--max-pixels", str(variable_value("PIXGATE_MAX_SRC_PIXELS", overrides)),
                "--tag", secrets.token_hex(8),
            ],
            DRIVER_TIMEOUT_S,
        )  # fmt: skip
        server_peak_rss = peak_rss_bytes(server.pid)
        stored = _count_stored(database_url, moto.endpoint_url)
    return _section(raw, plan, stored, server_peak_rss, pool_size, time.perf_counter() - started)


def _count_stored(database_url: str, endpoint_url: str) -> tuple[int, int]:
    """Rows in the images table, objects in the upload bucket."""
    with psycopg.connect(database_url) as connection:
        row = connection.execute("SELECT count(*) FROM images").fetchone()
    objects = 0
    paginator = s3_client(endpoint_url).get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=UPLOAD_BUCKET):
        objects += page.get("KeyCount", 0)
    return (int(row[0]) if row else 0), objects


def _section(
    raw: Mapping[str, Any],
    plan: UploadPlan,
    stored: tuple[int, int],
    server_peak_rss: int,
    pool_size: int,
    elapsed_s: float,
) -> Uploads:
    rows = []
    for phase, per_mode in raw["phases"].items():
        for mode in MODES:
            tally = per_mode[mode]
            summary = summarize(tally["latencies_ms"], tally["errors"], tally["wall_s"])
            attempts = max(1, summary.completed + summary.errors)
            usage, server = tally["usage"], tally["server"]
            cpu_ms = {
                key.removesuffix("_cpu_s"): usage[key] / attempts * 1000
                for key in (*_OWN_CPU, "server_loop_cpu_s")
            }
            ours = sum(usage[key] for key in _OWN_CPU)
            server_means = {
                label: server[f"{label}_sum"] / server[f"{label}_count"] * 1000
                for label in ("handler", "service", "pool_wait")
                if server.get(f"{label}_count")
            }
            rows.append(
                UploadRow(
                    phase=phase,
                    mode=mode,
                    concurrency=tally["concurrency"],
                    summary=summary,
                    steps_mean_ms={
                        step: sum(values) / len(values)
                        for step, values in tally["steps_ms"].items()
                        if values
                    },
                    cpu_ms_per_upload=cpu_ms,
                    other_cpu_cores=max(0.0, usage["machine_busy_s"] - ours) / usage["measured_s"],
                    segment_per_second=tuple(tally["segment_per_second"]),
                    segment_other_cores=tuple(tally["segment_other_cores"]),
                    server_means_ms=server_means if mode == "pixgate" else {},
                    statuses=tally["statuses"],
                    error_samples=tuple(tally["error_samples"]),
                )
            )
    sequential_p95 = by_phase(rows)["sequential", "pixgate"].summary.p95_ms
    completed = sum(row.summary.completed for row in rows) + 2 * plan.warmup
    return Uploads(
        photo=Photo(f"{PHOTO_SIZE[0]}x{PHOTO_SIZE[1]}", PHOTO_QUALITY, raw["photo_bytes"]),
        plan=plan,
        pixgate_concurrency=pool_size,
        rows=tuple(rows),
        ratios_pixgate_over_pieces=pixgate_over_pieces(rows),
        target_p95_ms=P95_TARGET_MS,
        sequential_p95_ms=sequential_p95,
        sequential_p95_pass=sequential_p95 < P95_TARGET_MS,
        stored=Stored(*stored, expected=completed),
        pixgate_peak_rss_bytes=server_peak_rss,
        elapsed_s=elapsed_s,
    )

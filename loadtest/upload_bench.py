"""The upload section of `make bench`: pixgate's upload API against its pieces without HTTP.

1. Make a ~5 MB photo-like JPEG (4000x3000, q95, camera EXIF).
2. Start a throwaway PostgreSQL and a second pixgate (S3 in the benchmark's moto, its own
   bucket; metadata in PostgreSQL; upload rate limit off), with the run's --set.
3. Run `loadtest.uploadgen` in its own process: sequential uploads, then uploads by N
   concurrent clients, each through pixgate and through the pieces (inspect + sha256 +
   S3 put + INSERT, no HTTP), in ABBA order; every upload has distinct bytes.
4. Check the rows and objects that landed; summarize for the report and results.json.
"""

from __future__ import annotations

import contextlib
import math
import secrets
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
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

UPLOAD_BUCKET = "pixgate-bench-uploads"
DATABASE = "pixgate_bench"
PHOTO_SIZE = (4000, 3000)
PHOTO_QUALITY = 95
P95_TARGET_MS = 500.0
# CPU time of the processes taking part (as the driver names it).
_OWN_CPU = ("driver_cpu_s", "server_cpu_s", "moto_cpu_s", "postgres_cpu_s")
# Cores used by other processes above which the report warns that the machine was busy.
BUSY_MACHINE_CORES = 0.25
MODES = ("pixgate", "pieces")
# Generous: the driver's own time is bounded by its uploads' 60 s timeouts and counts.
DRIVER_TIMEOUT_S = 240.0


@dataclass(frozen=True, slots=True)
class UploadPlan:
    sequential: int = 50
    concurrent: int = 80
    concurrency: int = 4
    warmup: int = 2

    @classmethod
    def quick(cls) -> UploadPlan:
        return cls(sequential=10, concurrent=16, warmup=1)


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
) -> dict[str, Any]:
    """Measure; return the section of results.json (`report` prints it)."""
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
            return {"skipped": str(error)}
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


def _count_stored(database_url: str, endpoint_url: str) -> dict[str, int]:
    with psycopg.connect(database_url) as connection:
        row = connection.execute("SELECT count(*) FROM images").fetchone()
    objects = 0
    paginator = s3_client(endpoint_url).get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=UPLOAD_BUCKET):
        objects += page.get("KeyCount", 0)
    return {"rows": int(row[0]) if row else 0, "objects": objects}


def _section(
    raw: dict[str, Any],
    plan: UploadPlan,
    stored: dict[str, int],
    server_peak_rss: int,
    pool_size: int,
    elapsed_s: float,
) -> dict[str, Any]:
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
                {
                    "phase": phase,
                    "mode": mode,
                    "concurrency": tally["concurrency"],
                    **asdict(summary),
                    "steps_mean_ms": {
                        step: sum(values) / len(values)
                        for step, values in tally["steps_ms"].items()
                        if values
                    },
                    "cpu_ms_per_upload": cpu_ms,
                    "other_cpu_cores": max(0.0, usage["machine_busy_s"] - ours)
                    / usage["measured_s"],
                    "segment_per_second": tally["segment_per_second"],
                    "segment_other_cores": tally["segment_other_cores"],
                    "server_means_ms": server_means if mode == "pixgate" else {},
                    "statuses": tally["statuses"],
                    "error_samples": tally["error_samples"],
                }
            )
    by_key = {(row["phase"], row["mode"]): row for row in rows}
    ratios = {
        phase: {
            measure: _ratio(by_key[phase, "pixgate"][measure], by_key[phase, "pieces"][measure])
            for measure in ("per_second", "mean_ms", "p50_ms", "p95_ms")
        }
        for phase in raw["phases"]
    }
    sequential_p95 = by_key["sequential", "pixgate"]["p95_ms"]
    completed = sum(row["completed"] for row in rows) + 2 * plan.warmup
    return {
        "photo": {
            "size": f"{PHOTO_SIZE[0]}x{PHOTO_SIZE[1]}",
            "quality": PHOTO_QUALITY,
            "bytes": raw["photo_bytes"],
        },
        "plan": asdict(plan),
        "pixgate_concurrency": pool_size,
        "rows": rows,
        "ratios_pixgate_over_pieces": ratios,
        "target_p95_ms": P95_TARGET_MS,
        "sequential_p95_ms": sequential_p95,
        "sequential_p95_pass": sequential_p95 < P95_TARGET_MS,
        "stored": {**stored, "expected": completed},
        "pixgate_peak_rss_bytes": server_peak_rss,
        "elapsed_s": elapsed_s,
    }


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else math.nan


# --- the report ------------------------------------------------------------------------------


def report(section: Mapping[str, Any]) -> list[str]:
    if "skipped" in section:
        return ["", f"uploads: skipped ({section['skipped']})"]
    lines: list[str] = []
    out = lines.append
    plan, photo, pool = section["plan"], section["photo"], section["pixgate_concurrency"]
    conc = plan["concurrency"]
    by_key = {(row["phase"], row["mode"]): row for row in section["rows"]}
    phase_names = {"sequential": "sequential", "concurrent": f"{conc} concurrent"}
    out("")
    out("uploads: POST /api/v1/images (multipart field `image`), end to end")
    out(
        f"  photo: {photo['size']} JPEG q{photo['quality']} with camera EXIF, "
        f"{photo['bytes']:,} bytes; every upload has distinct bytes (a unique JPEG comment "
        f"segment added before timing: same pixels, new sha256, never deduplicated)"
    )
    out(
        f"  pixgate: S3 in moto (own bucket), metadata in a throwaway PostgreSQL (fsync off), "
        f"PIXGATE_UPLOAD_RATE=0, PIXGATE_CONCURRENCY={pool}; every answer checked "
        f"(201, size_bytes, duplicate=false)"
    )
    out(
        f"  pieces (the baseline; in the client's process, no HTTP): inspect_upload in a "
        f"{pool}-thread pool + sha256 + aiobotocore put_object (pixgate's client config, "
        f"same moto) + one INSERT into the same table (psycopg, open connection)"
    )
    out(
        "    not in the baseline: HTTP, multipart parsing, the dedup SELECT, the pool's "
        "semaphore, the links and JSON answer, pixgate's metrics and logging"
    )
    out(
        f"  order: warm-up uploads first ({plan['warmup']} per mode, unmeasured), then each "
        f"phase in two segments per mode, ABBA; closed loop (a client sends its next upload "
        f"when its answer is read)"
    )
    out("")
    header = (
        f"{'phase':<14} {'mode':<8} {'n':>4} {'errors':>6} {'up/s (per segment)':<20} "
        f"{'mean ms':>8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}"
    )
    out(header)
    out("-" * len(header))
    for row in section["rows"]:
        rates = row["segment_per_second"]
        per_second = f"{row['per_second']:.2f} ({min(rates):.1f}-{max(rates):.1f})"
        out(
            f"{phase_names[row['phase']]:<14} {row['mode']:<8} {row['completed']:>4} "
            f"{row['errors']:>6} {per_second:<20} {row['mean_ms']:>8.1f} "
            f"{row['p50_ms']:>8.1f} {row['p95_ms']:>8.1f} {row['max_ms']:>8.1f}"
        )
    out("")
    verdict = "PASS" if section["sequential_p95_pass"] else "MISS"
    out(
        f"sequential upload p95 target < {section['target_p95_ms']:.0f} ms: {verdict} "
        f"(pixgate p95 {section['sequential_p95_ms']:.1f} ms over "
        f"{by_key['sequential', 'pixgate']['completed']} uploads)"
    )
    ratios = section["ratios_pixgate_over_pieces"]
    out(
        "ratio pixgate/pieces:  "
        + ";  ".join(
            f"{phase_names[phase]}: up/s {r['per_second']:.2f}, mean {r['mean_ms']:.2f}, "
            f"p50 {r['p50_ms']:.2f}, p95 {r['p95_ms']:.2f}"
            for phase, r in ratios.items()
        )
    )
    out("")
    out("where the time goes (means per upload, ms):")
    for phase in ratios:
        pieces, pixgate = by_key[phase, "pieces"], by_key[phase, "pixgate"]
        steps = pieces["steps_mean_ms"]
        total = sum(steps.values())
        out(
            f"  {phase_names[phase]:<13} pieces : inspect (incl. pool wait) "
            f"{steps.get('inspect', math.nan):.1f} + sha256 {steps.get('sha256', math.nan):.1f}"
            f" + S3 put {steps.get('put', math.nan):.1f} + INSERT "
            f"{steps.get('insert', math.nan):.1f} = {total:.1f}"
        )
        means = pixgate["server_means_ms"]
        handler = means.get("handler", math.nan)
        service = means.get("service", math.nan)
        out(
            f"  {'':<13} pixgate: client {pixgate['mean_ms']:.1f} = handler {handler:.1f} "
            f"[upload service {service:.1f} (pool wait {means.get('pool_wait', math.nan):.1f})"
            f" + body read & answer {handler - service:.1f}] + outside the handler "
            f"{pixgate['mean_ms'] - handler:.1f}"
        )
    out(
        "  (upload service = inspect + sha256 + dedup SELECT + S3 put + INSERT, from pixgate's "
        "/metrics; handler = whole request inside pixgate, multipart body read included)"
    )
    out("")
    out("CPU per upload (ms; 'other' = the rest of the machine meanwhile, in cores):")
    for phase in ratios:
        pixgate, pieces = by_key[phase, "pixgate"], by_key[phase, "pieces"]
        cpu, base = pixgate["cpu_ms_per_upload"], pieces["cpu_ms_per_upload"]
        out(
            f"  {phase_names[phase]:<13} pixgate: server {cpu['server']:.0f} (event-loop "
            f"thread {cpu['server_loop']:.0f}), client {cpu['driver']:.0f}, moto "
            f"{cpu['moto']:.0f}, PostgreSQL {cpu['postgres']:.1f}, other "
            f"{pixgate['other_cpu_cores']:.2f} cores"
        )
        out(
            f"  {'':<13} pieces : own process {base['driver']:.0f}, moto {base['moto']:.0f}, "
            f"PostgreSQL {base['postgres']:.1f}, other {pieces['other_cpu_cores']:.2f} cores"
        )
    busiest = max(max(row["segment_other_cores"]) for row in section["rows"])
    if busiest > BUSY_MACHINE_CORES:
        out(
            f"  WARNING: other processes used up to {busiest:.2f} cores in a segment; "
            f"compare the per-segment spread, and rerun on a quiet machine"
        )
    stored = section["stored"]
    check = "ok" if stored["rows"] == stored["objects"] == stored["expected"] else "MISMATCH"
    out("")
    out(
        f"stored: {stored['rows']} rows in PostgreSQL, {stored['objects']} objects in S3, "
        f"expected {stored['expected']} (every successful upload, warm-ups included): {check}; "
        f"upload pixgate peak RSS {section['pixgate_peak_rss_bytes'] / (1 << 20):.0f} MiB; "
        f"section took {section['elapsed_s']:.0f}s"
    )
    for row in section["rows"]:
        if row["errors"]:
            out(
                f"errors in {row['phase']} {row['mode']}: {row['statuses']} "
                f"e.g. {row['error_samples'][:3]}"
            )
    return lines

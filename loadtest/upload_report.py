"""The upload section's report (`loadtest.upload_bench` measures it): its typed results as
blocks of `loadtest.report`, part of `python -m loadtest.bench`'s report."""

from __future__ import annotations

import math

from loadtest.report import BUSY_MACHINE_CORES, Block, Column, lines, mib, table
from loadtest.upload_results import Uploads, UploadsSkipped, by_phase

_COLUMNS = (
    Column("phase", 14, "<"),
    Column("mode", 8, "<"),
    Column("n", 4),
    Column("errors", 6),
    Column("up/s (per segment)", 20, "<"),
    Column("mean ms", 8),
    Column("p50 ms", 8),
    Column("p95 ms", 8),
    Column("max ms", 8),
)


def report(section: Uploads | UploadsSkipped) -> list[Block]:
    if isinstance(section, UploadsSkipped):
        return [lines("", f"uploads: skipped ({section.skipped})")]
    concurrent = f"{section.plan.concurrency} concurrent"
    phase_names = {"sequential": "sequential", "concurrent": concurrent}
    return [
        _setup(section),
        _table(section, phase_names),
        _ratios(section, phase_names),
        _time(section, phase_names),
        _cpu(section, phase_names),
        _stored(section),
    ]


def _setup(section: Uploads) -> Block:
    plan, photo, pool = section.plan, section.photo, section.pixgate_concurrency
    return lines(
        "",
        "uploads: POST /api/v1/images (multipart field `image`), end to end",
        f"  photo: {photo.size} JPEG q{photo.quality} with camera EXIF, "
        f"{photo.bytes:,} bytes; every upload has distinct bytes (a unique JPEG comment "
        f"segment added before timing: same pixels, new sha256, never deduplicated)",
        f"  pixgate: S3 in moto (own bucket), metadata in a throwaway PostgreSQL (fsync off), "
        f"PIXGATE_UPLOAD_RATE=0, PIXGATE_CONCURRENCY={pool}; every answer checked "
        f"(201, size_bytes, duplicate=false)",
        f"  pieces (the baseline; in the client's process, no HTTP): inspect_upload in a "
        f"{pool}-thread pool + sha256 + aiobotocore put_object (pixgate's client config, "
        f"same moto) + one INSERT into the same table (psycopg, open connection)",
        "    not in the baseline: HTTP, multipart parsing, the dedup SELECT, the pool's "
        "semaphore, the links and JSON answer, pixgate's metrics and logging",
        f"  order: warm-up uploads first ({plan.warmup} per mode, unmeasured), then each "
        f"phase in two segments per mode, ABBA; closed loop (a client sends its next upload "
        f"when its answer is read)",
        "",
    )


def _table(section: Uploads, phase_names: dict[str, str]) -> Block:
    rows = []
    for row in section.rows:
        rates, summary = row.segment_per_second, row.summary
        rows.append(
            (
                phase_names[row.phase],
                row.mode,
                str(summary.completed),
                str(summary.errors),
                f"{summary.per_second:.2f} ({min(rates):.1f}-{max(rates):.1f})",
                f"{summary.mean_ms:.1f}",
                f"{summary.p50_ms:.1f}",
                f"{summary.p95_ms:.1f}",
                f"{summary.max_ms:.1f}",
            )
        )
    return table(rows, _COLUMNS, indent="", gap=" ", rule=True)


def _ratios(section: Uploads, phase_names: dict[str, str]) -> Block:
    verdict = "PASS" if section.sequential_p95_pass else "MISS"
    sequential = by_phase(section.rows)["sequential", "pixgate"]
    return lines(
        "",
        f"sequential upload p95 target < {section.target_p95_ms:.0f} ms: {verdict} "
        f"(pixgate p95 {section.sequential_p95_ms:.1f} ms over "
        f"{sequential.summary.completed} uploads)",
        "ratio pixgate/pieces:  "
        + ";  ".join(
            f"{phase_names[phase]}: up/s {r.per_second:.2f}, mean {r.mean_ms:.2f}, "
            f"p50 {r.p50_ms:.2f}, p95 {r.p95_ms:.2f}"
            for phase, r in section.ratios_pixgate_over_pieces.items()
        ),
    )


def _time(section: Uploads, phase_names: dict[str, str]) -> Block:
    rows = by_phase(section.rows)
    out = ["", "where the time goes (means per upload, ms):"]
    for phase in section.ratios_pixgate_over_pieces:
        pieces, pixgate = rows[phase, "pieces"], rows[phase, "pixgate"]
        steps = pieces.steps_mean_ms
        means = pixgate.server_means_ms
        handler = means.get("handler", math.nan)
        service = means.get("service", math.nan)
        client = pixgate.summary.mean_ms
        out += [
            f"  {phase_names[phase]:<13} pieces : inspect (incl. pool wait) "
            f"{steps.get('inspect', math.nan):.1f} + sha256 {steps.get('sha256', math.nan):.1f}"
            f" + S3 put {steps.get('put', math.nan):.1f} + INSERT "
            f"{steps.get('insert', math.nan):.1f} = {sum(steps.values()):.1f}",
            f"  {'':<13} pixgate: client {client:.1f} = handler {handler:.1f} "
            f"[upload service {service:.1f} (pool wait {means.get('pool_wait', math.nan):.1f})"
            f" + body read & answer {handler - service:.1f}] + outside the handler "
            f"{client - handler:.1f}",
        ]
    out.append(
        "  (upload service = inspect + sha256 + dedup SELECT + S3 put + INSERT, from pixgate's "
        "/metrics; handler = whole request inside pixgate, multipart body read included)"
    )
    return lines(*out)


def _cpu(section: Uploads, phase_names: dict[str, str]) -> Block:
    rows = by_phase(section.rows)
    out = ["", "CPU per upload (ms; 'other' = the rest of the machine meanwhile, in cores):"]
    for phase in section.ratios_pixgate_over_pieces:
        pixgate, pieces = rows[phase, "pixgate"], rows[phase, "pieces"]
        cpu, base = pixgate.cpu_ms_per_upload, pieces.cpu_ms_per_upload
        out += [
            f"  {phase_names[phase]:<13} pixgate: server {cpu['server']:.0f} (event-loop "
            f"thread {cpu['server_loop']:.0f}), client {cpu['driver']:.0f}, moto "
            f"{cpu['moto']:.0f}, PostgreSQL {cpu['postgres']:.1f}, other "
            f"{pixgate.other_cpu_cores:.2f} cores",
            f"  {'':<13} pieces : own process {base['driver']:.0f}, moto {base['moto']:.0f}, "
            f"PostgreSQL {base['postgres']:.1f}, other {pieces.other_cpu_cores:.2f} cores",
        ]
    busiest = max(max(row.segment_other_cores) for row in section.rows)
    if busiest > BUSY_MACHINE_CORES:
        out.append(
            f"  WARNING: other processes used up to {busiest:.2f} cores in a segment; "
            f"compare the per-segment spread, and rerun on a quiet machine"
        )
    return lines(*out)


def _stored(section: Uploads) -> Block:
    stored = section.stored
    out = [
        "",
        f"stored: {stored.rows} rows in PostgreSQL, {stored.objects} objects in S3, "
        f"expected {stored.expected} (every successful upload, warm-ups included): "
        f"{'ok' if stored.ok else 'MISMATCH'}; upload pixgate peak RSS "
        f"{mib(section.pixgate_peak_rss_bytes)}; section took {section.elapsed_s:.0f}s",
    ]
    out += [
        f"errors in {row.phase} {row.mode}: {dict(row.statuses)} e.g. {list(row.error_samples[:3])}"
        for row in section.rows
        if row.summary.errors
    ]
    return lines(*out)

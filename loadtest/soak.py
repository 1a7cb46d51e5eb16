"""Soak test: one pixgate process under mixed traffic for minutes, over moto's S3 server and
a throwaway PostgreSQL, everything on loopback and bounded in time.

Traffic (closed loop, `--clients` at once): uploads of distinct images, page views of
direct links in every size, signed transforms, metadata reads, and a share of hostile
requests (text named .jpg, truncated JPEG, empty files, bad signatures, traversal attempts,
unknown ids). It then asserts:

- no 5xx other than deliberate backpressure (503 `overloaded`), and every answer the one
  its request should get (hostile inputs a 4xx);
- the server's RSS stays under `--rss-ceiling-mib`, and does not drift upwards: the
  highest RSS of the last third is at most the first third's plus a tolerance;
- its open file descriptors do not grow (last third against first third, and at the end);
- nothing is lost: every accepted upload is served afterwards, its original in S3 has the
  uploaded sha256, and the bucket holds exactly the originals of the database's rows.

It prints a summary and exits 1 on any failure. `make soak` runs it for 3 minutes;
`tests/loadtest/test_soak.py` runs a short one in `make test`.

    python -m loadtest.soak [--duration SECONDS] [--clients N] [--rss-ceiling-mib MIB]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import psycopg
import pyvips
from pixgate_signing import UrlBuilder
from yarl import URL

from loadtest.harness import imagegen
from loadtest.harness.pgserver import create_database, run_postgres
from loadtest.harness.s3server import aws_test_env, create_bucket, run_moto_server, s3_client
from loadtest.processes import Server, run_pixgate
from loadtest.stats import percentile

KEY, SALT = "736563726574", "68656C6C6F"
BUCKET = "pixgate-soak"
PREFIX = "media"
MIB = 1024 * 1024
REQUEST_TIMEOUT_S = 60.0
SAMPLE_EVERY_S = 0.5
MAX_REPORTED = 15
SEED_UPLOADS = 6

# Share of each kind of request in the mix.
MIX = {
    "view": 0.40,
    "transform": 0.20,
    "upload": 0.17,
    "metadata": 0.05,
    "hostile": 0.18,
}
SIZES = ("", "_s", "_m", "_l", "_t")
EXTENSIONS = ("", ".jpg", ".webp", ".png")
ACCEPTS = ("image/avif,image/webp,*/*", "image/webp,*/*", "*/*")
FORMATS = ("jpeg", "webp", "png", "avif")


@dataclass(frozen=True, slots=True)
class SoakConfig:
    duration_s: float = 180.0
    clients: int = 4
    rss_ceiling_mib: float = 600.0
    # Last third's peak RSS may exceed the first third's by this fraction plus this slack.
    rss_drift_fraction: float = 0.10
    rss_drift_slack_mib: float = 32.0
    fd_slack: int = 16
    seed: int = 1

    @property
    def warmup_s(self) -> float:
        """Traffic before the first third: pools, caches and libvips settle in."""
        return min(20.0, max(3.0, self.duration_s * 0.1))


@dataclass(frozen=True, slots=True)
class Uploaded:
    image_id: str
    sha256: str


@dataclass(frozen=True, slots=True)
class Sample:
    at: float
    rss_bytes: int
    fds: int


@dataclass(slots=True)
class Tally:
    """What the traffic did, and what went wrong."""

    started: float = field(default_factory=time.monotonic)
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    latencies_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    backpressure: int = 0
    uploads: list[Uploaded] = field(default_factory=list)
    duplicates: int = 0
    samples: list[Sample] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    failure_count: int = 0

    def fail(self, message: str) -> None:
        self.failure_count += 1
        if len(self.failures) < MAX_REPORTED:
            self.failures.append(message)


@dataclass(frozen=True, slots=True)
class Request:
    op: str
    method: str
    target: str
    expected: frozenset[int]
    headers: dict[str, str] = field(default_factory=dict)
    upload: bytes | None = None


@dataclass(slots=True)
class Report:
    config: SoakConfig
    tally: Tally
    checks: list[tuple[str, bool, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.tally.failure_count == 0 and all(passed for _, passed, _ in self.checks)

    def check(self, name: str, passed: bool, detail: str) -> None:
        self.checks.append((name, passed, detail))

    def summary(self) -> str:
        tally = self.tally
        lines = [
            f"soak: {self.config.duration_s:g} s, {self.config.clients} clients, "
            f"{sum(tally.statuses.values())} requests, {len(tally.uploads)} uploads accepted "
            f"({tally.duplicates} duplicates), {tally.backpressure} x 503 backpressure",
            "",
            f"  {'request':<10} {'count':>6} {'p50 ms':>8} {'p99 ms':>8}  statuses",
        ]
        for op in sorted(tally.latencies_ms):
            latencies = sorted(tally.latencies_ms[op])
            statuses = ", ".join(
                f"{status}: {count}"
                for (name, status), count in sorted(tally.statuses.items())
                if name == op
            )
            lines.append(
                f"  {op:<10} {len(latencies):>6} {percentile(latencies, 0.5):>8.1f} "
                f"{percentile(latencies, 0.99):>8.1f}  {statuses}"
            )
        lines += ["", "checks:"]
        lines += [
            f"  [{'ok' if passed else 'FAIL'}] {name}: {detail}"
            for name, passed, detail in self.checks
        ]
        if tally.failures:
            lines += ["", f"failed requests ({tally.failure_count}, first {len(tally.failures)}):"]
            lines += [f"  {failure}" for failure in tally.failures]
        lines += ["", "PASSED" if self.ok else "FAILED"]
        return "\n".join(lines)


# --- what the clients send ---------------------------------------------------------------


def distinct_image(rng: random.Random, serial: int) -> bytes:
    """A small photo-like image no other call returns: random colours, a serial-placed box."""
    width, height = rng.randint(200, 1000), rng.randint(150, 800)
    base = pyvips.Image.black(width, height, bands=3) + [rng.randint(0, 255) for _ in range(3)]
    image = base.draw_rect(
        [rng.randint(0, 255) for _ in range(3)],
        serial % max(1, width - 20),
        (serial // width) % max(1, height - 20),
        20,
        20,
        fill=True,
    ).cast("uchar")
    if rng.random() < 0.8:
        return bytes(image.jpegsave_buffer(Q=rng.randint(70, 92)))
    return bytes(image.pngsave_buffer())


def hostile_request(rng: random.Random, builder: UrlBuilder, known: Sequence[Uploaded]) -> Request:
    kind = rng.choice(
        ("text", "truncated", "empty", "bad-signature", "traversal", "unknown-id", "tampered")
    )
    image_id = rng.choice(known).image_id if known else "img_AAAAAAAAAAAAAAAAAAAA"
    if kind == "text":
        return Request(
            "hostile",
            "POST",
            "/api/v1/images",
            frozenset({415}),
            upload=imagegen.text_named_as_image(),
        )
    if kind == "truncated":
        whole = imagegen.quadrant_jpeg(rng.randint(200, 600), rng.randint(200, 600))
        return Request(
            "hostile",
            "POST",
            "/api/v1/images",
            frozenset({422}),
            upload=imagegen.truncated(whole, 0.4),
        )
    if kind == "empty":
        return Request("hostile", "POST", "/api/v1/images", frozenset({400, 422}), upload=b"")
    if kind == "bad-signature":
        signed = builder.path(f"originals/{image_id}", width=rng.randint(10, 500))
        signature, rest = signed[1:].split("/", 1)
        forged = ("A" if signature[0] != "A" else "B") + signature[1:]
        return Request("hostile", "GET", f"/{forged}/{rest}", frozenset({403}))
    if kind == "traversal":
        target = rng.choice(
            (
                "/insecure/plain/../../../etc/passwd",
                "/%2e%2e/%2e%2e/etc/passwd",
                f"/{image_id}%2F..%2F..%2Fetc%2Fpasswd.jpg",
                "/"
                + builder.path("originals/x.jpg", width=10)[1:].split("/", 1)[0]
                + "/plain/originals%2F..%2F..%2Fsecret",
            )
        )
        return Request("hostile", "GET", target, frozenset({400, 403, 404}))
    if kind == "unknown-id":
        return Request("hostile", "GET", "/img_ZZZZZZZZZZZZZZZZZZZZ_m.jpg", frozenset({404}))
    return Request(
        "hostile", "GET", f"/{image_id}.jpg?w=300&s=AAAAAAAAAAAAAAAAAAAAAA", frozenset({403})
    )


def next_request(
    rng: random.Random, builder: UrlBuilder, known: Sequence[Uploaded], serial: int
) -> Request:
    op = rng.choices(list(MIX), weights=list(MIX.values()))[0]
    if op == "hostile":
        return hostile_request(rng, builder, known)
    if op == "upload" or not known:
        return Request(
            "upload",
            "POST",
            "/api/v1/images",
            frozenset({200, 201}),
            upload=distinct_image(rng, serial),
        )
    image_id = rng.choice(known).image_id
    accept = {"Accept": rng.choice(ACCEPTS)}
    if op == "view":
        target = f"/{image_id}{rng.choice(SIZES)}{rng.choice(EXTENSIONS)}"
        return Request("view", "GET", target, frozenset({200}), headers=accept)
    if op == "transform":
        target = builder.path(
            f"originals/{image_id}",
            width=rng.randint(16, 800),
            format=rng.choice(FORMATS),
            quality=rng.choice((0, 60, 80)) or None,
        )
        return Request("transform", "GET", target, frozenset({200}))
    return Request("metadata", "GET", f"/api/v1/images/{image_id}/metadata", frozenset({200}))


# --- running it --------------------------------------------------------------------------


async def send(session: aiohttp.ClientSession, base: str, request: Request) -> tuple[int, bytes]:
    url = URL(base + request.target, encoded=True)  # hostile paths go out byte for byte
    data: aiohttp.FormData | None = None
    if request.upload is not None:
        data = aiohttp.FormData()
        data.add_field("image", request.upload, filename="photo.jpg", content_type="image/jpeg")
    async with session.request(request.method, url, data=data, headers=request.headers) as reply:
        return reply.status, await reply.read()


def record(tally: Tally, request: Request, status: int, body: bytes, elapsed_ms: float) -> None:
    tally.statuses[(request.op, status)] += 1
    tally.latencies_ms[request.op].append(elapsed_ms)
    if status == 503 and b'"overloaded"' in body:
        tally.backpressure += 1  # deliberate: the transform queue is full
        return
    if status not in request.expected:
        tally.fail(
            f"{request.op} {request.method} {request.target[:120]} -> {status} {body[:160]!r}"
        )
        return
    if request.op == "upload" and request.upload is not None:
        payload = json.loads(body)
        if payload["duplicate"]:
            tally.duplicates += 1
        else:
            tally.uploads.append(
                Uploaded(payload["image_id"], hashlib.sha256(request.upload).hexdigest())
            )


async def client(
    number: int,
    session: aiohttp.ClientSession,
    base: str,
    builder: UrlBuilder,
    tally: Tally,
    until: float,
    seed: int,
) -> None:
    rng = random.Random(seed * 1000 + number)
    serial = number
    while time.monotonic() < until:
        serial += 1000
        request = next_request(rng, builder, tally.uploads, serial)
        started = time.monotonic()
        try:
            status, body = await send(session, base, request)
        except (aiohttp.ClientError, TimeoutError) as error:
            tally.fail(f"{request.op} {request.target[:120]} -> {type(error).__name__}: {error}")
            continue
        record(tally, request, status, body, (time.monotonic() - started) * 1000)


def sample(pid: int, since: float) -> Sample:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        rss = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS:"))
    return Sample(time.monotonic() - since, rss, len(os.listdir(f"/proc/{pid}/fd")))


async def sampler(pid: int, tally: Tally, stop: asyncio.Event) -> None:
    while not stop.is_set():
        tally.samples.append(sample(pid, tally.started))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), SAMPLE_EVERY_S)


async def drive(server: Server, config: SoakConfig) -> Tally:
    tally = Tally()
    builder = UrlBuilder("", KEY, SALT)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    connector = aiohttp.TCPConnector(limit=config.clients * 2)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        rng = random.Random(config.seed)
        for serial in range(SEED_UPLOADS):  # something to view from the first request on
            request = Request(
                "upload",
                "POST",
                "/api/v1/images",
                frozenset({201}),
                upload=distinct_image(rng, serial),
            )
            started = time.monotonic()
            status, body = await send(session, server.base_url, request)
            record(tally, request, status, body, (time.monotonic() - started) * 1000)
        tally.started = time.monotonic()
        stop = asyncio.Event()
        watcher = asyncio.ensure_future(sampler(server.pid, tally, stop))
        until = tally.started + config.duration_s
        await asyncio.gather(
            *(
                client(n, session, server.base_url, builder, tally, until, config.seed)
                for n in range(config.clients)
            )
        )
        stop.set()
        await watcher
    await asyncio.sleep(1.0)  # idle: what is still open now stays open
    tally.samples.append(sample(server.pid, tally.started))
    return tally


# --- the verdict -------------------------------------------------------------------------


def thirds(
    samples: Sequence[Sample], warmup_s: float, total_s: float
) -> tuple[list[Sample], list[Sample]]:
    measured = [s for s in samples if warmup_s <= s.at <= total_s]
    span = (total_s - warmup_s) / 3
    first = [s for s in measured if s.at < warmup_s + span]
    last = [s for s in measured if s.at >= total_s - span]
    return first, last


def judge_resources(report: Report) -> None:
    config, samples = report.config, report.tally.samples
    first, last = thirds(samples[:-1], config.warmup_s, config.duration_s)
    if not first or not last:
        report.check("samples", False, f"too few samples ({len(samples)})")
        return
    peak = max(s.rss_bytes for s in samples)
    report.check(
        "rss ceiling",
        peak <= config.rss_ceiling_mib * MIB,
        f"peak {peak / MIB:.0f} MiB (ceiling {config.rss_ceiling_mib:g} MiB)",
    )
    first_rss, last_rss = max(s.rss_bytes for s in first), max(s.rss_bytes for s in last)
    allowed = first_rss * (1 + config.rss_drift_fraction) + config.rss_drift_slack_mib * MIB
    middle = [s.rss_bytes for s in samples[:-1] if first[-1].at < s.at < last[0].at]
    middle_rss = f"{max(middle) / MIB:.0f}" if middle else "-"
    report.check(
        "rss drift",
        last_rss <= allowed,
        f"max by third {first_rss / MIB:.0f} / {middle_rss} / {last_rss / MIB:.0f} MiB "
        f"(last allowed {allowed / MIB:.0f})",
    )
    first_fds, last_fds = max(s.fds for s in first), max(s.fds for s in last)
    final_fds = samples[-1].fds
    report.check(
        "file descriptors",
        last_fds <= first_fds + config.fd_slack and final_fds <= first_fds + config.fd_slack,
        f"first third max {first_fds}, last third max {last_fds}, idle after {final_fds} "
        f"(slack {config.fd_slack})",
    )


async def served(base: str, uploads: Sequence[Uploaded]) -> list[str]:
    """The uploads pixgate does not serve (its smallest size) after the run."""
    missing: list[str] = []
    gate = asyncio.Semaphore(4)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:

        async def one(upload: Uploaded) -> None:
            async with gate, session.get(f"{base}/{upload.image_id}_t.jpg") as reply:
                body = await reply.read()
                if reply.status != 200 or body[:3] != b"\xff\xd8\xff":
                    missing.append(f"{upload.image_id}: {reply.status}")

        await asyncio.gather(*(one(upload) for upload in uploads))
    return missing


def judge_nothing_lost(report: Report, base: str, endpoint_url: str, database_url: str) -> None:
    uploads = report.tally.uploads
    missing = asyncio.run(served(base, uploads))
    report.check(
        "uploads served",
        not missing,
        f"{len(uploads) - len(missing)}/{len(uploads)} served"
        + (f"; {missing[:5]}" if missing else ""),
    )
    s3 = s3_client(endpoint_url)
    mismatched = []
    for upload in uploads:
        key = f"{PREFIX}/originals/{upload.image_id}"
        try:
            stored = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        except Exception as error:  # a missing object is exactly what this looks for
            mismatched.append(f"{upload.image_id}: {type(error).__name__}")
            continue
        if hashlib.sha256(stored).hexdigest() != upload.sha256:
            mismatched.append(f"{upload.image_id}: sha256 differs")
    report.check(
        "originals intact",
        not mismatched,
        f"{len(uploads) - len(mismatched)}/{len(uploads)} match their sha256"
        + (f"; {mismatched[:5]}" if mismatched else ""),
    )
    keys = {
        item["Key"].rsplit("/", 1)[1]
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=BUCKET, Prefix=f"{PREFIX}/originals/"
        )
        for item in page.get("Contents", [])
    }
    with psycopg.connect(database_url) as connection:
        rows = {
            row[0]
            for row in connection.execute("SELECT image_id FROM images WHERE deleted_at IS NULL")
        }
    accepted = {upload.image_id for upload in uploads}
    report.check(
        "bucket matches rows",
        keys == rows == accepted,
        f"{len(rows)} rows, {len(keys)} originals, {len(accepted)} accepted; "
        f"orphans {sorted(keys - rows)[:5]}, rows without original {sorted(rows - keys)[:5]}, "
        f"lost {sorted(accepted - rows)[:5]}",
    )


def run(config: SoakConfig) -> Report:
    """Start moto, PostgreSQL and pixgate, drive the traffic, judge; stop everything."""
    with (
        tempfile.TemporaryDirectory(prefix="pixgate-soak-") as folder,
        aws_test_env(),
        run_moto_server() as moto,
        run_postgres() as postgres,
    ):
        create_bucket(moto.endpoint_url, BUCKET)
        create_database(postgres.url, "soak")
        database_url = postgres.database_url("soak")
        settings = {
            "PIXGATE_KEY": KEY,
            "PIXGATE_SALT": SALT,
            "PIXGATE_STORAGE_URL": f"s3://{BUCKET}/{PREFIX}",
            "PIXGATE_S3_ENDPOINT_URL": moto.endpoint_url,
            "PIXGATE_DATABASE_URL": database_url,
            "PIXGATE_MIGRATE_ON_START": "true",
            "PIXGATE_UPLOAD_RATE": "0",
            "PIXGATE_LOG_LEVEL": "warning",
            # A cache that fills within the warm-up, so a full cache does not read as drift.
            "PIXGATE_SOURCE_CACHE_BYTES": str(16 * MIB),
        }
        with run_pixgate(settings, Path(folder) / "pixgate.log") as server:
            tally = asyncio.run(drive(server, config))
            report = Report(config, tally)
            judge_resources(report)
            judge_nothing_lost(report, server.base_url, moto.endpoint_url, database_url)
            errors = [
                line
                for line in (Path(folder) / "pixgate.log").read_text(errors="replace").splitlines()
                if "level=error" in line or "Traceback" in line
            ]
            report.check(
                "server log",
                not errors,
                f"{len(errors)} error lines" + (f"; {errors[:3]}" if errors else ""),
            )
    return report


def parse_args(argv: Sequence[str] | None) -> SoakConfig:
    parser = argparse.ArgumentParser(
        prog="python -m loadtest.soak", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--duration", type=float, default=180.0, help="seconds of traffic")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients")
    parser.add_argument("--rss-ceiling-mib", type=float, default=600.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if not 5 <= args.duration <= 3600:
        parser.error("--duration must be between 5 and 3600 seconds")
    if not 1 <= args.clients <= 64:
        parser.error("--clients must be between 1 and 64")
    return SoakConfig(
        duration_s=args.duration,
        clients=args.clients,
        rss_ceiling_mib=args.rss_ceiling_mib,
        seed=args.seed,
    )


def main(argv: Sequence[str] | None = None) -> int:
    report = run(parse_args(argv))
    print(report.summary(), flush=True)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())

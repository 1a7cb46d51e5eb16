"""The upload benchmark's driver, run as its own process: pixgate's upload API against the
same work done by its pieces without HTTP.

Two modes upload the same photo, each time with distinct bytes (a unique JPEG comment
segment: the same pixels and EXIF, another sha256, so nothing is deduplicated), made before
the timed part of each segment:

- ``pixgate``: ``POST /api/v1/images`` (multipart field ``image``) over keep-alive
  connections; every answer must be 201 with the upload's size and ``duplicate: false``.
- ``pieces``: `uploader.inspect.inspect_upload` in a thread pool as large as pixgate's, the
  sha256 (on the event loop, as pixgate's service computes it), one aiobotocore
  ``put_object`` to the same S3 with pixgate's client configuration, and one INSERT of the
  row into the same PostgreSQL table over an open connection; each step is timed.

Each phase (one client, then N concurrent clients in a closed loop) is split in two
segments per mode run in ABBA order, after unmeasured warm-up uploads. CPU time of this
process, the server, moto and PostgreSQL, and pixgate's /metrics, are read at each segment's edges.
One JSON object is printed on stdout.

    python -m loadtest.uploadgen --photo photo.jpg --url http://127.0.0.1:PORT \
        --s3-endpoint-url http://127.0.0.1:PORT2 --bucket B --database-url postgresql://... \
        --server-pid PID --moto-pid PID2 --sequential 50 --concurrent 80 --concurrency 4
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import hashlib
import json
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
from aiobotocore.session import get_session
from psycopg import AsyncConnection

from loadtest.loadgen import parse_metrics
from loadtest.procfs import cpu_seconds, family_cpu_seconds, machine_busy_seconds
from proxy.ids import storage_key_for
from proxy.render import configure_libvips
from proxy.storage.base import StorageSettings
from proxy.storage.s3 import client_config
from uploader.ids import new_image_id
from uploader.inspect import inspect_upload

if TYPE_CHECKING:
    from types_aiobotocore_s3.client import S3Client

MODES = ("pieces", "pixgate")
UPLOAD_TIMEOUT_S = 60.0
MAX_ERROR_SAMPLES = 5
UPLOAD_PATH = "/api/v1/images"

_INSERT = (
    "INSERT INTO images (image_id, owner, title, description, width, height, format,"
    " size_bytes, sha256, storage_key, processing_status, exif, uploaded_at, thumbhash,"
    " dominant_color)"
    " VALUES (%s, NULL, '', '', %s, %s, %s, %s, %s, %s, 'completed', %s::jsonb, %s, %s, %s)"
)
# pixgate's own metrics of the upload route: name -> (series, label fragments it must hold).
_SERVER_SERIES = {
    "handler": ("pixgate_request_duration_seconds", ('route="/api/v1/images"', 'status="201"')),
    "service": ("pixgate_upload_duration_seconds", ()),
    "pool_wait": ("pixgate_transform_queue_seconds", ()),
}

# CPU time of the processes taking part: this one, pixgate, moto, PostgreSQL.
_OWN_CPU = ("driver_cpu_s", "server_cpu_s", "moto_cpu_s", "postgres_cpu_s")

Upload = Callable[[bytes], Awaitable[dict[str, float]]]
"""Stores one upload; returns the time of its steps in ms (none for an HTTP upload)."""


class UploadFailed(Exception):
    def __init__(self, status: str, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status


def with_comment(jpeg: bytes, text: bytes) -> bytes:
    """`jpeg` with a COM segment holding `text` after its APPn segments: other bytes, the
    same pixels and metadata."""
    if jpeg[:2] != b"\xff\xd8" or len(text) > 0xFFFF - 2:
        raise ValueError("not a JPEG, or the comment is too long")
    position = 2
    while jpeg[position] == 0xFF and (0xE0 <= jpeg[position + 1] <= 0xEF):
        position += 2 + int.from_bytes(jpeg[position + 2 : position + 4], "big")
    segment = b"\xff\xfe" + (len(text) + 2).to_bytes(2, "big") + text
    return jpeg[:position] + segment + jpeg[position:]


# --- the two modes ---------------------------------------------------------------------------


class HttpUploads:
    """POST /api/v1/images as a browser form would."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self._session = session
        self._url = url

    async def __call__(self, body: bytes) -> dict[str, float]:
        form = aiohttp.FormData()
        form.add_field("image", body, filename="photo.jpg", content_type="image/jpeg")
        try:
            async with self._session.post(self._url, data=form) as response:
                answer = await response.read()
                status = response.status
        except aiohttp.ClientError as error:
            raise UploadFailed(type(error).__name__, str(error)) from None
        if status != 201:
            raise UploadFailed(str(status), repr(answer[:200]))
        summary = json.loads(answer)
        if summary["duplicate"] or summary["metadata"]["size_bytes"] != len(body):
            raise UploadFailed("unexpected answer", repr(answer[:300]))
        return {}


class PieceUploads:
    """The steps of an upload called directly: inspect, sha256, S3 put, INSERT."""

    def __init__(
        self,
        s3: S3Client,
        bucket: str,
        connections: asyncio.Queue[AsyncConnection[Any]],
        executor: ThreadPoolExecutor,
        max_pixels: int,
    ) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._connections = connections
        self._executor = executor
        self._max_pixels = max_pixels

    async def __call__(self, body: bytes) -> dict[str, float]:
        loop = asyncio.get_running_loop()
        marks = [time.perf_counter()]
        inspected = await loop.run_in_executor(
            self._executor,
            functools.partial(inspect_upload, body, max_pixels=self._max_pixels, keep_gps=False),
        )
        marks.append(time.perf_counter())
        sha256 = hashlib.sha256(body).hexdigest()
        marks.append(time.perf_counter())
        image_id = new_image_id()
        await self._s3.put_object(
            Bucket=self._bucket,
            Key=storage_key_for(image_id),
            Body=body,
            ContentType=inspected.content_type,
        )
        marks.append(time.perf_counter())
        placeholder = inspected.placeholder
        connection = await self._connections.get()
        try:
            await connection.execute(
                _INSERT,
                (
                    image_id,
                    inspected.width,
                    inspected.height,
                    inspected.format,
                    len(body),
                    sha256,
                    storage_key_for(image_id),
                    json.dumps(inspected.exif),
                    datetime.now(UTC),
                    placeholder.thumbhash if placeholder else None,
                    placeholder.dominant_color if placeholder else None,
                ),
            )
        finally:
            self._connections.put_nowait(connection)
        marks.append(time.perf_counter())
        steps = ("inspect", "sha256", "put", "insert")
        return {step: (marks[i + 1] - marks[i]) * 1000 for i, step in enumerate(steps)}


# --- measuring -------------------------------------------------------------------------------


@dataclass(slots=True)
class Tally:
    """One mode in one phase: its segments added together."""

    concurrency: int
    latencies_ms: list[float] = field(default_factory=list)
    steps_ms: dict[str, list[float]] = field(default_factory=dict)
    wall_s: float = 0.0
    errors: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    usage: dict[str, float] = field(default_factory=dict)  # CPU seconds, measured seconds
    server: dict[str, float] = field(default_factory=dict)  # sums (s) and counts
    # Per segment: uploads/s, and the cores the rest of the machine used meanwhile.
    segment_per_second: list[float] = field(default_factory=list)
    segment_other_cores: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "concurrency": self.concurrency,
            "latencies_ms": self.latencies_ms,
            "steps_ms": self.steps_ms,
            "wall_s": self.wall_s,
            "errors": self.errors,
            "statuses": dict(self.statuses),
            "error_samples": self.error_samples,
            "usage": self.usage,
            "server": self.server,
            "segment_per_second": self.segment_per_second,
            "segment_other_cores": self.segment_other_cores,
        }


@dataclass(frozen=True, slots=True)
class Probe:
    """Reads CPU time and pixgate's metrics at a segment's edges."""

    server_pid: int
    moto_pid: int
    postgres_pid: int
    metrics_url: str

    async def snapshot(self, session: aiohttp.ClientSession) -> dict[str, Any]:
        async with session.get(self.metrics_url) as response:
            metrics = parse_metrics(await response.text())
        pid = self.server_pid
        return {
            "measured_s": time.perf_counter(),
            "driver_cpu_s": cpu_seconds(),
            "server_cpu_s": cpu_seconds(pid),
            # The main thread runs the server's event loop; libvips work runs in other threads.
            "server_loop_cpu_s": cpu_seconds(f"{pid}/task/{pid}"),
            "moto_cpu_s": cpu_seconds(self.moto_pid),
            "postgres_cpu_s": family_cpu_seconds(self.postgres_pid),
            "machine_busy_s": machine_busy_seconds(),
            "metrics": metrics,
        }


def _series_total(samples: dict[str, float], name: str, needs: Sequence[str]) -> float:
    total = 0.0
    for series, value in samples.items():
        metric, _, labels = series.partition("{")
        if metric == name and all(fragment in labels for fragment in needs):
            total += value
    return total


def _add_deltas(tally: Tally, before: dict[str, Any], after: dict[str, Any]) -> None:
    for key, value in after.items():
        if key != "metrics":
            tally.usage[key] = tally.usage.get(key, 0.0) + value - before[key]
    for label, (name, needs) in _SERVER_SERIES.items():
        for suffix in ("sum", "count"):
            series = f"{name}_{suffix}"
            delta = _series_total(after["metrics"], series, needs) - _series_total(
                before["metrics"], series, needs
            )
            key = f"{label}_{suffix}"
            tally.server[key] = tally.server.get(key, 0.0) + delta


async def run_segment(
    upload: Upload,
    bodies: Sequence[bytes],
    tally: Tally,
    probe: Probe,
    side: aiohttp.ClientSession,
) -> None:
    """Upload `bodies` with `tally.concurrency` workers in a closed loop."""
    queue: Iterator[bytes] = iter(bodies)  # shared: each body is uploaded once

    async def worker() -> None:
        for body in queue:
            started = time.perf_counter()
            try:
                async with asyncio.timeout(UPLOAD_TIMEOUT_S):
                    steps = await upload(body)
            except UploadFailed as error:
                _record_error(tally, error.status, str(error))
                continue
            except Exception as error:  # a timeout, or any piece's own error: count it, go on
                _record_error(tally, type(error).__name__, str(error))
                continue
            tally.latencies_ms.append((time.perf_counter() - started) * 1000)
            tally.statuses["ok"] += 1
            for step, ms in steps.items():
                tally.steps_ms.setdefault(step, []).append(ms)

    completed = len(tally.latencies_ms)
    before = await probe.snapshot(side)
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(tally.concurrency)))
    wall_s = time.perf_counter() - started
    after = await probe.snapshot(side)
    tally.wall_s += wall_s
    tally.segment_per_second.append((len(tally.latencies_ms) - completed) / wall_s)
    ours = sum(after[key] - before[key] for key in _OWN_CPU)
    other = after["machine_busy_s"] - before["machine_busy_s"] - ours
    tally.segment_other_cores.append(max(0.0, other) / (after["measured_s"] - before["measured_s"]))
    _add_deltas(tally, before, after)


def _record_error(tally: Tally, status: str, detail: str) -> None:
    tally.errors += 1
    tally.statuses[status] += 1
    if len(tally.error_samples) < MAX_ERROR_SAMPLES:
        tally.error_samples.append(detail[:300])


async def run(args: argparse.Namespace) -> dict[str, Any]:
    photo = args.photo.read_bytes()
    phases = (("sequential", args.sequential, 1), ("concurrent", args.concurrent, args.concurrency))
    width = max(concurrency for _, _, concurrency in phases)
    probe = Probe(args.server_pid, args.moto_pid, args.postgres_pid, f"{args.url}/metrics")
    timeout = aiohttp.ClientTimeout(total=UPLOAD_TIMEOUT_S)
    async with AsyncExitStack() as stack:
        session = await stack.enter_async_context(
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=width), timeout=timeout)
        )
        side = await stack.enter_async_context(aiohttp.ClientSession(timeout=timeout))
        s3 = await stack.enter_async_context(
            get_session().create_client(
                "s3",
                endpoint_url=args.s3_endpoint_url,
                config=client_config(StorageSettings(s3_endpoint_url=args.s3_endpoint_url)),
            )
        )
        connections: asyncio.Queue[AsyncConnection[Any]] = asyncio.Queue()
        for _ in range(width):
            connection = await AsyncConnection.connect(args.database_url, autocommit=True)
            await stack.enter_async_context(connection)
            connections.put_nowait(connection)
        executor = stack.enter_context(
            ThreadPoolExecutor(args.pool_size, thread_name_prefix="vips")
        )
        uploads: dict[str, Upload] = {
            "pixgate": HttpUploads(session, args.url + UPLOAD_PATH),
            "pieces": PieceUploads(s3, args.bucket, connections, executor, args.max_pixels),
        }

        def bodies(label: str, count: int) -> list[bytes]:
            return [
                with_comment(photo, f"pixgate-bench {args.tag} {label} {index}".encode())
                for index in range(count)
            ]

        # Opens every connection and loads libvips; a failure here stops the run.
        for mode in MODES:
            for body in bodies(f"warmup-{mode}", args.warmup):
                await uploads[mode](body)
        results: dict[str, dict[str, Any]] = {}
        for phase_index, (phase, count, concurrency) in enumerate(phases):
            tallies = {mode: Tally(concurrency) for mode in MODES}
            for round_index, size in enumerate((count // 2, count - count // 2)):
                # ABBA across rounds and phases, so drift in machine load hits both alike.
                order = MODES if (round_index + phase_index) % 2 == 0 else MODES[::-1]
                for mode in order:
                    batch = bodies(f"{phase}-{round_index}-{mode}", size)
                    await run_segment(uploads[mode], batch, tallies[mode], probe, side)
                    print(
                        f"{phase} round {round_index + 1}/2 {mode}: {size} uploads",
                        file=sys.stderr,
                        flush=True,
                    )
            results[phase] = {mode: tally.as_dict() for mode, tally in tallies.items()}
    return {
        "photo_bytes": len(photo),
        "warmup_uploads": args.warmup,
        "phases": results,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.uploadgen", description=__doc__)
    parser.add_argument("--photo", type=Path, required=True, help="the JPEG to upload")
    parser.add_argument("--url", required=True, help="pixgate's base URL")
    parser.add_argument("--s3-endpoint-url", required=True)
    parser.add_argument("--bucket", required=True, help="pixgate's bucket")
    parser.add_argument("--database-url", required=True, help="pixgate's PostgreSQL database")
    parser.add_argument("--server-pid", type=int, required=True)
    parser.add_argument("--moto-pid", type=int, required=True)
    parser.add_argument("--postgres-pid", type=int, required=True, help="the postmaster")
    parser.add_argument("--sequential", type=int, required=True, help="uploads one at a time")
    parser.add_argument("--concurrent", type=int, required=True, help="uploads by N clients")
    parser.add_argument("--concurrency", type=int, required=True, help="N")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured uploads per mode")
    parser.add_argument("--pool-size", type=int, required=True, help="pixgate's concurrency")
    parser.add_argument("--max-pixels", type=int, required=True, help="pixgate's limit")
    parser.add_argument("--tag", required=True, help="makes this run's bytes unique")
    args = parser.parse_args(argv)
    if min(args.sequential, args.concurrent) < 2 or args.concurrency < 1 or args.pool_size < 1:
        parser.error("--sequential and --concurrent must be >= 2, --concurrency >= 1")
    configure_libvips()  # pixgate's libvips settings (operation cache off) for the pieces
    json.dump(asyncio.run(run(args)), sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

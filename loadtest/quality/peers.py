"""The peers, each in its own process at its own defaults: sharp (the engine behind ipx,
from ipx's node_modules) through a small node worker, and thumbor's real server with its
Pillow engine. Installed by loadtest.peer_servers into var/peers on first use.

sharp: process.cpuUsage() around the render inside node. thumbor: the server's CPU time
summed over its threads from /proc/PID/task/*/schedstat (nanoseconds) around each request;
with ENGINE_THREADPOOL_SIZE 0 (its default) it renders in its main thread, and this
includes its HTTP handling (about a millisecond).
"""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from config.processes import stop
from loadtest.peer_servers import (
    IPX_DIR,
    PeerUnavailable,
    ensure_ipx,
    ensure_thumbor,
    peer_versions,
    run_thumbor,
)
from loadtest.quality.corpus import PHOTOS_DIR
from loadtest.quality.systems import Rendered, Request, Unsupported

WORKER = Path(__file__).resolve().parent / "sharp_worker.cjs"


@dataclass
class SharpRenderer:
    """sharp as ipx runs it (its defaults); with `mozjpeg`, JPEG with sharp's mozjpeg
    preset, the strongest JPEG encoder setting among the peers (JPEG only)."""

    process: subprocess.Popen[bytes]
    mozjpeg: bool = False

    @property
    def name(self) -> str:
        return "sharp-mozjpeg" if self.mozjpeg else "sharp"

    @property
    def label(self) -> str:
        return "sharp, mozjpeg" if self.mozjpeg else "sharp (ipx)"

    @property
    def formats(self) -> tuple[str, ...]:
        return ("jpeg",) if self.mozjpeg else ("jpeg", "webp", "avif")

    def render(self, request: Request) -> Rendered:
        if request.quality == "auto":
            raise Unsupported("sharp has no automatic quality")
        geometry = request.variant.geometry
        message = {
            "source": str(request.variant.photo.path),
            "width": geometry.width,
            "height": geometry.height,
            "cover": geometry.cover,
            "format": request.output_format,
            "quality": request.quality if isinstance(request.quality, int) else None,
            "mozjpeg": self.mozjpeg,
        }
        stdin, stdout = _pipes(self.process)
        stdin.write(json.dumps(message).encode() + b"\n")
        stdin.flush()
        line = stdout.readline()
        if not line:
            raise PeerUnavailable(f"sharp worker exited ({self.process.poll()})")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"sharp: {answer['error']}")
        return Rendered(base64.b64decode(answer["data"]), float(answer["cpu_ms"]))

    def versions(self) -> dict[str, Any]:
        found = peer_versions().get("ipx", {})
        return {k: found[k] for k in ("sharp", "libvips", "mozjpeg", "webp", "aom") if k in found}


def _pipes(process: subprocess.Popen[bytes]) -> tuple[IO[bytes], IO[bytes]]:
    if process.stdin is None or process.stdout is None:
        raise PeerUnavailable("sharp worker has no pipes")
    return process.stdin, process.stdout


@contextlib.contextmanager
def run_sharp(log_path: Path, *, mozjpeg: bool = False) -> Iterator[SharpRenderer]:
    ensure_ipx(log_path)
    node = shutil.which("node")
    if node is None:
        raise PeerUnavailable("sharp needs Node.js")
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [node, str(WORKER), str(IPX_DIR)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            start_new_session=True,
        )
    try:
        yield SharpRenderer(process, mozjpeg)
    finally:
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        stop(process, grace_s=2.0)
        if process.stdout is not None:
            process.stdout.close()


def thumbor_path(request: Request) -> str:
    """`/unsafe/[fit-in/]WxH/filters:format(F)[:quality(Q)]/name`: fit-in keeps the photo
    inside the box (never enlarging); without it both sides given mean crop to fill,
    centred. No quality filter: thumbor's default (QUALITY)."""
    geometry = request.variant.geometry
    filters = [f"format({request.output_format})"]
    if isinstance(request.quality, int):
        filters.append(f"quality({request.quality})")
    fit = "" if geometry.cover else "fit-in/"
    size = f"{geometry.width}x{geometry.height}"
    return f"/unsafe/{fit}{size}/filters:{':'.join(filters)}/{request.variant.photo.name}"


def thread_cpu_ns(pid: int) -> int:
    """CPU time of every thread of `pid` (first field of each task's schedstat)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            total += int((task / "schedstat").read_text().split()[0])
    return total


@dataclass
class ThumborRenderer:
    base_url: str
    pid: int
    name: str = "thumbor"
    label: str = "thumbor (Pillow)"

    def render(self, request: Request) -> Rendered:
        if request.quality == "auto":
            raise Unsupported("thumbor has no automatic quality")
        url = self.base_url + thumbor_path(request)
        started = thread_cpu_ns(self.pid)
        try:
            with urllib.request.urlopen(url, timeout=120) as response:
                data = response.read()
                content_type = response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as error:
            raise RuntimeError(f"thumbor: {error.code} for {url}") from None
        cpu_ms = (thread_cpu_ns(self.pid) - started) / 1e6
        if request.output_format not in content_type:
            # thumbor falls back to another format when it cannot write the one asked.
            raise Unsupported(f"thumbor answered {content_type} for {request.output_format}")
        return Rendered(data, cpu_ms)

    def versions(self) -> dict[str, Any]:
        return dict(peer_versions().get("thumbor", {}))


@contextlib.contextmanager
def run_thumbor_renderer(work_dir: Path) -> Iterator[ThumborRenderer]:
    script = ensure_thumbor(work_dir / "install.log")
    with run_thumbor(script, PHOTOS_DIR, 0, work_dir) as server:
        yield ThumborRenderer(server.base_url, server.pid)

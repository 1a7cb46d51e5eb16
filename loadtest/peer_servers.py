"""The systems the peer benchmark compares, and how each spells the same transform.

pixgate runs from this repository (`loadtest.processes.run_pixgate`). Its peers are
installed by the benchmark into var/peers, apart from pixgate's own environment:

* thumbor from PyPI in its own virtualenv, with its default Pillow engine, the file loader
  on the image folder, no storage of originals, no result storage, unsafe URLs allowed,
  and the given ENGINE_THREADPOOL_SIZE;
* ipx (unjs, on sharp/libvips) from npm, its own CLI server with `--dir` on the same folder.

Each is started on a free loopback port and stopped by its PID.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pixgate_signing import UrlBuilder

from config.processes import stop
from loadtest.harness.ports import HOST, free_port
from loadtest.imageset import CUTOUT, PHOTO, Source
from loadtest.processes import REPO, Server

PEERS_DIR = REPO / "var" / "peers"
THUMBOR_VERSION = "7.8.0"
IPX_VERSION = "3.1.1"
THUMBOR_VENV = PEERS_DIR / "thumbor-venv"
IPX_DIR = PEERS_DIR / "ipx"
STARTUP_TIMEOUT_S = 60.0
INSTALL_TIMEOUT_S = 600.0


class PeerUnavailable(RuntimeError):
    """A peer could not be installed or started; the benchmark goes on without it."""


# --- the transforms ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Transform:
    """One job, as every system is asked to do it."""

    key: str
    source: Source
    width: int
    height: int  # 0: from the width, keeping the aspect ratio
    cover: bool  # fill the width x height box, centre-cropping the overflow
    output_format: str  # webp, avif or jpeg
    quality: int
    flatten: bool  # the source has alpha and the format has none: onto white

    @property
    def title(self) -> str:
        source = self.source
        kind = "RGBA PNG" if source.alpha else "JPEG"
        size = f"{self.width}x{self.height} fill" if self.cover else f"{self.width}px wide"
        return (
            f"{source.width}x{source.height} {kind} -> {size} "
            f"{self.output_format.upper()} q{self.quality}"
        )

    @property
    def short(self) -> str:
        """Two lines for a plot axis."""
        source = self.source
        kind = f"{source.megapixels:.0f} MP {'RGBA PNG' if source.alpha else 'JPEG'}"
        size = f"{self.width}x{self.height} fill" if self.cover else f"{self.width}w"
        return f"{self.key}: {kind}\n-> {size} {self.output_format.upper()} q{self.quality}"

    def expected_size(self) -> tuple[int, int]:
        if self.height:
            return self.width, self.height
        return self.width, round(self.source.height * self.width / self.source.width)


# T2's quality: pixgate's default AVIF quality, written in every system's URL. The same
# number does not mean the same thing to every AVIF encoder: output bytes and PSNR say.
TRANSFORMS = (
    Transform("T1", PHOTO, 800, 0, False, "webp", 80, flatten=False),
    Transform("T2", PHOTO, 300, 300, True, "avif", 55, flatten=False),
    Transform("T3", CUTOUT, 500, 0, False, "jpeg", 80, flatten=True),
)
CONTENT_TYPES = {"webp": "image/webp", "avif": "image/avif", "jpeg": "image/jpeg"}


# --- URL syntax of each system ------------------------------------------------------------------


def pixgate_url(builder: UrlBuilder, transform: Transform, index: int | None) -> str:
    """imgproxy-style signed URL; `cb:N` (a cachebuster) makes it distinct without changing
    the work, so pixgate cannot coalesce concurrent requests into one render. `index`
    None asks for the lossless PNG of the same geometry (the quality reference)."""
    output_format = "png" if index is None else transform.output_format
    return builder.url(
        transform.source.name,
        width=transform.width,
        height=transform.height,
        fit="fill" if transform.cover else None,
        format="jpg" if output_format == "jpeg" else output_format,
        quality=None if index is None else transform.quality,
        options=[] if index is None else [f"cb:{index}"],
    )


def thumbor_path(transform: Transform, image: str, *, lossless: bool = False) -> str:
    """`/unsafe/WxH/filters:.../image`: a 0 side follows the aspect ratio, and both sides
    given means crop to fill (centred without `smart`); `background_color` flattens alpha
    (without it Pillow drops the alpha channel rather than compositing)."""
    filters = ["format(png)"]
    if not lossless:
        filters = [f"format({transform.output_format})", f"quality({transform.quality})"]
        if transform.flatten:
            filters.append("background_color(ffffff)")
    size = f"{transform.width}x{transform.height}"
    return f"/unsafe/{size}/filters:{':'.join(filters)}/{image}"


def ipx_path(transform: Transform, image: str, *, lossless: bool = False) -> str:
    """`/modifiers/image`: `s_WxH` resizes with sharp's default fit, cover (centred)."""
    modifiers = (
        ["f_png"] if lossless else [f"f_{transform.output_format}", f"q_{transform.quality}"]
    )
    if transform.flatten and not lossless:
        modifiers = ["b_ffffff", "flatten", *modifiers]
    if transform.cover:
        modifiers.append(f"s_{transform.width}x{transform.height}")
    else:
        modifiers.append(f"w_{transform.width}")
    return f"/{','.join(modifiers)}/{image}"


# --- installing the peers --------------------------------------------------------------------


def _install(argv: Sequence[str], log_path: Path, what: str, cwd: Path | None = None) -> None:
    with open(log_path, "ab") as log:
        try:
            result = subprocess.run(
                argv,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=INSTALL_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise PeerUnavailable(f"{what}: {error}") from None
    if result.returncode != 0:
        raise PeerUnavailable(f"{what} failed ({result.returncode}); see {log_path}")


def ensure_thumbor(log_path: Path) -> Path:
    """thumbor==THUMBOR_VERSION in its own virtualenv; returns its `thumbor` script."""
    script = THUMBOR_VENV / "bin" / "thumbor"
    python = THUMBOR_VENV / "bin" / "python"
    if script.exists() and _thumbor_version(python) == THUMBOR_VERSION:
        return script
    print(f"  installing thumbor {THUMBOR_VERSION} into {THUMBOR_VENV} ...", flush=True)
    if not python.exists():
        _install([sys.executable, "-m", "venv", str(THUMBOR_VENV)], log_path, "python -m venv")
    _install(
        [str(python), "-m", "pip", "install", "--quiet", f"thumbor=={THUMBOR_VERSION}"],
        log_path,
        "pip install thumbor",
    )
    return script


def _thumbor_version(python: Path) -> str | None:
    if not python.exists():
        return None
    probe = "import importlib.metadata as m; print(m.version('thumbor'))"
    result = subprocess.run([str(python), "-c", probe], capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else None


def ensure_ipx(log_path: Path) -> Path:
    """ipx@IPX_VERSION (with sharp) in its own node_modules; returns its CLI script."""
    script = IPX_DIR / "node_modules" / "ipx" / "bin" / "ipx.mjs"
    package = IPX_DIR / "node_modules" / "ipx" / "package.json"
    if script.exists() and json.loads(package.read_text()).get("version") == IPX_VERSION:
        return script
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise PeerUnavailable("ipx needs Node.js and npm (apt-get install nodejs npm)")
    print(f"  installing ipx {IPX_VERSION} into {IPX_DIR} ...", flush=True)
    IPX_DIR.mkdir(parents=True, exist_ok=True)
    manifest = IPX_DIR / "package.json"
    if not manifest.exists():
        manifest.write_text('{"private": true}\n')
    _install(
        [npm, "install", "--no-audit", "--no-fund", f"ipx@{IPX_VERSION}"],
        log_path,
        "npm install ipx",
        cwd=IPX_DIR,
    )
    return script


def peer_versions() -> dict[str, Any]:
    """What the installed peers run on (for the report)."""
    versions: dict[str, Any] = {}
    python = THUMBOR_VENV / "bin" / "python"
    probe = (
        "import json, importlib.metadata as m; from PIL import features; "
        "print(json.dumps({'thumbor': m.version('thumbor'), 'pillow': m.version('pillow'), "
        "'libavif': features.version('avif'), 'libwebp': features.version('webp'), "
        "'libjpeg': features.version('jpg')}))"
    )
    with contextlib.suppress(OSError, ValueError):
        result = subprocess.run([str(python), "-c", probe], capture_output=True, text=True)
        if result.returncode == 0:
            versions["thumbor"] = json.loads(result.stdout)
    node = shutil.which("node")
    if node is not None and (IPX_DIR / "node_modules").exists():
        script = (
            "const s = require('sharp'); const v = s.versions; console.log(JSON.stringify({"
            "ipx: JSON.parse(require('fs').readFileSync('node_modules/ipx/package.json')).version, "
            "sharp: v.sharp, libvips: v.vips, "
            "aom: v.aom, webp: v.webp, mozjpeg: v.mozjpeg, node: process.versions.node, "
            "sharp_concurrency: s.concurrency(), uv_threadpool: process.env.UV_THREADPOOL_SIZE "
            "|| 4}))"
        )
        with contextlib.suppress(OSError, ValueError):
            result = subprocess.run(
                [node, "-e", script], cwd=IPX_DIR, capture_output=True, text=True
            )
            if result.returncode == 0:
                versions["ipx"] = json.loads(result.stdout)
    return versions


# --- running them ------------------------------------------------------------------------------


@contextlib.contextmanager
def _run_server(
    name: str,
    argv: Sequence[str],
    env: Mapping[str, str],
    health_path: str,
    port: int,
    log_path: Path,
    cwd: Path = REPO,
) -> Iterator[Server]:
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches only the benchmark; we stop it by PID
        )
    try:
        server = Server(process.pid, f"http://{HOST}:{port}", log_path)
        _wait_answering(name, process, server.base_url + health_path, log_path)
        yield server
    finally:
        stop(process)


def _wait_answering(name: str, process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise PeerUnavailable(f"{name} exited ({process.returncode}) on start-up:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return  # it answered, if only with an error: it is up
        except OSError:
            time.sleep(0.1)
    raise PeerUnavailable(f"{name} did not answer {url} within {STARTUP_TIMEOUT_S:g}s")


def thumbor_config(images: Path, pool_size: int) -> str:
    return "\n".join(
        [
            "LOADER = 'thumbor.loaders.file_loader'",
            f"FILE_LOADER_ROOT_PATH = {str(images)!r}",
            # Originals are read from the folder each time (page cache), never copied.
            "STORAGE = 'thumbor.storages.no_storage'",
            "RESULT_STORAGE = None",
            "ALLOW_UNSAFE_URL = True",
            f"ENGINE_THREADPOOL_SIZE = {pool_size}",
            "",
        ]
    )


@contextlib.contextmanager
def run_thumbor(script: Path, images: Path, pool_size: int, work_dir: Path) -> Iterator[Server]:
    """thumbor on a free loopback port, one process, this ENGINE_THREADPOOL_SIZE."""
    config = work_dir / f"thumbor-pool{pool_size}.conf"
    config.write_text(thumbor_config(images, pool_size))
    port = free_port()
    argv = [str(script), "-p", str(port), "-i", HOST, "-c", str(config), "-l", "warning"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("THUMBOR")}
    log = work_dir / f"thumbor-pool{pool_size}.log"
    with _run_server("thumbor", argv, env, "/healthcheck", port, log) as server:
        yield server


@contextlib.contextmanager
def run_ipx(script: Path, images: Path, work_dir: Path) -> Iterator[Server]:
    """`ipx serve --dir images` on a free loopback port, with its defaults."""
    node = shutil.which("node")
    if node is None:
        raise PeerUnavailable("ipx needs Node.js")
    port = free_port()
    argv = [node, str(script), "serve", "--dir", str(images), "--host", HOST, "--port", str(port)]
    # PORT and HOST in the environment would override the flags (listhen reads them).
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("IPX_") and k not in {"PORT", "HOST"}
    }
    with _run_server("ipx", argv, env, "/", port, work_dir / "ipx.log", cwd=IPX_DIR) as server:
        yield server

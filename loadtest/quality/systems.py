"""What every system is asked (a Request) and what it answers (Rendered), and the two
in-process systems: pixgate through its own pipeline, and libvips at its own defaults.

CPU is the process CPU time (user + system, all threads) spent on one render: decode of
the original's bytes (held in memory), resize, encode. Every system is measured around
its render in its own process, one render at a time (the peers in their own modules).
"""

from __future__ import annotations

import os
import resource
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import pyvips

from loadtest.quality.corpus import Photo, Variant

FORMATS = ("jpeg", "webp", "avif")
EXTENSIONS = {"jpeg": "jpg", "webp": "webp", "avif": "avif", "png": "png"}

# An int is an explicit quality; "default" leaves it out, as a URL without one does;
# "auto" asks for pixgate's per-variant quality search.
Quality = int | Literal["default", "auto"]


@dataclass(frozen=True, slots=True)
class Request:
    variant: Variant
    output_format: str  # jpeg, webp, avif, or png for the lossless reference
    quality: Quality

    @property
    def key(self) -> str:
        return f"{self.variant.key}/{self.output_format}/{self.quality}"


@dataclass(frozen=True, slots=True)
class Rendered:
    data: bytes
    cpu_ms: float


class Unsupported(RuntimeError):
    """The system cannot produce this request (a format, or `q:auto` not parsed yet)."""


class Renderer(Protocol):
    @property
    def name(self) -> str:
        """Short key: pixgate, libvips, sharp, sharp-mozjpeg, thumbor."""
        ...

    @property
    def label(self) -> str:
        """For tables."""
        ...

    def render(self, request: Request) -> Rendered: ...

    def versions(self) -> dict[str, Any]: ...


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class _Originals:
    """Each photo's bytes read once, so a render's CPU includes no file read."""

    loaded: dict[str, bytes] = field(default_factory=dict)

    def __call__(self, photo: Photo) -> bytes:
        data = self.loaded.get(photo.name)
        if data is None:
            data = self.loaded[photo.name] = photo.path.read_bytes()
        return data


# --- pixgate ----------------------------------------------------------------------------------


def pixgate_target(request: Request) -> str:
    """The imgproxy-style target pixgate would be sent (the signature is not checked here)."""
    geometry = request.variant.geometry
    options = [f"rs:{'fill' if geometry.cover else 'fit'}:{geometry.width}:{geometry.height}"]
    if request.quality == "auto":
        options.append("q:auto")
    elif request.quality != "default":
        options.append(f"q:{request.quality}")
    extension = EXTENSIONS[request.output_format]
    return f"/_/{'/'.join(options)}/plain/{request.variant.photo.name}@{extension}"


class PixgateRenderer:
    """pixgate's own code path: the target parsed by proxy.urlpath.parse_target, then the
    pipeline's transform (probe, negotiate, plan, render) with the configuration the app
    builds from its settings: what the HTTP handler runs, without HTTP."""

    name = "pixgate"
    label = "pixgate"

    def __init__(self, overrides: Mapping[str, str] | None = None) -> None:
        from config.settings import load_settings
        from proxy.app import pipeline_config
        from proxy.option_parsers import presets_from_setting
        from proxy.render import configure_libvips

        env = {k: v for k, v in os.environ.items() if not k.startswith("PIXGATE_")}
        # Targets are parsed, never verified here: any key satisfies the settings.
        env.update(PIXGATE_KEY="00" * 32, PIXGATE_SALT="00" * 16)
        env.update(overrides or {})
        self.settings = load_settings(env)
        self._config = pipeline_config(self.settings)
        self._presets = presets_from_setting(self.settings.presets_text)
        self._configure = configure_libvips
        self._originals = _Originals()

    def settings_in_force(self) -> dict[str, Any]:
        names = ("quality", "format_quality", "webp_effort", "avif_effort", "vips_threads")
        extra = ("quality_target", "auto_max_encodes")
        return {
            name: getattr(self.settings, name)
            for name in (*names, *extra)
            if hasattr(self.settings, name)
        }

    def supports_auto(self) -> bool:
        from proxy.errors import BadRequest
        from proxy.urlpath import parse_target

        try:
            parse_target("/_/q:auto/plain/probe.jpg", self._presets)
        except BadRequest:
            return False
        return True

    def render(self, request: Request) -> Rendered:
        from proxy.errors import BadRequest
        from proxy.pipeline import transform
        from proxy.urlpath import parse_target

        try:
            parsed = parse_target(pixgate_target(request), self._presets)
        except BadRequest as error:
            raise Unsupported(f"pixgate: {error}") from None
        data = self._originals(request.variant.photo)
        self._configure(concurrency=self.settings.vips_threads)
        started = cpu_seconds()
        result = transform(data, parsed.options, parsed.options.format, "", self._config)
        cpu_ms = (cpu_seconds() - started) * 1000
        return Rendered(result.data, cpu_ms)

    def default_is_auto(self, output_format: str) -> bool:
        """A URL without a quality asks for q:auto in this format (PIXGATE_QUALITY=auto)."""
        settings = self.settings
        return dict(settings.format_quality).get(output_format, settings.quality) is None

    def versions(self) -> dict[str, Any]:
        """What its renders depend on: libvips, the settings, and the code (the git trees of
        the packages that render, or None when any of them has uncommitted changes)."""
        return {
            "libvips": libvips_version(),
            "settings": {k: str(v) for k, v in self.settings_in_force().items()},
            "code": code_version(),
        }


REPO = Path(__file__).resolve().parent.parent.parent
RENDERING_PACKAGES = ("proxy", "config", "signing", "pixgate")


def code_version() -> str | None:
    """The git tree hashes of the packages pixgate renders with, or None when the work tree
    differs from HEAD there (or git is not at hand): then nothing may be reused."""
    try:
        status = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", *RENDERING_PACKAGES],
            capture_output=True,
            text=True,
            check=True,
        )
        if status.stdout.strip():
            return None
        trees = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", *(f"HEAD:{p}" for p in RENDERING_PACKAGES)],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return ",".join(trees.stdout.split())


# --- libvips at its defaults ------------------------------------------------------------------


def libvips_version() -> str:
    return ".".join(str(pyvips.version(i)) for i in range(3))


class LibvipsRenderer:
    """pyvips `thumbnail_buffer` (shrink-on-load, never enlarging, centre crop for cover)
    and a save with no options but metadata stripped, as every server here strips it;
    libvips' own thread count (one per core)."""

    name = "libvips"
    label = "libvips defaults"

    def __init__(self) -> None:
        self._originals = _Originals()

    def render(self, request: Request) -> Rendered:
        if request.quality == "auto":
            raise Unsupported("libvips has no automatic quality")
        geometry = request.variant.geometry
        data = self._originals(request.variant.photo)
        pyvips.concurrency_set(os.cpu_count() or 1)
        options: dict[str, Any] = {"keep": "none"}
        if isinstance(request.quality, int):
            options["Q"] = request.quality
        started = cpu_seconds()
        image = pyvips.Image.thumbnail_buffer(
            data,
            geometry.width,
            height=geometry.height,
            size="down",
            crop="centre" if geometry.cover else "none",
        )
        encoded = image.write_to_buffer(f".{EXTENSIONS[request.output_format]}", **options)
        cpu_ms = (cpu_seconds() - started) * 1000
        return Rendered(bytes(encoded), cpu_ms)

    def versions(self) -> dict[str, Any]:
        return {"libvips": libvips_version()}

"""What the peer benchmark asks for: the plan of a run (`PeersPlan`, from the command
line), the settings it may change, where the images are, and each system's URLs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pixgate_signing import UrlBuilder

from config.settings import variable_value
from loadtest import overrides as set_options
from loadtest.imageset import Source
from loadtest.peer_results import THUMBORS, systems
from loadtest.peer_servers import PEERS_DIR, Transform, ipx_path, pixgate_url, thumbor_path

IMAGES = PEERS_DIR / "images"
COPIES = 400  # hard links per peer source, taken in turn
PIXGATE_URLS = 4000  # cachebusters per transform, taken in turn
SOURCE_CACHE_TTL_S = 3600  # the original stays in pixgate's source cache, as in loadtest.bench
MEMORY_CLIENTS = 8
MEMORY_TARGET_BYTES = 300 * 1000 * 1000
SCALING_WIDTH = 800

# --set names passed as environment to pixgate and the bare loop (libvips', glibc's).
ENVIRONMENT_PREFIXES = ("VIPS_", "MALLOC_")


@dataclass(frozen=True, slots=True)
class PeersPlan:
    """What to measure, and for how long (`python -m loadtest.peers` builds it)."""

    command: str
    log_dir: Path
    settings: Mapping[str, str]  # PIXGATE_* for pixgate (from --set)
    vips_env: Mapping[str, str]  # VIPS_* and MALLOC_* for pixgate and the bare loop
    overrides: tuple[str, ...]  # the names given with --set
    duration: float = 8.0  # measured seconds per system per row
    rounds: int = 2
    warmup: float = 1.0
    concurrency: tuple[int, ...] = (2, 4)
    transforms: tuple[str, ...] = ("T1", "T2", "T3")
    systems: tuple[str, ...] = tuple(system.key for system in systems())
    grid: bool = True
    scaling: bool = True
    memory: bool = True
    cache_hits: bool = True
    scaling_duration: float = 4.0
    memory_duration: float = 8.0
    cache_duration: float = 6.0
    cache_connections: int = 16


def parse_overrides(pairs: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """--set values: PIXGATE_* settings for pixgate; VIPS_* and MALLOC_* (libvips' and
    glibc's environment variables) for pixgate and the bare loop alike."""
    return set_options.parse_overrides(pairs, environment_prefixes=ENVIRONMENT_PREFIXES)


def encoder_efforts(overrides: Mapping[str, str]) -> dict[str, int]:
    return {
        "webp": variable_value("PIXGATE_WEBP_EFFORT", overrides),
        "avif": variable_value("PIXGATE_AVIF_EFFORT", overrides),
    }


def write_urls(folder: Path, name: str, urls: Sequence[str]) -> Path:
    path = folder / f"urls-{name}.txt"
    path.write_text("\n".join(urls) + "\n")
    return path


def pixgate_urls(builder: UrlBuilder, transform: Transform) -> list[str]:
    return [pixgate_url(builder, transform, i) for i in range(PIXGATE_URLS)]


def peer_path(key: str, transform: Transform, image: str, *, lossless: bool = False) -> str:
    path = thumbor_path if key in THUMBORS else ipx_path
    return path(transform, image, lossless=lossless)


def scaling_transform(source: Source) -> Transform:
    return Transform(
        f"{source.megapixels:.0f}MP", source, SCALING_WIDTH, 0, False, "webp", 80, flatten=False
    )

"""The real-photo corpus (loadtest/corpus/photos) and the variants asked of every system.

A variant is one photo at one geometry: a direct-link size (fit inside a 150, 500 or
1200 px box, as `_s`, `_m`, `_l` serve) or a 300x300 cover crop. A fit that would not
shrink the photo is left out: the benchmark measures resized variants, never enlarged
or merely re-encoded ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyvips

PHOTOS_DIR = Path(__file__).resolve().parent.parent / "corpus" / "photos"
FULL_SCALE_SIDE = 256


@dataclass(frozen=True, slots=True)
class Photo:
    name: str  # file name in the corpus folder
    path: Path
    width: int
    height: int
    sha256: str

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6


@dataclass(frozen=True, slots=True)
class Geometry:
    key: str  # fit150, fit500, fit1200, cover300
    width: int
    height: int
    cover: bool  # fill the box and centre-crop the overflow; else fit inside it

    @property
    def full_scale(self) -> bool:
        """SSIMULACRA2 looks at 6 scales (1:1 to 1:32) and stops at one whose side is under
        8 px; with fewer scales its weights no longer line up (upstream's scoring does the
        same), so a 150 px thumbnail's score is on another scale. True where the box's short
        side gives all 6 (256 px; every photo here keeps at least 290 px at fit500)."""
        return min(self.width, self.height) >= FULL_SCALE_SIDE

    def output_size(self, photo: Photo) -> tuple[int, int]:
        """The size every system should produce (up to rounding of the short side)."""
        if self.cover:
            return self.width, self.height
        scale = min(self.width / photo.width, self.height / photo.height)
        return round(photo.width * scale), round(photo.height * scale)

    def applies_to(self, photo: Photo) -> bool:
        """Never enlarging: a fit box at least as big as the photo is no resize."""
        if self.cover:
            return photo.width > self.width and photo.height > self.height
        return photo.width > self.width or photo.height > self.height


GEOMETRIES = (
    Geometry("fit150", 150, 150, cover=False),
    Geometry("fit500", 500, 500, cover=False),
    Geometry("fit1200", 1200, 1200, cover=False),
    Geometry("cover300", 300, 300, cover=True),
)


@dataclass(frozen=True, slots=True)
class Variant:
    photo: Photo
    geometry: Geometry

    @property
    def key(self) -> str:
        return f"{self.photo.name}/{self.geometry.key}"


class CorpusError(RuntimeError):
    """A photo is missing or its bytes differ from SHA256SUMS."""


def checksums(folder: Path = PHOTOS_DIR) -> dict[str, str]:
    """SHA256SUMS as {file name: hex digest}."""
    sums: dict[str, str] = {}
    for line in (folder / "SHA256SUMS").read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            sums[name.lstrip("*")] = digest
    return sums


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_photos(names: Iterable[str] | None = None, folder: Path = PHOTOS_DIR) -> list[Photo]:
    """The corpus photos (all, or those named), each checked against SHA256SUMS."""
    sums = checksums(folder)
    wanted = sorted(sums) if names is None else list(names)
    photos = []
    for name in wanted:
        if name not in sums:
            raise CorpusError(f"{name}: not in {folder / 'SHA256SUMS'}")
        path = folder / name
        if not path.is_file():
            raise CorpusError(f"{path}: missing")
        digest = file_sha256(path)
        if digest != sums[name]:
            raise CorpusError(f"{path}: sha256 {digest} differs from SHA256SUMS")
        header = pyvips.Image.new_from_file(str(path))
        photos.append(Photo(name, path, header.width, header.height, digest))
    return photos


def variants(photos: Sequence[Photo], geometries: Sequence[Geometry]) -> list[Variant]:
    return [
        Variant(photo, geometry)
        for photo in photos
        for geometry in geometries
        if geometry.applies_to(photo)
    ]


def geometries_named(keys: Iterable[str]) -> tuple[Geometry, ...]:
    by_key = {g.key: g for g in GEOMETRIES}
    keys = list(keys)
    unknown = [k for k in keys if k not in by_key]
    if unknown:
        raise ValueError(f"unknown geometry {unknown[0]!r}; choose from {', '.join(by_key)}")
    return tuple(by_key[k] for k in keys)

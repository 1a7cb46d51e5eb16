"""The images the peer benchmark serves: generated once, kept under var/peers/images.

Every system reads the same files from one folder (pixgate through `file://` storage,
thumbor through its file loader, ipx through its `--dir`). Photo-like JPEGs (the test
landscape plus detail and grain that survive the downscale, q90 as cameras write them) in
4:3, so every size becomes the same 800x600 output; and an RGBA PNG cut-out (a soft-edged
ellipse over the landscape) for alpha flattening.

`copies/` holds hard links of the peers' sources under distinct names: a request for
`copies/photo-4000x3000-c17.jpg` is a new URL for the same bytes, so nothing keyed by the
URL can answer it from a cache (the peers have none configured; this makes it certain).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyvips

from loadtest.harness.imagegen import landscape

# Bumped when the recipe changes, so old files are not mistaken for the new ones.
RECIPE = "v1"
JPEG_QUALITY = 90
COPIES_FOLDER = "copies"


@dataclass(frozen=True, slots=True)
class Source:
    """One generated original."""

    name: str  # file name in the image set
    width: int
    height: int
    alpha: bool = False

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6

    @property
    def media_type(self) -> str:
        return "image/png" if self.alpha else "image/jpeg"

    def copy_name(self, index: int) -> str:
        """Path (relative to the image set) of the `index`th hard link of this source."""
        stem, _, ext = self.name.rpartition(".")
        return f"{COPIES_FOLDER}/{stem}-c{index}.{ext}"


def photo_source(width: int, height: int) -> Source:
    return Source(f"photo-{RECIPE}-{width}x{height}.jpg", width, height)


PHOTO = photo_source(4000, 3000)  # T1 and T2
CUTOUT = Source(f"cutout-{RECIPE}-1200x800.png", 1200, 800, alpha=True)  # T3
# 1, 6, 24 and 50 megapixels in 4:3 (the last under pixgate's default 50 MP limit).
SCALING = (
    photo_source(1152, 864),
    photo_source(2832, 2124),
    photo_source(5664, 4248),
    photo_source(8160, 6120),
)


def photo(width: int, height: int, *, grain_sigma: float = 3.0) -> Any:
    """The benchmarks' photo-like image: the test landscape, detail that survives the
    downscale, and sensor-like grain (loadtest.bench, upload_bench and the peers use it)."""
    detail = pyvips.Image.gaussnoise(width // 4, height // 4, sigma=8, mean=0, seed=5).resize(
        4, kernel="cubic"
    )
    grain = pyvips.Image.gaussnoise(width, height, sigma=grain_sigma, mean=0, seed=9)
    image = (landscape(width, height) + detail + grain).cast("uchar")
    return image.copy(interpretation="srgb")


def cutout(width: int, height: int) -> Any:
    """The photo inside an ellipse whose edge fades to transparent over a tenth of it."""
    xy = pyvips.Image.xyz(width, height)
    centre_x, centre_y = width / 2, height / 2
    distance = (
        ((xy[0] - centre_x) / (width * 0.47)) ** 2 + ((xy[1] - centre_y) / (height * 0.45)) ** 2
    ) ** 0.5
    alpha = ((1.0 - distance) * 10 * 255).clamp(min=0, max=255).cast("uchar")
    return photo(width, height).bandjoin(alpha).copy(interpretation="srgb")


def _encode(source: Source) -> bytes:
    if source.alpha:
        return bytes(cutout(source.width, source.height).pngsave_buffer())
    image = photo(source.width, source.height)
    return bytes(image.jpegsave_buffer(Q=JPEG_QUALITY, keep="none"))


def ensure(folder: Path, sources: tuple[Source, ...], copies: int = 0) -> dict[str, int]:
    """Write the missing `sources` into `folder` (and `copies` hard links of each); return
    each source's size in bytes. Generation is deterministic, so kept files are reused."""
    folder.mkdir(parents=True, exist_ok=True)
    sizes = {}
    for source in sources:
        path = folder / source.name
        if not path.exists():
            partial = path.with_name(path.name + ".partial")
            partial.write_bytes(_encode(source))
            partial.replace(path)  # a run stopped half-way leaves no truncated source
        sizes[source.name] = path.stat().st_size
        if copies:
            (folder / COPIES_FOLDER).mkdir(exist_ok=True)
        inode = path.stat().st_ino
        for index in range(copies):
            link = folder / source.copy_name(index)
            if link.exists() and link.stat().st_ino != inode:
                link.unlink()  # a link to an older file of the same name
            if not link.exists():
                os.link(path, link)
    return sizes

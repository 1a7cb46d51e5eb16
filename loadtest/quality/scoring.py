"""SSIMULACRA2 scores of rendered images against their system's lossless render, cached on
disk by the bytes' hashes and computed in worker processes (one per core).

Images are decoded with libvips to 8-bit sRGB (alpha, if any, flattened on white); the
score is loadtest.quality.ssimulacra2's port of the PyPI `ssimulacra2` reference.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyvips

from loadtest.quality import ssimulacra2

# Part of every cache key: a change to the scorer makes old scores unreachable.
SCORER = "ssimulacra2-pypi-0.3.0-port1"


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode_rgb(data: bytes) -> npt.NDArray[np.uint8]:
    """Any image libvips reads, as an (height, width, 3) uint8 sRGB array."""
    image = pyvips.Image.new_from_buffer(data, "")
    if image.hasalpha():
        image = image.flatten(background=[255, 255, 255])
    if image.interpretation not in ("srgb", "rgb") or image.bands != 3:
        image = image.colourspace("srgb")
    if image.format != "uchar":
        image = image.cast("uchar")
    buffer = image.write_to_memory()
    return np.ndarray(
        buffer=buffer, dtype=np.uint8, shape=(image.height, image.width, image.bands)
    ).copy()


def score_against(reference: bytes, distorted: Sequence[bytes]) -> list[float | None]:
    """Scores of each distorted image against one reference; None where sizes differ."""
    ref = ssimulacra2.reference(decode_rgb(reference))
    scores: list[float | None] = []
    for data in distorted:
        try:
            scores.append(ssimulacra2.score(ref, decode_rgb(data)))
        except (ValueError, pyvips.Error):
            scores.append(None)  # another size, or bytes libvips cannot read
    return scores


def reference_score(reference: bytes, distorted: bytes) -> float:
    """The PyPI `ssimulacra2` package's score of the same pair (both handed to it as PNG,
    decoded as above), to check the port against."""
    import io

    from PIL import Image
    from ssimulacra2.ssimulacra2 import compute_ssimulacra2

    files = []
    for data in (reference, distorted):
        buffer = io.BytesIO()
        Image.fromarray(decode_rgb(data)).save(buffer, format="PNG")
        buffer.seek(0)
        files.append(buffer)
    return float(compute_ssimulacra2(files[0], files[1]))


@dataclass(frozen=True, slots=True)
class Job:
    """Distorted images (by hash) to score against one reference (by hash)."""

    reference: str
    distorted: tuple[str, ...]


class ScoreCache:
    """{(reference hash, distorted hash): score} in SQLite; only the parent writes."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path)
        self._db.execute("CREATE TABLE IF NOT EXISTS scores (key TEXT PRIMARY KEY, score REAL)")

    @staticmethod
    def _key(reference: str, distorted: str) -> str:
        return f"{SCORER}:{reference}:{distorted}"

    def get(self, reference: str, distorted: str) -> float | None:
        row = self._db.execute(
            "SELECT score FROM scores WHERE key = ?", (self._key(reference, distorted),)
        ).fetchone()
        return None if row is None else float(row[0])

    def put(self, reference: str, distorted: str, score: float) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO scores VALUES (?, ?)",
            (self._key(reference, distorted), score),
        )

    def commit(self) -> None:
        self._db.commit()

    def close(self) -> None:
        self._db.commit()
        self._db.close()


def _score_job(blob_dir: str, job: Job) -> list[float | None]:
    folder = Path(blob_dir)
    reference = (folder / job.reference).read_bytes()
    return score_against(reference, [(folder / d).read_bytes() for d in job.distorted])


def score_all(
    jobs: Sequence[Job],
    blob_dir: Path,
    cache: ScoreCache,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[tuple[str, str], float | None]:
    """Every (reference, distorted) score, from the cache where it has them."""
    results: dict[tuple[str, str], float | None] = {}
    todo: list[Job] = []
    for job in jobs:
        missing = []
        for distorted in job.distorted:
            cached = cache.get(job.reference, distorted)
            if cached is None:
                missing.append(distorted)
            else:
                results[job.reference, distorted] = cached
        if missing:
            todo.append(Job(job.reference, tuple(dict.fromkeys(missing))))
    if not todo:
        return results
    count = workers or os.cpu_count() or 1
    done = 0
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=count, mp_context=context) as pool:
        futures = [(job, pool.submit(_score_job, str(blob_dir), job)) for job in todo]
        for job, future in futures:
            for distorted, value in zip(job.distorted, future.result(), strict=True):
                results[job.reference, distorted] = value
                if value is not None:
                    cache.put(job.reference, distorted, value)
            done += 1
            cache.commit()
            if progress is not None:
                progress(done, len(todo))
    return results

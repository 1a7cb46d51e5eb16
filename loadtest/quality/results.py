"""The benchmark's records: one Sample per scored render, and the run's JSON document."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Sample:
    system: str
    photo: str
    geometry: str
    output_format: str
    quality: str  # "default", "auto", or an explicit quality such as "60"
    size_bytes: int
    cpu_ms: float
    score: float | None  # None: not comparable with the reference (size differs)
    cached: bool = False  # the render (bytes and CPU) was reused from an earlier run

    @property
    def variant(self) -> str:
        return f"{self.photo}/{self.geometry}"

    @property
    def explicit_quality(self) -> int | None:
        return int(self.quality) if self.quality.isdigit() else None


@dataclass(frozen=True, slots=True)
class Unavailable:
    system: str
    output_format: str
    quality: str
    reason: str


@dataclass(frozen=True, slots=True)
class Run:
    samples: tuple[Sample, ...]
    unavailable: tuple[Unavailable, ...]
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {
                "meta": self.meta,
                "unavailable": [asdict(u) for u in self.unavailable],
                "samples": [asdict(s) for s in self.samples],
            },
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> Run:
        document = json.loads(text)
        return cls(
            samples=tuple(Sample(**s) for s in document["samples"]),
            unavailable=tuple(Unavailable(**u) for u in document["unavailable"]),
            meta=document["meta"],
        )

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json())

    def systems(self) -> list[str]:
        return list(dict.fromkeys(s.system for s in self.samples))

    def formats(self) -> list[str]:
        return list(dict.fromkeys(s.output_format for s in self.samples))


def select(
    samples: Sequence[Sample],
    *,
    system: str | None = None,
    output_format: str | None = None,
    quality: str | None = None,
) -> list[Sample]:
    return [
        s
        for s in samples
        if (system is None or s.system == system)
        and (output_format is None or s.output_format == output_format)
        and (quality is None or s.quality == quality)
    ]

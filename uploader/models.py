"""The values the uploader stores and hands around."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class ImageRecord:
    """One uploaded image: one metadata row. The original lives in storage at
    `storage_key`, a pure function of `image_id` (``originals/{image_id}``)."""

    image_id: str
    owner: str | None
    title: str
    description: str
    width: int
    height: int
    format: str  # jpeg, png, gif, webp, avif, heif
    size_bytes: int
    sha256: str  # hex digest of the original's bytes
    storage_key: str
    processing_status: str  # "completed": variants are rendered lazily by the proxy
    exif: dict[str, Any] = field(default_factory=dict)  # decoded, JSON-serialisable values
    uploaded_at: datetime | None = None  # timezone-aware UTC; set by the repository
    deleted_at: datetime | None = None
    # What a page paints before the first image byte (uploader.placeholder); None on rows
    # from before they were computed, until `pixgate backfill-placeholders` fills them.
    thumbhash: str | None = None  # standard base64 of the ThumbHash bytes
    dominant_color: str | None = None  # "#rrggbb"
    frames: int = 1  # frames of an animation (1: a still)
    duration_ms: int = 0  # one pass of an animation, from its frame delays
    loop: int = 0  # times an animation plays; 0 forever

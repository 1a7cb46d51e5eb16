"""What every metadata backend shares: the errors it raises, the checks it makes on a record
before writing it, and the shape of a migration.

The backends (`uploader.db.postgres`, `uploader.db.sqlite`) import from here, and
`uploader.repository` re-exports the errors, so neither imports the other.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from proxy.errors import StartupError
from uploader.models import ImageRecord

__all__ = [
    "COLUMNS",
    "COLUMN_LIST",
    "DatabaseOpenError",
    "DatabaseStartupError",
    "DuplicateImage",
    "Migration",
    "RepositoryError",
    "RepositoryUnavailable",
    "animation_fields",
    "exif_to_json",
    "record_from_row",
    "require_aware",
    "require_limit",
    "startup_error",
    "validate_placeholder",
    "validate_record",
]

# The images table's columns, in the order every backend selects them: ImageRecord's fields.
COLUMNS: tuple[str, ...] = tuple(field.name for field in fields(ImageRecord))
COLUMN_LIST = ", ".join(COLUMNS)

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_COLOR_HEX = re.compile(r"#[0-9a-f]{6}")
# Standard base64 of 5 to 40 bytes: a ThumbHash is at most 25 (the columns check the same).
_THUMBHASH_BASE64 = re.compile(r"[A-Za-z0-9+/]{8,56}={0,2}")
# An escaped NUL in JSON text: \u0000 after an even number of backslashes.
_JSON_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


class RepositoryError(Exception):
    """The metadata store failed or refused a write. Messages never contain a URL or password."""


class RepositoryUnavailable(RepositoryError):
    """The store cannot be reached, is locked or too slow, or has no schema yet (HTTP 503)."""


class DatabaseStartupError(RepositoryError, StartupError):
    """Opening or migrating the database PIXGATE_DATABASE_URL names failed. The message
    names the variable, the file or the database, host:port and user, and the reason, never
    a password, so `pixgate serve` and `pixgate migrate` print it as it is."""

    def __init__(self, database: str, reason: str) -> None:
        super().__init__(f"PIXGATE_DATABASE_URL: {database}: {reason}")


class DatabaseOpenError(DatabaseStartupError, RepositoryUnavailable):
    """The database cannot be reached or opened: a folder that cannot be made, a host that
    does not answer, a refused login (retrying may help: it is RepositoryUnavailable)."""


def startup_error(error: RepositoryError, database: str) -> DatabaseStartupError:
    """`error`, met while opening or migrating `database`, as one that names them."""
    if isinstance(error, DatabaseStartupError):
        return error
    if isinstance(error, RepositoryUnavailable):
        return DatabaseOpenError(database, str(error))
    return DatabaseStartupError(database, str(error))


class DuplicateImage(RepositoryError):
    """The owner already has a live image with these bytes; `existing` is that image."""

    def __init__(self, existing: ImageRecord) -> None:
        super().__init__(f"duplicate of image {existing.image_id}")
        self.existing = existing


@dataclass(frozen=True, slots=True)
class Migration:
    """One versioned schema change: `version` is the file's stem (``0001_create_images``)."""

    version: str
    sql: str


def validate_record(record: ImageRecord) -> None:
    """Raise ValueError for what the two stores would treat differently or dedup wrongly."""
    if record.owner == "":
        # The dedup index folds NULL into '', so '' would share the anonymous owner's images.
        raise ValueError("owner must be None or a non-empty string")
    if not _SHA256_HEX.fullmatch(record.sha256):
        raise ValueError("sha256 must be 64 lowercase hex digits")
    validate_placeholder(record.thumbhash, record.dominant_color)
    for name in ("image_id", "owner", "title", "description", "format", "storage_key"):
        value = getattr(record, name)
        if value is not None and "\x00" in value:
            raise ValueError(f"{name} contains a NUL character")  # PostgreSQL text cannot


def validate_placeholder(thumbhash: str | None, dominant_color: str | None) -> None:
    """Raise ValueError unless both are None, or a base64 ThumbHash and a ``#rrggbb``."""
    if (thumbhash is None) != (dominant_color is None):
        raise ValueError("thumbhash and dominant_color are stored together")
    if thumbhash is not None and not _THUMBHASH_BASE64.fullmatch(thumbhash):
        raise ValueError("thumbhash must be standard base64 of a ThumbHash")
    if dominant_color is not None and not _COLOR_HEX.fullmatch(dominant_color):
        raise ValueError("dominant_color must be #rrggbb in lowercase hex")


def animation_fields(record: ImageRecord) -> tuple[int, int, int]:
    """The animation columns, in COLUMNS order, after deleted_at."""
    if record.frames < 1 or record.duration_ms < 0 or record.loop < 0:
        raise ValueError("frames must be positive, duration_ms and loop not negative")
    return record.frames, record.duration_ms, record.loop


def exif_to_json(exif: dict[str, Any]) -> str:
    """Compact JSON text of `exif`; ValueError if it holds what jsonb cannot store."""
    try:
        text = json.dumps(exif, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"exif is not JSON-serialisable: {exc}") from None
    if _JSON_NUL.search(text):
        raise ValueError("exif contains a NUL character (strip it when decoding EXIF)")
    return text


def require_aware(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("timestamps must be timezone-aware")
    return at


def require_limit(limit: int) -> int:
    if limit < 0:
        raise ValueError("limit must not be negative")
    return limit


def record_from_row(
    row: Sequence[Any],
    *,
    exif: Callable[[Any], dict[str, Any]],
    timestamp: Callable[[Any], datetime],
) -> ImageRecord:
    """A selected row (columns in `COLUMNS` order) as a record; `exif` and `timestamp`
    decode what the backend stores (jsonb or JSON text, timestamptz or ISO text)."""
    values = dict(zip(COLUMNS, row, strict=True))
    deleted_at = values["deleted_at"]
    values["exif"] = exif(values["exif"])
    values["uploaded_at"] = timestamp(values["uploaded_at"])
    values["deleted_at"] = None if deleted_at is None else timestamp(deleted_at)
    return ImageRecord(**values)

"""Static files of the web pages, served under content-hashed names.

Names are ``/static/{stem}.{hash}.{ext}`` with the hash taken from the bytes at start-up,
so a file can be cached for a year: a changed file gets a new name, and the pages link it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

STATIC_PREFIX = "/static/"
HASH_LENGTH = 12
CONTENT_TYPES: Mapping[str, str] = {
    "css": "text/css",
    "js": "text/javascript",
    "svg": "image/svg+xml",
}


@dataclass(frozen=True, slots=True)
class StaticFile:
    name: str  # the hashed name, e.g. app.3f2a9c1d0b7e.css
    body: bytes
    content_type: str


def hashed_name(name: str, body: bytes) -> str:
    """``app.css`` → ``app.{first 12 hex digits of sha256(body)}.css``."""
    stem, _, extension = name.rpartition(".")
    digest = hashlib.sha256(body).hexdigest()[:HASH_LENGTH]
    return f"{stem}.{digest}.{extension}"


class StaticFiles:
    """Every file of `uploader/web/static`, in memory, by hashed name."""

    def __init__(self, files: Mapping[str, bytes]) -> None:
        self._by_hashed: dict[str, StaticFile] = {}
        self._urls: dict[str, str] = {}
        for name, body in files.items():
            extension = name.rpartition(".")[2]
            hashed = hashed_name(name, body)
            self._by_hashed[hashed] = StaticFile(hashed, body, CONTENT_TYPES[extension])
            self._urls[name] = STATIC_PREFIX + hashed

    @classmethod
    def load(cls) -> StaticFiles:
        folder = resources.files("uploader.web").joinpath("static")
        return cls(
            {
                entry.name: entry.read_bytes()
                for entry in folder.iterdir()
                if entry.name.rpartition(".")[2] in CONTENT_TYPES
            }
        )

    def url(self, name: str) -> str:
        """The path of `name` (``app.css``) with its hash, as pages link it."""
        return self._urls[name]

    def get(self, hashed: str) -> StaticFile | None:
        return self._by_hashed.get(hashed)

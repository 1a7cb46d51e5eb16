"""Storage URLs (`file:///abs/dir`, `s3://bucket[/prefix]`): the form of PIXGATE_STORAGE_URL
and PIXGATE_ALLOWED_SOURCES, parsed into a canonical `SourceLocation`.

Pure, no I/O. The key and bucket checks here are the ones the proxy applies to the keys of
URL sources too, so a root and the keys below it obey the same rules.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

# Lone surrogates are refused too: they cannot be encoded as a file name or S3 key.
_BAD_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f\\\ud800-\udfff]")
_BUCKET = re.compile(r"(?!\d+\.\d+\.\d+\.\d+$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


@dataclass(frozen=True, slots=True)
class SourceLocation:
    """A validated, canonical place of an original.

    `scheme` is the backend ("file" or "s3"). For "file", `bucket` is empty and `key` is an
    absolute, normalised filesystem path. For "s3", `key` is the object key (no leading '/').
    """

    scheme: str
    bucket: str
    key: str

    @property
    def url(self) -> str:
        if self.scheme == "file":
            return f"file://{self.key}"
        return f"{self.scheme}://{self.bucket}/{self.key}"


def key_problem(key: str) -> str | None:
    """Why `key` is not a safe relative key (`a/b/c.jpg`), or None when it is."""
    if not key:
        return "is empty"
    if key.startswith("/"):
        return "must be relative"
    if _BAD_CHARACTER.search(key):
        return "contains a backslash or a control character"
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            return "contains an empty, '.' or '..' segment"
    return None


def bucket_problem(bucket: str) -> str | None:
    """Why `bucket` is not a valid S3 bucket name, or None when it is."""
    if not _BUCKET.fullmatch(bucket) or ".." in bucket:
        return f"invalid S3 bucket name {bucket!r}"
    return None


@functools.lru_cache(maxsize=64)
def parse_storage_url(url: str) -> SourceLocation:
    """The root `SourceLocation` named by a storage URL (`file:///abs/dir`, `s3://bucket`,
    `s3://bucket/prefix`); a trailing '/' is dropped, nothing is percent-decoded.

    Raises ValueError saying what is wrong (the caller adds the URL and variable name).
    """
    scheme, separator, rest = url.partition("://")
    if scheme == "file" and separator:
        if not rest.startswith("/"):
            raise ValueError("a file URL needs an absolute path: file:///absolute/dir")
        path = rest.rstrip("/")
        if "//" in path:
            raise ValueError("file path contains '//'")
        if path and (problem := key_problem(path[1:])):
            raise ValueError(f"file path {problem}")
        return SourceLocation("file", "", path or "/")
    if scheme == "s3" and separator:
        bucket, _, prefix = rest.partition("/")
        if problem := bucket_problem(bucket):
            raise ValueError(problem)
        prefix = prefix.rstrip("/")
        if prefix and (problem := key_problem(prefix)):
            raise ValueError(f"S3 prefix {problem}")
        return SourceLocation("s3", bucket, prefix)
    raise ValueError("expected file:///absolute/dir, s3://bucket or s3://bucket/prefix")

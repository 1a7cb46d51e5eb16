"""Where a URL's source lives: decoded source text to a checked `SourceLocation`.

Pure, no I/O. Accepted sources:

- a key relative to the storage (`originals/cat.jpg`);
- `local:///path`, a file under the local storage root (only with `file://` storage);
- `s3://bucket/key`, when it falls under one of the allowed prefixes.

Every key is checked segment by segment (no '.', '..', empty segments, backslashes or
control characters), so nothing can name a place outside the storage root or the allowed
prefixes. Symlinks are not seen here: the file backend must not follow them out of root.
"""

from __future__ import annotations

import posixpath
import re

from config.storage_url import SourceLocation, bucket_problem, key_problem, parse_storage_url
from proxy.errors import BadRequest, Forbidden

MAX_S3_KEY_BYTES = 1024

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")


def _under(location: SourceLocation, prefix: SourceLocation) -> bool:
    """True when `location` is strictly below `prefix`, on a '/' boundary."""
    return location.url.startswith(prefix.url.rstrip("/") + "/") and location.url != prefix.url


def _invalid(source: str, problem: str) -> BadRequest:
    shown = repr(source if len(source) <= 80 else source[:80] + "...")
    return BadRequest(f"source {shown}: {problem}", code="invalid_source")


def _below(root: SourceLocation, key: str, source: str) -> SourceLocation:
    """`key` (a relative key) resolved under the storage `root`."""
    if problem := key_problem(key):
        raise _invalid(source, f"key {problem}")
    if root.scheme == "file":
        path = posixpath.join(root.key, key)
        # Belt and braces: the segment check above already rules this out.
        if posixpath.normpath(path) != path:
            raise _invalid(source, "key is not normalised")
        return SourceLocation("file", "", path)
    full_key = f"{root.key}/{key}" if root.key else key
    if len(full_key.encode()) > MAX_S3_KEY_BYTES:
        raise _invalid(source, f"S3 key is longer than {MAX_S3_KEY_BYTES} bytes")
    return SourceLocation("s3", root.bucket, full_key)


def _locate(source: str, root: SourceLocation) -> SourceLocation:
    match = _SCHEME.match(source)
    if match is None:
        return _below(root, source, source)
    scheme, rest = match.group(1).lower(), source[match.end() :]
    if scheme == "local":
        if root.scheme != "file":
            raise Forbidden("local:// sources need file storage", code="source_not_allowed")
        if not rest.startswith("///"):
            raise _invalid(source, "expected local:///path")
        return _below(root, rest[3:], source)
    if scheme == "s3":
        bucket, slash, key = rest.removeprefix("//").partition("/")
        if not rest.startswith("//") or not slash:
            raise _invalid(source, "expected s3://bucket/key")
        if problem := bucket_problem(bucket):
            raise _invalid(source, problem)
        return _below(SourceLocation("s3", bucket, ""), key, source)
    raise BadRequest(
        f"unsupported source scheme {scheme!r}: use a storage key, local:/// or s3://",
        code="unsupported_source",
    )


def resolve_source(
    source: str, storage_url: str, allowed_prefixes: tuple[str, ...]
) -> SourceLocation:
    """Resolve a decoded URL source against the storage and check it is allowed.

    `storage_url` and `allowed_prefixes` are validated configuration (see
    `parse_storage_url`); an empty `allowed_prefixes` allows the storage only. Raises
    BadRequest (``invalid_source``, ``unsupported_source``) or Forbidden
    (``source_not_allowed``).
    """
    root = parse_storage_url(storage_url)
    location = _locate(source, root)
    prefixes = tuple(map(parse_storage_url, allowed_prefixes)) or (root,)
    if not any(_under(location, prefix) for prefix in prefixes):
        raise Forbidden("source is outside the allowed locations", code="source_not_allowed")
    return location

"""Decoded sources resolved against the storage: what resolves, what is refused, and why."""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from typing import TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.storage_url import parse_storage_url
from proxy.errors import BadRequest, Forbidden, PixgateError
from proxy.sources import resolve_source
from proxy.storage.base import SourceLocation
from proxy.urlpath import parse_target

T = TypeVar("T")
FILE = "file:///srv/img"
S3 = "s3://bucket/pre"


def file_at(path: str) -> SourceLocation:
    return SourceLocation("file", "", path)


def s3_at(bucket: str, key: str) -> SourceLocation:
    return SourceLocation("s3", bucket, key)


# (id, source, storage_url, allowed_prefixes, location)
RESOLVED = [
    ("file key", "originals/cat.jpg", FILE, (), file_at("/srv/img/originals/cat.jpg")),
    ("file key, root /", "originals/cat.jpg", "file:///", (), file_at("/originals/cat.jpg")),
    ("file key, trailing /", "cat.jpg", "file:///srv/img/", (), file_at("/srv/img/cat.jpg")),
    ("s3 key", "originals/cat.jpg", "s3://bucket", (), s3_at("bucket", "originals/cat.jpg")),
    ("s3 key, bucket /", "cat.jpg", "s3://bucket/", (), s3_at("bucket", "cat.jpg")),
    ("s3 key, prefix", "originals/cat.jpg", S3, (), s3_at("bucket", "pre/originals/cat.jpg")),
    ("s3 key, prefix /", "cat.jpg", "s3://bucket/a/b/", (), s3_at("bucket", "a/b/cat.jpg")),
    ("local", "local:///originals/cat.jpg", FILE, (), file_at("/srv/img/originals/cat.jpg")),
    ("LOCAL", "LOCAL:///cat.jpg", FILE, (), file_at("/srv/img/cat.jpg")),
    ("s3 in storage", "s3://bucket/pre/x.jpg", S3, (), s3_at("bucket", "pre/x.jpg")),
    ("s3 allowed", "s3://other/k.jpg", FILE, ("s3://other",), s3_at("other", "k.jpg")),
    ("s3 allowed prefix", "s3://o.b/p/k", FILE, ("s3://o.b/p/",), s3_at("o.b", "p/k")),
    ("S3 scheme", "S3://other/k", FILE, ("s3://other",), s3_at("other", "k")),
    ("file allowed sub-dir", "public/x", FILE, ("file:///srv/img/public",), file_at(
        "/srv/img/public/x")),
    ("storage and s3 allowed", "x", FILE, ("s3://other", FILE), file_at("/srv/img/x")),
    ("literal %2e%2e", "%2e%2e/x", FILE, (), file_at("/srv/img/%2e%2e/x")),
    ("dots in names", ".../.hidden/a..b", FILE, (), file_at("/srv/img/.../.hidden/a..b")),
    ("unicode", "café/ü.png", FILE, (), file_at("/srv/img/café/ü.png")),
    ("spaces", "my cat.jpg", S3, (), s3_at("bucket", "pre/my cat.jpg")),
    ("colon after a slash", "a/b:c.jpg", FILE, (), file_at("/srv/img/a/b:c.jpg")),
    ("digit before colon", "1:2.jpg", FILE, (), file_at("/srv/img/1:2.jpg")),
]  # fmt: skip


@pytest.mark.parametrize(
    ("source", "storage_url", "allowed", "location"),
    [row[1:] for row in RESOLVED],
    ids=[row[0] for row in RESOLVED],
)
def test_resolved(
    source: str, storage_url: str, allowed: tuple[str, ...], location: SourceLocation
) -> None:
    assert resolve_source(source, storage_url, allowed) == location


# (id, source, storage_url, allowed_prefixes)
NOT_ALLOWED = [
    ("local on s3 storage", "local:///x.jpg", S3, ()),
    ("local traversal on s3 storage", "local:///../x", S3, ()),
    ("other bucket", "s3://other/k", S3, ()),
    ("s3 on file storage", "s3://bucket/k", FILE, ()),
    ("outside s3 prefix", "s3://bucket/private/x", S3, ()),
    ("sibling prefix", "s3://bucket/prefix/x", S3, ()),
    ("prefix boundary", "s3://bucket/public/x", FILE, ("s3://bucket/pub",)),
    ("the prefix itself", "s3://bucket/pub", FILE, ("s3://bucket/pub",)),
    ("storage not allowed", "private/x", FILE, ("file:///srv/img/public",)),
    ("local not allowed", "local:///private/x", FILE, ("file:///srv/img/public",)),
    ("storage sibling dir", "x", "file:///srv/img2", (FILE,)),
]


@pytest.mark.parametrize(
    ("source", "storage_url", "allowed"),
    [row[1:] for row in NOT_ALLOWED],
    ids=[row[0] for row in NOT_ALLOWED],
)
def test_not_allowed(source: str, storage_url: str, allowed: tuple[str, ...]) -> None:
    with pytest.raises(Forbidden) as caught:
        resolve_source(source, storage_url, allowed)
    assert (caught.value.code, caught.value.status) == ("source_not_allowed", 403)


UNSUPPORTED = [
    "http://example.com/images/curiosity.jpg",
    "https://example.com/x.jpg",
    "HTTP://example.com/x.jpg",
    "file:///etc/passwd",
    "file:///srv/img/x.jpg",
    "ftp://h/x",
    "gs://bucket/x",
    "data:image/png;base64,AAAA",
    "javascript:alert(1)",
    "c:\\windows\\x.jpg",
    "a:b.jpg",
]


@pytest.mark.parametrize("source", UNSUPPORTED)
@pytest.mark.parametrize("storage_url", [FILE, S3])
def test_unsupported_schemes(source: str, storage_url: str) -> None:
    with pytest.raises(BadRequest) as caught:
        resolve_source(source, storage_url, ())
    assert caught.value.code == "unsupported_source"


# (id, source, words of the message)
INVALID = [
    ("empty", "", "key is empty"),
    ("local traversal", "local:///../../etc/passwd", "'..' segment"),
    ("parent", "../x", "'..' segment"),
    ("parent inside", "a/../../x", "'..' segment"),
    ("harmless parent", "a/../b", "'..' segment"),
    ("only parent", "..", "'..' segment"),
    ("dot", "./x", "'.' or '..' segment"),
    ("dot inside", "a/./b", "'.' or '..' segment"),
    ("empty segment", "a//b", "empty"),
    ("trailing slash", "a/", "empty"),
    ("absolute", "/etc/passwd", "must be relative"),
    ("network path", "//host/x", "must be relative"),
    ("backslash", "a\\b", "backslash"),
    ("backslash parent", "..\\..\\x", "backslash"),
    ("NUL", "a\x00b.jpg", "control character"),
    ("newline", "a\nb", "control character"),
    ("DEL", "a\x7f", "control character"),
    ("C1 control", "a\x85b", "control character"),
    ("lone surrogate", "a\ud800b", "control character"),
    ("local with host", "local://host/x", "expected local:///path"),
    ("local one slash", "local:/x", "expected local:///path"),
    ("local four slashes", "local:////etc/passwd", "must be relative"),
    ("local empty", "local:///", "empty"),
    ("local dot", "local:///./x", "'.' or '..' segment"),
    ("s3 no slashes", "s3:bucket/k", "expected s3://bucket/key"),
    ("s3 no key", "s3://bucket", "expected s3://bucket/key"),
    ("s3 empty key", "s3://bucket/", "key is empty"),
    ("s3 no bucket", "s3:///k", "invalid S3 bucket name ''"),
    ("s3 bucket case", "s3://Bucket/k", "invalid S3 bucket name 'Bucket'"),
    ("s3 bucket ip", "s3://10.0.0.1/k", "invalid S3 bucket name"),
    ("s3 bucket dots", "s3://a..b/k", "invalid S3 bucket name"),
    ("s3 bucket short", "s3://ab/k", "invalid S3 bucket name"),
    ("s3 traversal", "s3://bucket/pre/../x", "'..' segment"),
    ("s3 key too long", "s3://bucket/pre/" + "k" * 1021, "longer than 1024 bytes"),
]


@pytest.mark.parametrize(
    ("source", "message"), [row[1:] for row in INVALID], ids=[row[0] for row in INVALID]
)
def test_invalid(source: str, message: str) -> None:
    with pytest.raises(BadRequest) as caught:
        resolve_source(source, FILE if "local" in source else S3, ())
    assert (caught.value.code, caught.value.status) == ("invalid_source", 400)
    assert message in caught.value.message


def test_long_relative_key_under_s3_prefix() -> None:
    assert resolve_source("k" * 1020, S3, ()).key == "pre/" + "k" * 1020
    with pytest.raises(BadRequest, match="longer than 1024 bytes"):
        resolve_source("k" * 1021, S3, ())


# Raw request targets (still percent-encoded) through parse_target, then resolve_source.
# (id, target, outcome: a resolved file path or an error code)
THROUGH_THE_URL = [
    ("plain key", "/s/plain/originals/cat.jpg", "/srv/img/originals/cat.jpg"),
    ("base64 key", "/s/b3JpZ2luYWxzL2NhdC5qcGc.png", "/srv/img/originals/cat.jpg"),
    ("encoded dots", "/s/plain/%2e%2e/%2e%2e/etc/passwd", "invalid_source"),
    ("encoded dot-dot-slash", "/s/plain/..%2f..%2fetc/passwd", "invalid_source"),
    ("encoded slash in local", "/s/plain/local:///..%2F..%2Fetc%2Fpasswd", "invalid_source"),
    ("local traversal", "/s/plain/local:///../../etc/passwd", "invalid_source"),
    ("double-encoded stays a name", "/s/plain/%252e%252e/x", "/srv/img/%2e%2e/x"),
    ("double-encoded slash", "/s/plain/..%252f..%252fx", "/srv/img/..%2f..%2fx"),
    ("encoded backslash", "/s/plain/..%5c..%5cx", "invalid_source"),
    ("encoded NUL", "/s/plain/x.jpg%00.png", "invalid_source"),
    ("encoded absolute", "/s/plain/%2fetc/passwd", "invalid_source"),
    ("base64 traversal", "/s/Li4vLi4vZXRjL3Bhc3N3ZA", "invalid_source"),  # ../../etc/passwd
    ("imgproxy example", "/s/rs:fill:300:400:0/g:sm/aHR0cDovL2V4YW1w/bGUuY29tL2ltYWdl/"
     "cy9jdXJpb3NpdHku/anBn.png", "unsupported_source"),
    ("plain http", "/s/plain/http://example.com/x.jpg", "unsupported_source"),
    ("plain file URL", "/s/plain/file:///etc/passwd", "unsupported_source"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("target", "expected"),
    [row[1:] for row in THROUGH_THE_URL],
    ids=[row[0] for row in THROUGH_THE_URL],
)
def test_through_the_url(target: str, expected: str) -> None:
    def resolve() -> SourceLocation:
        return resolve_source(parse_target(target, {}).source, FILE, ())

    if expected.startswith("/"):
        assert resolve() == file_at(expected)
    else:
        with pytest.raises(BadRequest) as caught:
            resolve()
        assert caught.value.code == expected


# -- properties


def outcome(resolve: Callable[[], T]) -> T | Exception:
    """What `resolve` returns, or the exception it raises (asserted on outside `except`)."""
    try:
        return resolve()
    except Exception as error:
        return error


SOURCE_PIECES = st.sampled_from(
    ["/", "//", ".", "..", "\\", "%2e", "a", "b.jpg", "local:", "s3:", "bucket", "other", "pre",
     "http:", "\x00", "\n", "é", ":", "~", "%"]
)  # fmt: skip
SOURCES = st.one_of(st.text(max_size=80), st.lists(SOURCE_PIECES, max_size=16).map("".join))


@given(source=SOURCES, storage_url=st.sampled_from([FILE, "file:///", S3, "s3://bucket"]))
def test_any_source_resolves_inside_the_root_or_raises(source: str, storage_url: str) -> None:
    result = outcome(lambda: resolve_source(source, storage_url, ()))
    if isinstance(result, Exception):
        assert isinstance(result, PixgateError), repr(result)
        assert isinstance(result, BadRequest | Forbidden)
        return
    root = parse_storage_url(storage_url)
    assert (result.scheme, result.bucket) == (root.scheme, root.bucket)
    segments = result.key.split("/")
    assert ".." not in segments
    assert "." not in segments
    if result.scheme == "file":
        assert posixpath.normpath(result.key) == result.key
        assert result.key.startswith(root.key.rstrip("/") + "/")
        assert posixpath.commonpath([root.key, result.key]) == root.key
    else:
        assert result.key.startswith(f"{root.key}/" if root.key else "")
        assert "" not in segments


@given(source=SOURCES)
def test_absolute_sources_stay_under_the_allowed_prefixes(source: str) -> None:
    allowed = ("s3://bucket/pub", "file:///srv/img/public")
    result = outcome(lambda: resolve_source(source, FILE, allowed))
    if isinstance(result, Exception):
        assert isinstance(result, PixgateError), repr(result)
        return
    assert result.url.startswith(("s3://bucket/pub/", "file:///srv/img/public/"))

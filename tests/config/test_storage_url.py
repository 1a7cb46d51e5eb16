"""Storage URLs to their canonical root: what parses, what is refused and why, properties."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.storage_url import SourceLocation, parse_storage_url


def file_at(path: str) -> SourceLocation:
    return SourceLocation("file", "", path)


def s3_at(bucket: str, key: str) -> SourceLocation:
    return SourceLocation("s3", bucket, key)


# (id, storage URL, root)
STORAGE_URLS = [
    ("file", "file:///srv/img", file_at("/srv/img")),
    ("file trailing /", "file:///srv/img/", file_at("/srv/img")),
    ("file root", "file:///", file_at("/")),
    ("file dots in names", "file:///srv/.img/a..b", file_at("/srv/.img/a..b")),
    ("s3 bucket", "s3://my-bucket", s3_at("my-bucket", "")),
    ("s3 bucket /", "s3://my.bucket/", s3_at("my.bucket", "")),
    ("s3 prefix", "s3://bucket/a/b", s3_at("bucket", "a/b")),
    ("s3 prefix /", "s3://bucket/a/b/", s3_at("bucket", "a/b")),
]


@pytest.mark.parametrize(
    ("url", "root"), [row[1:] for row in STORAGE_URLS], ids=[row[0] for row in STORAGE_URLS]
)
def test_storage_urls(url: str, root: SourceLocation) -> None:
    assert parse_storage_url(url) == root
    assert parse_storage_url(root.url) == root  # the canonical form parses to itself


# (id, storage URL, words of the ValueError)
BAD_STORAGE_URLS = [
    ("empty", "", "expected file:///absolute/dir, s3://bucket or s3://bucket/prefix"),
    ("no scheme", "/srv/img", "expected file:///absolute/dir"),
    ("http", "http://h/x", "expected file:///absolute/dir"),
    ("FILE", "FILE:///srv", "expected file:///absolute/dir"),
    ("file relative", "file://srv/img", "a file URL needs an absolute path"),
    ("file dot", "file://./var", "a file URL needs an absolute path"),
    ("file no slashes", "file:/srv", "expected file:///absolute/dir"),
    ("file parent", "file:///srv/../etc", "'..' segment"),
    ("file double slash", "file:///srv//img", "contains '//'"),
    ("file backslash", "file:///srv\\img", "backslash"),
    ("file NUL", "file:///srv\x00", "control character"),
    ("file surrogate", "file:///srv/\ud800", "control character"),
    ("s3 no bucket", "s3://", "invalid S3 bucket name ''"),
    ("s3 bad bucket", "s3://My_Bucket", "invalid S3 bucket name 'My_Bucket'"),
    ("s3 long bucket", "s3://" + "b" * 64, "invalid S3 bucket name"),
    ("s3 IP bucket", "s3://10.0.0.1", "invalid S3 bucket name '10.0.0.1'"),
    ("s3 dotted bucket", "s3://a..b", "invalid S3 bucket name 'a..b'"),
    ("s3 bad prefix", "s3://bucket/a/../b", "S3 prefix contains an empty, '.' or '..'"),
    ("s3 empty prefix segment", "s3://bucket/a//b", "S3 prefix contains an empty"),
]


@pytest.mark.parametrize(
    ("url", "message"),
    [row[1:] for row in BAD_STORAGE_URLS],
    ids=[row[0] for row in BAD_STORAGE_URLS],
)
def test_bad_storage_urls(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_storage_url(url)


URL_PIECES = st.sampled_from(
    ["file://", "s3://", "/", "//", ".", "..", "\\", "\x00", "a", "bucket", "B", "1.2.3.4",
     "-", "é", ":", "%2e", "\ud800"]
)  # fmt: skip
URLS = st.one_of(st.text(max_size=80), st.lists(URL_PIECES, max_size=12).map("".join))


@given(url=URLS)
def test_any_string_parses_to_a_canonical_root_or_raises_value_error(url: str) -> None:
    try:
        root = parse_storage_url(url)
    except ValueError:
        return
    assert root.scheme in ("file", "s3")
    assert parse_storage_url(root.url) == root
    segments = root.key.split("/")
    assert ".." not in segments and "." not in segments
    if root.scheme == "file":
        assert root.key.startswith("/") and not root.bucket
    else:
        assert root.bucket and not root.key.startswith("/")

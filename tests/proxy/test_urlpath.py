"""Request targets split into signature, signed path, options and source."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pixgate_signing import FITS, UrlBuilder, parse_key_pairs, verify_path
from pixgate_signing.builder import FORMATS, build_unsigned_path

from proxy.errors import BadRequest
from proxy.option_parsers import MAX_DIMENSION, OPTION_NAMES
from proxy.options import (
    FORMAT_EXTENSIONS,
    Gravity,
    GravityType,
    Options,
    OutputFormat,
    ResizingType,
)
from proxy.service import split_signature
from proxy.urlpath import MAX_TARGET_BYTES, ParsedTarget, parse_target

T = TypeVar("T")
KEY, SALT = "736563726574", "68656C6C6F"
NO_PRESETS: dict[str, tuple[str, ...]] = {}
IMGPROXY_EXAMPLE = (
    "/sig/rs:fill:300:400:0/g:sm/aHR0cDovL2V4YW1w/bGUuY29tL2ltYWdl/cy9jdXJpb3NpdHku/anBn.png"
)


def test_imgproxy_example() -> None:
    assert parse_target(IMGPROXY_EXAMPLE, NO_PRESETS) == ParsedTarget(
        signature="sig",
        signed_path=IMGPROXY_EXAMPLE.removeprefix("/sig"),
        option_segments=("rs:fill:300:400:0", "g:sm"),
        source="http://example.com/images/curiosity.jpg",
        extension=OutputFormat.PNG,
        options=Options(
            ResizingType.FILL,
            300,
            400,
            gravity=Gravity(GravityType.SMART),
            format=OutputFormat.PNG,
        ),
    )


PNG, WEBP = OutputFormat.PNG, OutputFormat.WEBP

# (id, target, source, extension): both source forms, with and without an extension.
SOURCES = [
    ("plain", "/sig/plain/originals/cat.jpg", "originals/cat.jpg", None),
    ("plain @ext", "/sig/plain/originals/cat.jpg@webp", "originals/cat.jpg", WEBP),
    ("plain @EXT", "/sig/plain/cat.jpg@PNG", "cat.jpg", PNG),
    ("plain @jpg", "/sig/plain/cat.png@jpg", "cat.png", OutputFormat.JPEG),
    ("plain last @ wins", "/sig/plain/user@host/cat.jpg@png", "user@host/cat.jpg", PNG),
    ("plain encoded @", "/sig/plain/a%40b.jpg", "a@b.jpg", None),
    ("plain encoded @ and @ext", "/sig/plain/a%40b.jpg@webp", "a@b.jpg", WEBP),
    ("plain percent-decoded", "/sig/plain/my%20cat%2Fx.jpg", "my cat/x.jpg", None),
    ("plain decoded once", "/sig/plain/%252e%252e/x.jpg", "%2e%2e/x.jpg", None),
    ("plain utf-8", "/sig/plain/caf%C3%A9.jpg", "café.jpg", None),
    ("plain raw utf-8", "/sig/plain/café.jpg", "café.jpg", None),
    ("plain malformed escape kept", "/sig/plain/100%.jpg", "100%.jpg", None),
    ("plain s3", "/sig/plain/s3://bucket/a/b.jpg@png", "s3://bucket/a/b.jpg", PNG),
    ("plain local", "/sig/plain/local:///a/b.jpg", "local:///a/b.jpg", None),
    ("plain colon in key", "/sig/plain/a:b/c.jpg", "a:b/c.jpg", None),
    ("plain empty segments kept", "/sig/plain/a//b", "a//b", None),
    ("plain after options", "/sig/w:1/h:2/plain/x.jpg", "x.jpg", None),
    ("base64 unpadded", "/sig/b3JpZ2luYWxzL2NhdC5qcGc", "originals/cat.jpg", None),
    ("base64 padded", "/sig/b3JpZ2luYWxzL2NhdC5qcGc=", "originals/cat.jpg", None),
    ("base64 .ext", "/sig/b3JpZ2luYWxzL2NhdC5qcGc.webp", "originals/cat.jpg", WEBP),
    ("base64 padded .ext", "/sig/b3JpZ2luYWxzL2NhdC5qcGc=.png", "originals/cat.jpg", PNG),
    ("base64 chunks", "/sig/b3JpZ2lu/YWxzL2Nh/dC5qcGc.png", "originals/cat.jpg", PNG),
    ("base64 double padding", "/sig/YQ==", "a", None),
    ("base64 utf-8", "/sig/Y2Fmw6kvw7wucG5n", "café/ü.png", None),
    ("base64 after options", "/sig/w:1/YWI", "ab", None),
]


@pytest.mark.parametrize(
    ("target", "source", "extension"), [row[1:] for row in SOURCES], ids=[row[0] for row in SOURCES]
)
def test_sources(target: str, source: str, extension: OutputFormat | None) -> None:
    parsed = parse_target(target, NO_PRESETS)
    assert (parsed.source, parsed.extension, parsed.options.format) == (
        source,
        extension,
        extension,
    )


# (id, target, signature, signed_path)
SIGNED_PATHS = [
    ("plain", "/abc-_0/plain/x.jpg", "abc-_0", "/plain/x.jpg"),
    ("options kept raw", "/s/w:1/cb:a%2Fb/plain/x%20y", "s", "/w:1/cb:a%2Fb/plain/x%20y"),
    ("query signed too", "/s/plain/x.jpg?w=300&h=2", "s", "/plain/x.jpg?w=300&h=2"),
    ("empty query kept", "/s/plain/x.jpg?", "s", "/plain/x.jpg?"),
    ("unsafe", "/unsafe/plain/x.jpg", "unsafe", "/plain/x.jpg"),
]


@pytest.mark.parametrize(
    ("target", "signature", "signed_path"),
    [row[1:] for row in SIGNED_PATHS],
    ids=[row[0] for row in SIGNED_PATHS],
)
def test_signature_and_signed_path(target: str, signature: str, signed_path: str) -> None:
    parsed = parse_target(target, NO_PRESETS)
    assert (parsed.signature, parsed.signed_path) == (signature, signed_path)
    assert target == f"/{parsed.signature}{parsed.signed_path}"


# (id, target, option segments, Options)
OPTIONS = [
    ("none", "/s/plain/x", (), Options()),
    (
        "path",
        "/s/rs:fill:300:400/q:80/plain/x",
        ("rs:fill:300:400", "q:80"),
        Options(ResizingType.FILL, 300, 400, quality=80),
    ),
    (
        "query form",
        "/s/plain/originals/cat.jpg?w=300&h=200&fit=cover&f=webp&q=80",
        ("w:300", "h:200", "fit:cover", "f:webp", "q:80"),
        Options(ResizingType.FILL, 300, 200, format=WEBP, quality=80),
    ),
    (
        "query after path",
        "/s/w:100/q:10/plain/x?q=90",
        ("w:100", "q:10", "q:90"),
        Options(width=100, quality=90),
    ),
    (
        "query multi-arg",
        "/s/plain/x?rs=fill:10:20&g=no:1:2",
        ("rs:fill:10:20", "g:no:1:2"),
        Options(ResizingType.FILL, 10, 20, gravity=Gravity(GravityType.NORTH, 1.0, 2.0)),
    ),
    ("query percent-encoded value", "/s/plain/x?cb=a%26b%3Dc", ("cb:a%26b%3Dc",), Options(
        cachebuster="a&b=c")),
    ("query plus is literal", "/s/plain/x?cb=a+b", ("cb:a+b",), Options(cachebuster="a+b")),
    ("query empty pairs ignored", "/s/plain/x?&w=1&&", ("w:1",), Options(width=1)),
    ("query on base64 source", "/s/YWI?w=5", ("w:5",), Options(width=5)),
    ("path arg percent-encoded", "/s/cb:a%2Fb%3Ac/plain/x", ("cb:a%2Fb%3Ac",), Options(
        cachebuster="a/b:c")),
    ("extension beats path f", "/s/f:webp/plain/x@png", ("f:webp",), Options(format=PNG)),
    ("extension beats query f", "/s/plain/x@png?f=webp", ("f:webp",), Options(format=PNG)),
    ("base64 .ext beats f", "/s/f:webp/YWI.png", ("f:webp",), Options(format=PNG)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("target", "segments", "options"), [row[1:] for row in OPTIONS], ids=[row[0] for row in OPTIONS]
)
def test_options(target: str, segments: tuple[str, ...], options: Options) -> None:
    parsed = parse_target(target, NO_PRESETS)
    assert (parsed.option_segments, parsed.options) == (segments, options)


@pytest.mark.parametrize("name", sorted(OPTION_NAMES))
def test_every_option_name_is_a_query_key(name: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_target(f"/s/plain/x?{name}=%ff", NO_PRESETS)
    assert caught.value.message.startswith(f"option {name!r}")


def test_presets_apply_in_path_and_query() -> None:
    presets = {"default": ("q:70",), "thumb": ("rs:fill:100:100",), "small": ("w:10",)}
    parsed = parse_target("/s/pr:thumb/plain/x?preset=small", presets)
    assert parsed.options == Options(ResizingType.FILL, 10, 100, quality=70)


def test_longest_target_is_accepted() -> None:
    target = "/s/plain/" + "a" * (MAX_TARGET_BYTES - len("/s/plain/"))
    assert len(parse_target(target, NO_PRESETS).source) == MAX_TARGET_BYTES - len("/s/plain/")


# (id, target, error code, words of the message)
ERRORS = [
    ("empty", "", "invalid_path", "must start with '/'"),
    ("relative", "sig/plain/x", "invalid_path", "must start with '/'"),
    ("absolute form", "http://h/sig/plain/x", "invalid_path", "must start with '/'"),
    ("root", "/", "invalid_path", "missing or malformed signature"),
    ("empty signature", "//plain/x", "invalid_path", "missing or malformed signature"),
    ("no signature", "/w:300/plain/x", "invalid_path", "missing or malformed signature"),
    ("signature charset", "/si+g/plain/x", "invalid_path", "missing or malformed signature"),
    ("signature padding", "/sig=/plain/x", "invalid_path", "missing or malformed signature"),
    ("signature only", "/sig", "invalid_source", "source is empty"),
    ("options only", "/sig/w:1", "invalid_source", "source is empty"),
    ("plain only", "/sig/plain", "invalid_source", "source is empty"),
    ("plain empty", "/sig/plain/", "invalid_source", "source is empty"),
    ("plain only ext", "/sig/plain/@png", "invalid_source", "source is empty"),
    ("plain unknown ext", "/sig/plain/x@bmp", "invalid_option", "unknown extension 'bmp'"),
    ("plain empty ext", "/sig/plain/x.jpg@", "invalid_option", "unknown extension ''"),
    ("plain bad utf-8", "/sig/plain/%ff.jpg", "invalid_source", "not valid UTF-8"),
    ("plain half utf-8", "/sig/plain/%C3.jpg", "invalid_source", "not valid UTF-8"),
    ("base64 too short", "/sig/a", "invalid_source", "not valid base64url"),
    ("base64 charset", "/sig/YW$J", "invalid_source", "neither 'plain/...' nor valid base64url"),
    ("base64 +", "/sig/YW+J", "invalid_source", "neither 'plain/...' nor valid base64url"),
    ("base64 trailing slash", "/sig/YWJj/", "invalid_source", "empty segment"),
    ("base64 empty chunk", "/sig/YW//Jj", "invalid_source", "empty segment"),
    ("base64 inner padding", "/sig/YW=Jj", "invalid_source", "nor valid base64url"),
    ("base64 bad padding", "/sig/YWJ==", "invalid_source", "nor valid base64url"),
    ("base64 dot in chunk", "/sig/YW.Jj/ZA", "invalid_source", "nor valid base64url"),
    ("base64 not utf-8", "/sig/_w", "invalid_source", "base64url-encoded UTF-8"),
    ("base64 unknown ext", "/sig/YWI.bmp", "invalid_option", "unknown extension 'bmp'"),
    ("base64 empty ext", "/sig/YWI.", "invalid_option", "unknown extension ''"),
    ("base64 only ext", "/sig/.png", "invalid_source", "nor valid base64url"),
    ("bad option", "/sig/w:abc/plain/x", "invalid_option", "option 'w' (width)"),
    ("unknown option", "/sig/zoom:2/plain/x", "invalid_option", "unknown option 'zoom'"),
    ("unknown preset", "/sig/pr:x/plain/x", "invalid_option", "unknown preset 'x'"),
    ("query unknown", "/sig/plain/x?zoom=2", "invalid_option", "unknown option 'zoom' in query"),
    ("query encoded key", "/sig/plain/x?%77=2", "invalid_option", "unknown option '%77'"),
    ("query colon key", "/sig/plain/x?rs:fill=2", "invalid_option", "unknown option 'rs:fill'"),
    ("query duplicate", "/sig/plain/x?w=1&w=2", "invalid_option", "option 'w' (width) given twice"),
    ("query alias duplicate", "/sig/plain/x?w=1&width=2", "invalid_option", "given twice"),
    ("query bad value", "/sig/plain/x?w=big", "invalid_option", "option 'w' (width): expected"),
    ("query no value", "/sig/plain/x?w", "invalid_option", "option 'w' (width): expected 1"),
    ("query empty key", "/sig/plain/x?=1", "invalid_option", "unknown option ''"),
    ("overlong", "/s/plain/" + "a" * MAX_TARGET_BYTES, "invalid_path", "longer than 8192 bytes"),
    ("overlong in bytes", "/s/plain/" + "é" * 4096, "invalid_path", "longer than 8192 bytes"),
]


@pytest.mark.parametrize(
    ("target", "code", "message"), [row[1:] for row in ERRORS], ids=[row[0] for row in ERRORS]
)
def test_errors(target: str, code: str, message: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_target(target, NO_PRESETS)
    assert (caught.value.code, caught.value.status) == (code, 400)
    assert message in caught.value.message


# -- properties


def outcome(parse: Callable[[], T]) -> T | Exception:
    """What `parse` returns, or the exception it raises (asserted on outside `except`)."""
    try:
        return parse()
    except Exception as error:
        return error


def check(target: str) -> None:
    result = outcome(lambda: parse_target(target, {"default": ("q:70",), "p": ("w:1",)}))
    if isinstance(result, Exception):
        assert isinstance(result, BadRequest), repr(result)
        return
    assert result.source
    assert target == f"/{result.signature}{result.signed_path}"
    assert all(":" in segment for segment in result.option_segments)


# Text built from the pieces the grammar cares about, so parsing gets past the first check.
URL_PIECES = st.sampled_from([*"/:@.?&=%+-_~aAzZ09=", "plain", "%2F", "%ff", "%C3", "é", "w"])
URL_TEXT = st.lists(URL_PIECES, max_size=15).map("".join)
OPTION_SEGMENTS = st.lists(
    st.sampled_from(["w:1", "rs:fill:1:1", "pr:p", "cb:%41", "f:png", "w:x"]) | URL_TEXT,
    max_size=4,
)
SOURCE = st.one_of(
    URL_TEXT.map("plain/{}".format),
    st.sampled_from(["YWI", "YWI.png", "YW/I=.webp", "plain/x@png", "plain/a%2Fb"]),
    URL_TEXT,
)
QUERY = st.none() | URL_TEXT | st.sampled_from(["w=1", "fit=cover&q=80", "w=1&w=2", "pr=p"])


# Any code point, lone surrogates included: what a lenient HTTP parser makes of raw bytes
# that are not UTF-8 (surrogateescape).
ANY_TEXT = st.lists(st.one_of(st.characters(), st.characters(categories=["Cs"])), max_size=300).map(
    "".join
)


@given(target=ANY_TEXT)
def test_any_text_parses_or_raises_bad_request(target: str) -> None:
    check(target)


@given(options=OPTION_SEGMENTS, source=SOURCE, query=QUERY)
def test_any_url_like_target_parses_or_raises_bad_request(
    options: list[str], source: str, query: str | None
) -> None:
    check("/sig/" + "/".join([*options, source]) + ("" if query is None else f"?{query}"))


@given(
    source=st.text(min_size=1, max_size=60),
    fmt=st.none() | st.sampled_from(FORMATS),
    encode_source=st.booleans(),
)
def test_round_trip_with_the_url_builder(source: str, fmt: str | None, encode_source: bool) -> None:
    # The client library builds what the proxy parses: any source survives the trip.
    path = build_unsigned_path(
        source, segments=("rs:fill:10:20", "g:sm"), format=fmt, encode_source=encode_source
    )
    parsed = parse_target("/sig" + path, NO_PRESETS)
    expected_format = None if fmt is None else OutputFormat("jpeg" if fmt == "jpg" else fmt)
    assert (parsed.source, parsed.extension, parsed.signed_path) == (source, expected_format, path)
    assert dataclasses.replace(parsed.options, format=None) == Options(
        ResizingType.FILL, 10, 20, gravity=Gravity(GravityType.SMART)
    )


TRANSFORMS = st.fixed_dictionaries(
    {},
    optional={
        "width": st.integers(0, MAX_DIMENSION),
        "height": st.integers(0, MAX_DIMENSION),
        "fit": st.none() | st.sampled_from(FITS),
        "format": st.none() | st.sampled_from(FORMATS),
        "quality": st.none() | st.integers(1, 100),
    },
)
# Sources as applications name them: keys with spaces, '@', '%', '?', '#', unicode,
# absolute s3:// and local:/// names.
BUILDER_SOURCES = st.one_of(
    st.text(min_size=1, max_size=80),
    st.text(st.sampled_from("ab/. @%?#&=+:;~éü中🙂\\"), min_size=1, max_size=30),
    st.builds("s3://bucket/{}".format, st.text(min_size=1, max_size=30)),
    st.builds("local:///{}".format, st.text(min_size=1, max_size=30)),
)


@given(source=BUILDER_SOURCES, transform=TRANSFORMS, encode_source=st.booleans())
def test_every_builder_url_parses_back_to_its_options_and_source(
    source: str, transform: dict[str, Any], encode_source: bool
) -> None:
    builder = UrlBuilder("", KEY, SALT, encode_source=encode_source)
    path = builder.path(source, **transform)
    signature, signed_path = split_signature(path)
    assert verify_path(signature, signed_path, parse_key_pairs(KEY, SALT))
    parsed = parse_target(path, NO_PRESETS)
    fit, fmt = transform.get("fit"), transform.get("format")
    options = parsed.options
    assert parsed.source == source
    assert (options.width, options.height) == (
        transform.get("width", 0),
        transform.get("height", 0),
    )
    assert options.resizing_type is ResizingType(fit or "fit")
    assert options.format is (None if fmt is None else FORMAT_EXTENSIONS[fmt])
    assert options.quality == (transform.get("quality") or 0)

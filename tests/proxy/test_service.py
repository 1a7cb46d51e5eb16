"""The signed request chain before any I/O: split, verify, parse, resolve.

Whatever text arrives as a request target, the chain ends in a `Variant`'s parts or in one
of our errors that becomes a 400 or a 403; nothing else escapes to become a 500.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pixgate_signing import KeyPair, parse_key_pairs, sign_path, verify_path

from proxy.errors import BadRequest, Forbidden
from proxy.service import split_signature
from proxy.sources import resolve_source
from proxy.urlpath import parse_target

KEY_PAIRS = parse_key_pairs("736563726574", "68656C6C6F")
PRESETS = {"default": ("q:70",), "thumb": ("rs:fill:100:100",)}


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        pytest.param("/sig/plain/x", ("sig", "/plain/x"), id="plain"),
        pytest.param("/sig/w:1/plain/x?q=1", ("sig", "/w:1/plain/x?q=1"), id="query-signed"),
        pytest.param("/sig//x", ("sig", "//x"), id="empty-segment-kept"),
    ],
)
def test_split_signature(target: str, expected: tuple[str, str]) -> None:
    assert split_signature(target) == expected


@pytest.mark.parametrize("target", ["", "sig/plain/x", "/", "//plain/x", "/sig", "/sig/"], ids=repr)
def test_split_signature_refuses(target: str) -> None:
    with pytest.raises(BadRequest) as caught:
        split_signature(target)
    assert caught.value.code == "invalid_path"


def signed_chain(target: str, key_pairs: tuple[KeyPair, ...]) -> Any:
    """What ImageService.signed_variant does before any I/O, in its order."""
    signature, signed_path = split_signature(target)
    if not verify_path(signature, signed_path, key_pairs):
        raise Forbidden("invalid signature", code="invalid_signature")
    parsed = parse_target(target, PRESETS)
    return parsed, resolve_source(parsed.source, "file:///srv/images", ("s3://bucket/pub",))


def outcome(run: Callable[[], Any]) -> Any:
    """What `run` returns, or the exception it raises (asserted on outside `except`)."""
    try:
        return run()
    except Exception as error:
        return error


def assert_refused_as_400_or_403(result: Any) -> None:
    if isinstance(result, Exception):
        assert isinstance(result, BadRequest | Forbidden), repr(result)
        assert result.status in (400, 403) and result.message


# Lone surrogates are rare among all code points: offered on their own as well.
ANY_TEXT = st.lists(st.one_of(st.characters(), st.characters(categories=["Cs"])), max_size=200).map(
    "".join
)
PIECES = st.sampled_from(
    ["/", "plain", "w:10", "rs:fill:5:5", "pr:thumb", "local:", "s3:", "//", "..", "%2e",
     "%ff", "%00", "@png", ".webp", "?", "&", "q=5", "YWI", "bucket", "pub", "é", "\udcff"]
)  # fmt: skip
URLISH = st.lists(PIECES, max_size=16).map("".join)


@given(target=st.one_of(ANY_TEXT, URLISH.map("/{}".format)))
def test_any_target_is_refused_with_400_or_403(target: str) -> None:
    assert_refused_as_400_or_403(outcome(lambda: signed_chain(target, KEY_PAIRS)))


@given(rest=st.one_of(ANY_TEXT, URLISH).map("/{}".format))
def test_any_validly_signed_target_is_parsed_or_refused(rest: str) -> None:
    # Signed with the real key: everything after the signature is examined too.
    try:
        signature = sign_path(rest, KEY_PAIRS[0])
    except UnicodeEncodeError:  # lone surrogates: no key holder could sign this text
        signature = "A" * 43
    result = outcome(lambda: signed_chain(f"/{signature}{rest}", KEY_PAIRS))
    assert_refused_as_400_or_403(result)

"""The signing library: imgproxy's test vector, truncation, rotation, tampering."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pixgate_signing import InvalidKey, KeyPair, parse_key_pairs, sign_path, verify_path

IMGPROXY_PAIR = KeyPair.from_hex("736563726574", "68656C6C6F")
IMGPROXY_PATH = (
    "/rs:fill:300:400:0/g:sm/aHR0cDovL2V4YW1w/bGUuY29tL2ltYWdl/cy9jdXJpb3NpdHku/anBn.png"
)
IMGPROXY_SIGNATURE = "oKfUtW34Dvo2BGQehJFR4Nr0_rIjOtdtzJ3QFsUcXH8"


def test_imgproxy_test_vector() -> None:
    assert sign_path(IMGPROXY_PATH, IMGPROXY_PAIR) == IMGPROXY_SIGNATURE


@pytest.mark.parametrize(
    ("size", "expected_length"),
    [
        pytest.param(32, 43, id="full"),
        pytest.param(8, 11, id="8-bytes"),
        pytest.param(1, 2, id="1"),
    ],
)
def test_truncation_is_a_prefix_of_the_digest(size: int, expected_length: int) -> None:
    signature = sign_path(IMGPROXY_PATH, IMGPROXY_PAIR, size)
    assert len(signature) == expected_length
    assert verify_path(signature, IMGPROXY_PATH, [IMGPROXY_PAIR], size)


@pytest.mark.parametrize("size", [0, 33, -1])
def test_bad_sizes_are_refused(size: int) -> None:
    with pytest.raises(ValueError, match="signature size"):
        sign_path("/x", IMGPROXY_PAIR, size)


@pytest.mark.parametrize(
    ("signature", "path"),
    [
        pytest.param(IMGPROXY_SIGNATURE[:-1] + "A", IMGPROXY_PATH, id="last-char-changed"),
        pytest.param(IMGPROXY_SIGNATURE, IMGPROXY_PATH.replace("300", "301"), id="path-changed"),
        pytest.param("", IMGPROXY_PATH, id="empty"),
        pytest.param("é" * 43, IMGPROXY_PATH, id="non-ascii"),
        pytest.param(IMGPROXY_SIGNATURE + "=", IMGPROXY_PATH, id="padded"),
    ],
)
def test_tampered_signatures_fail(signature: str, path: str) -> None:
    assert not verify_path(signature, path, [IMGPROXY_PAIR])


def test_rotation_any_pair_verifies_first_signs() -> None:
    pairs = parse_key_pairs("aa01,736563726574", "bb02,68656C6C6F")
    assert verify_path(IMGPROXY_SIGNATURE, IMGPROXY_PATH, pairs)
    assert sign_path(IMGPROXY_PATH, pairs[0]) != IMGPROXY_SIGNATURE


@pytest.mark.parametrize(
    ("keys", "salts", "message"),
    [
        pytest.param("", "", "no key", id="empty"),
        pytest.param("zz", "00", "key is not valid hex", id="bad-hex-key"),
        pytest.param("00", "abc", "salt is not valid hex", id="odd-salt"),
        pytest.param("00,11", "22", "2 key", id="unmatched"),
    ],
)
def test_bad_key_configuration(keys: str, salts: str, message: str) -> None:
    with pytest.raises(InvalidKey, match=message):
        parse_key_pairs(keys, salts)


def test_repr_hides_secrets() -> None:
    assert "7365" not in repr(IMGPROXY_PAIR)
    assert "secret" not in repr(IMGPROXY_PAIR)


# Lone surrogates included: a lenient HTTP parser turns raw non-UTF-8 bytes into them.
ANY_CHARACTER = st.one_of(st.characters(), st.characters(categories=["Cs"]))


@given(
    path=st.lists(ANY_CHARACTER, max_size=200).map("".join),
    signature=st.lists(ANY_CHARACTER, max_size=60).map("".join),
)
def test_verify_never_raises(path: str, signature: str) -> None:
    assert isinstance(verify_path(signature, path, [IMGPROXY_PAIR]), bool)


@given(path=st.text(max_size=200))
def test_every_signature_verifies(path: str) -> None:
    assert verify_path(sign_path(path, IMGPROXY_PAIR), path, [IMGPROXY_PAIR])

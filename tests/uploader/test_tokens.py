"""Delete tokens: bound to one image id, verified in constant time, rotated keys, no raising."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from itsdangerous import Signer

from uploader.tokens import DELETE_TOKEN_SALT, DeleteTokens

OLD_KEY = b"old key: 32 bytes of secret bits"
NEW_KEY = b"new key: 32 bytes of secret bits"
IMAGE_ID = "img_" + "A1b2C3d4E5f6G7h8I9j0"
OTHER_ID = "img_" + "A1b2C3d4E5f6G7h8I9j1"


@pytest.fixture
def tokens() -> DeleteTokens:
    return DeleteTokens([NEW_KEY, OLD_KEY])


def test_issued_token_verifies_for_its_image(tokens: DeleteTokens) -> None:
    token = tokens.issue(IMAGE_ID)
    assert tokens.verify(token, IMAGE_ID)
    assert len(token) == 43
    assert tokens.issue(IMAGE_ID) == token  # an HMAC: the same id always gets the same token


def test_token_is_for_one_image_only(tokens: DeleteTokens) -> None:
    assert not tokens.verify(tokens.issue(IMAGE_ID), OTHER_ID)
    assert not tokens.verify(tokens.issue(OTHER_ID), IMAGE_ID)


def _flip(text: str, index: int) -> str:
    replacement = "A" if text[index] != "A" else "B"
    return text[:index] + replacement + text[index + 1 :]


def _other_salt(image_id: str) -> str:
    signer = Signer(NEW_KEY, salt="itsdangerous.Signer", digest_method=hashlib.sha256)
    return signer.get_signature(image_id).decode()


def _other_key(image_id: str) -> str:
    return DeleteTokens([b"a key nobody configured"]).issue(image_id)


def _bare_hmac(image_id: str) -> str:
    """The same key with no salt at all, as another feature might sign with it."""
    signer = Signer(NEW_KEY, salt=None, key_derivation="hmac", digest_method=hashlib.sha256)
    return signer.get_signature(image_id).decode()


BAD_TOKENS: dict[str, Callable[[str], str]] = {
    "empty": lambda good: "",
    "first-char-flipped": lambda good: _flip(good, 0),
    "last-char-flipped": lambda good: _flip(good, -1),
    "truncated": lambda good: good[:-1],
    "extended": lambda good: good + "A",
    "padded": lambda good: good + "=",
    "junk-inserted": lambda good: good[:10] + "!" + good[10:],  # base64 would skip the "!"
    "whitespace-around": lambda good: f" {good}\n",
    "signed-value-form": lambda good: f"{IMAGE_ID}.{good}",
    "other-salt": lambda good: _other_salt(IMAGE_ID),
    "no-salt": lambda good: _bare_hmac(IMAGE_ID),
    "other-key": lambda good: _other_key(IMAGE_ID),
    "non-ascii": lambda good: good[:-1] + "\u00e9",
    "lone-surrogate": lambda good: good[:-1] + "\ud800",
}


@pytest.mark.parametrize("make_bad", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
def test_bad_tokens_are_refused(tokens: DeleteTokens, make_bad: Callable[[str], str]) -> None:
    assert tokens.verify(make_bad(tokens.issue(IMAGE_ID)), IMAGE_ID) is False


@pytest.mark.parametrize(
    "image_id", ["", "\ud800", 42, None], ids=["empty", "surrogate", "int", "none"]
)
def test_odd_image_ids_are_refused(tokens: DeleteTokens, image_id: object) -> None:
    assert tokens.verify(tokens.issue(IMAGE_ID), image_id) is False  # type: ignore[arg-type]


def test_non_string_token_is_refused(tokens: DeleteTokens) -> None:
    assert tokens.verify(tokens.issue(IMAGE_ID).encode(), IMAGE_ID) is False  # type: ignore[arg-type]


def test_rotation_keeps_old_tokens_and_signs_with_the_first_key() -> None:
    before = DeleteTokens([OLD_KEY])
    during = DeleteTokens([NEW_KEY, OLD_KEY])
    after = DeleteTokens([NEW_KEY])
    old_token = before.issue(IMAGE_ID)
    new_token = during.issue(IMAGE_ID)

    assert during.verify(old_token, IMAGE_ID)  # the old key, second, still verifies
    assert new_token != old_token
    assert after.verify(new_token, IMAGE_ID)  # the first key signs
    assert not before.verify(new_token, IMAGE_ID)
    assert not after.verify(old_token, IMAGE_ID)  # retired with its key


def test_salt_is_the_documented_one(tokens: DeleteTokens) -> None:
    signer = Signer(
        NEW_KEY, salt=DELETE_TOKEN_SALT, key_derivation="hmac", digest_method=hashlib.sha256
    )
    assert tokens.issue(IMAGE_ID) == signer.get_signature(IMAGE_ID).decode()


@pytest.mark.parametrize("keys", [[], [b""], ["text key"]], ids=["no-keys", "empty-key", "str-key"])
def test_keys_must_be_non_empty_bytes(keys: list[object]) -> None:
    with pytest.raises(ValueError, match="key"):
        DeleteTokens(keys)  # type: ignore[arg-type]


def test_repr_shows_no_key(tokens: DeleteTokens) -> None:
    assert repr(tokens) == "DeleteTokens(keys=2)"
    assert "secret" not in repr(tokens)


# Lone surrogates included (rare among all code points, so offered on their own as well).
ANY_CHARACTER = st.one_of(st.characters(), st.characters(categories=["Cs"]))


@given(
    token=st.lists(ANY_CHARACTER, max_size=80).map("".join),
    image_id=st.lists(ANY_CHARACTER, max_size=40).map("".join),
)
def test_verify_never_raises(token: str, image_id: str) -> None:
    tokens = DeleteTokens([NEW_KEY, OLD_KEY])
    assert tokens.verify(token, image_id) is False

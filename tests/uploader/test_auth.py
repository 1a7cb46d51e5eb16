"""API keys and the admin key: constant-time comparisons, and no input that raises.

Header values that are not UTF-8 reach the handlers as lone surrogates (aiohttp decodes
with surrogateescape); they must be refused like any wrong key, never become a 500.
"""

from __future__ import annotations

import hmac
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pixgate_signing import parse_key_pairs, sign_path, verify_path

from uploader import auth
from uploader.auth import ApiKeys, Unauthorized, bearer_token, is_admin
from uploader.tokens import DeleteTokens

KEYS = (("app", "key-0123456789abcdef"), ("cli", "key-fedcba9876543210"))
# Lone surrogates are rare among all code points: offered on their own as well.
ANY_TEXT = st.lists(st.one_of(st.characters(), st.characters(categories=["Cs"])), max_size=80).map(
    "".join
)


class CompareSpy:
    """Stands in for hmac.compare_digest and records what it compared."""

    def __init__(self) -> None:
        self.calls: list[tuple[bytes, bytes]] = []
        self._compare = hmac.compare_digest

    def __call__(self, a: Any, b: Any) -> bool:
        self.calls.append((a, b))
        return self._compare(a, b)


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> CompareSpy:
    recorder = CompareSpy()
    monkeypatch.setattr(hmac, "compare_digest", recorder)
    return recorder


@pytest.mark.parametrize(
    ("token", "owner"),
    [
        pytest.param("key-0123456789abcdef", "app", id="first"),
        pytest.param("key-fedcba9876543210", "cli", id="second"),
    ],
)
def test_every_api_key_is_compared_in_constant_time(
    spy: CompareSpy, token: str, owner: str
) -> None:
    assert ApiKeys(KEYS).owner(token) == owner
    # All keys, whichever matched: timing tells neither the key nor how much matched.
    assert [secret for secret, _ in spy.calls] == [secret.encode() for _, secret in KEYS]


def test_wrong_api_key_is_compared_against_every_key(spy: CompareSpy) -> None:
    with pytest.raises(Unauthorized):
        ApiKeys(KEYS).owner("key-0123456789abcdeX")
    assert len(spy.calls) == len(KEYS)


def test_admin_key_is_compared_in_constant_time(spy: CompareSpy) -> None:
    assert is_admin("admin-key-0123456789", "admin-key-0123456789")
    assert not is_admin("admin-key-0123456789", "admin-key-012345678X")
    assert len(spy.calls) == 2


def test_url_signatures_are_compared_in_constant_time_against_every_pair(
    spy: CompareSpy,
) -> None:
    pairs = parse_key_pairs("736563726574,6f6c64", "68656C6C6F,73616c74")
    assert verify_path(sign_path("/plain/x", pairs[0]), "/plain/x", pairs)
    assert len(spy.calls) == len(pairs)


def test_delete_tokens_are_compared_in_constant_time(spy: CompareSpy) -> None:
    tokens = DeleteTokens([b"k" * 32])
    token = tokens.issue("img_aaaaaaaaaaaaaaaaaaaa")
    assert tokens.verify(token, "img_aaaaaaaaaaaaaaaaaaaa")
    assert not tokens.verify(token, "img_bbbbbbbbbbbbbbbbbbbb")
    assert len(spy.calls) == 2


@given(token=ANY_TEXT)
def test_any_bearer_token_is_an_owner_or_unauthorized(token: str) -> None:
    try:
        owner = ApiKeys(KEYS).owner(token)
    except Unauthorized as error:
        owner = error.status
    assert owner in ("app", "cli", 401)


@given(token=ANY_TEXT, admin_key=st.sampled_from(["", "admin-key-0123456789"]))
def test_is_admin_never_raises(token: str, admin_key: str) -> None:
    assert is_admin(admin_key, token) is (bool(admin_key) and token == admin_key)


@given(header=ANY_TEXT)
def test_bearer_token_never_raises(header: str) -> None:
    token = bearer_token(header)
    assert token is None or (token and token == token.strip())


def test_non_utf8_tokens_match_nothing() -> None:
    keys = ApiKeys(KEYS)
    with pytest.raises(Unauthorized):
        keys.owner("key-0123456789abcdef\udcff")
    assert not auth.is_admin("admin-key", "admin-key\udcff")

"""Signing keys: hex-encoded key/salt pairs, several at once for rotation."""

from __future__ import annotations

import binascii
from dataclasses import dataclass


class InvalidKey(ValueError):
    """A key or salt that cannot be used (bad hex, empty, or unmatched lists)."""


@dataclass(frozen=True, slots=True)
class KeyPair:
    """One HMAC key and its salt, as raw bytes. The repr never shows them."""

    key: bytes
    salt: bytes

    def __repr__(self) -> str:
        return "KeyPair(key=<hidden>, salt=<hidden>)"

    @classmethod
    def from_hex(cls, key_hex: str, salt_hex: str) -> KeyPair:
        """Build a pair from hex strings, as they are configured."""
        return cls(_unhex(key_hex, "key"), _unhex(salt_hex, "salt"))


def _unhex(value: str, what: str) -> bytes:
    text = value.strip()
    if not text:
        raise InvalidKey(f"{what} is empty")
    try:
        return binascii.unhexlify(text)
    except (binascii.Error, ValueError):
        raise InvalidKey(f"{what} is not valid hex") from None


def parse_key_pairs(keys_hex: str, salts_hex: str) -> tuple[KeyPair, ...]:
    """Parse comma-separated hex keys and salts into pairs.

    The first pair signs; any pair verifies. Keys and salts pair up by position, so
    both lists must have the same length.
    """
    keys = [k for k in keys_hex.split(",") if k.strip()]
    salts = [s for s in salts_hex.split(",") if s.strip()]
    if not keys:
        raise InvalidKey("no key given")
    if len(keys) != len(salts):
        raise InvalidKey(f"{len(keys)} key(s) but {len(salts)} salt(s): they pair up by position")
    return tuple(KeyPair.from_hex(k, s) for k, s in zip(keys, salts, strict=True))

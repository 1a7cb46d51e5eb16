"""imgproxy-compatible URL signatures: base64url(HMAC-SHA256(key, salt + path))."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from itsdangerous.encoding import base64_encode
from itsdangerous.signer import HMACAlgorithm

from pixgate_signing.keys import KeyPair

_HMAC_SHA256 = HMACAlgorithm(hashlib.sha256)
FULL_SIZE = 32


def sign_path(path: str, key_pair: KeyPair, size: int = FULL_SIZE) -> str:
    """Return the signature of `path` (everything after the signature, leading '/' included).

    `size` truncates the HMAC to that many bytes (1-32) before encoding, as imgproxy's
    IMGPROXY_SIGNATURE_SIZE does.
    """
    if not 1 <= size <= FULL_SIZE:
        raise ValueError(f"signature size must be 1-{FULL_SIZE} bytes, got {size}")
    digest = _HMAC_SHA256.get_signature(key_pair.key, key_pair.salt + path.encode())
    return base64_encode(digest[:size]).decode("ascii")


def verify_path(
    signature: str, path: str, key_pairs: Sequence[KeyPair], size: int = FULL_SIZE
) -> bool:
    """True when `signature` matches `path` under any of `key_pairs`.

    Every pair is checked with a constant-time comparison, so timing tells neither how
    much of the signature matched nor which key did.
    """
    given = signature.encode("ascii", "replace")
    try:
        path.encode()
    except UnicodeEncodeError:  # lone surrogates stand for raw non-UTF-8 bytes: never signed
        return False
    matched = False
    for pair in key_pairs:
        expected = sign_path(path, pair, size).encode("ascii")
        matched |= hmac.compare_digest(expected, given)
    return matched

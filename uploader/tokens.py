"""Delete tokens: an HMAC of the image id, handed to the uploader once, checked on delete.

A token is only the signature (base64url of an HMAC-SHA256), bound to one image id; it does
not expire. Keys rotate: the first key signs, every key verifies, so a new key goes first
and the old one stays second until tokens signed with it no longer matter. A salt of its
own keeps these signatures apart from any other made with the same key.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from itsdangerous import Signer

DELETE_TOKEN_SALT = "pixgate.delete-token"

# 32 bytes of HMAC-SHA256 in unpadded base64url. Checked before decoding: base64 decoders
# skip foreign characters, which would let many spellings of one token verify.
_TOKEN_PATTERN = re.compile(r"\A[A-Za-z0-9_-]{43}\Z")


class DeleteTokens:
    """Issues and checks delete tokens with a list of secret keys, newest first."""

    __slots__ = ("_signer",)

    def __init__(self, secret_keys: Sequence[bytes]) -> None:
        keys = list(secret_keys)
        if not keys:
            raise ValueError("at least one secret key is needed")
        if not all(isinstance(key, bytes) and key for key in keys):
            raise ValueError("secret keys must be non-empty bytes")
        # itsdangerous signs with the last key of its list and verifies with any.
        self._signer = Signer(
            keys[::-1],
            salt=DELETE_TOKEN_SALT,
            key_derivation="hmac",
            digest_method=hashlib.sha256,
        )

    def __repr__(self) -> str:
        return f"DeleteTokens(keys={len(self._signer.secret_keys)})"

    def issue(self, image_id: str) -> str:
        """The delete token of `image_id`."""
        return self._signer.get_signature(image_id).decode("ascii")

    def verify(self, token: str, image_id: str) -> bool:
        """Whether `token` was issued for `image_id` with any of the keys. Never raises."""
        if not isinstance(token, str) or not isinstance(image_id, str):
            return False
        if _TOKEN_PATTERN.match(token) is None:
            return False
        try:
            return self._signer.verify_signature(image_id.encode("utf-8"), token)
        except UnicodeEncodeError:  # a lone surrogate: no token was ever issued for it
            return False

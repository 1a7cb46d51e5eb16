"""Who is calling: API keys for uploads, delete tokens or the admin key for deletes."""

from __future__ import annotations

import hmac

from proxy.errors import PixgateError


class Unauthorized(PixgateError):
    status = 401
    code = "unauthorized"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="pixgate"'}


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class ApiKeys:
    """Upload keys; each key id names the owner of what it uploads."""

    def __init__(self, keys: tuple[tuple[str, str], ...]) -> None:
        self._keys = tuple((key_id, secret.encode()) for key_id, secret in keys)

    @property
    def required(self) -> bool:
        return bool(self._keys)

    def owner(self, token: str | None) -> str | None:
        """The key id for `token`; None when keys are off. Unauthorized when keys are on
        and the token is missing or wrong. Every key is compared, in constant time."""
        if not self._keys:
            return None
        given = _token_bytes(token or "")
        found: str | None = None
        for key_id, secret in self._keys:
            if hmac.compare_digest(secret, given):
                found = key_id
        if found is None:
            raise Unauthorized("a valid API key is required: Authorization: Bearer <key>")
        return found


def is_admin(admin_key: str, token: str | None) -> bool:
    return (
        bool(admin_key)
        and token is not None
        and hmac.compare_digest(admin_key.encode(), _token_bytes(token))
    )


def _token_bytes(token: str) -> bytes:
    # Header bytes that are not UTF-8 reach us as lone surrogates; they match no key.
    return token.encode("utf-8", "surrogatepass")

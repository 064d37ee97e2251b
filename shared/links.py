"""Signed, expiring links: a page opened from a chat message without an API token.

`sign(path, expires_at=…)` gives the query (`exp=<unix>&sig=<hex>`) to append to `path`;
`verify(path, exp, sig, now=…)` checks it. The signature is HMAC-SHA256 over `"{path}\\n{exp}"`
with a key derived from the server's `secret_key` (HKDF-like: HMAC(secret_key, "closeloop links v1"),
so the link key is never the Fernet key itself). A rotated key (`secret_key_previous`) still opens
links signed before the rotation until they expire.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from urllib.parse import urlencode

from shared.errors import Forbidden

_PURPOSE = b"closeloop links v1"


class BadSignature(Forbidden):
    pass


class LinkExpired(BadSignature):
    """A genuine link past its expiry (a 403 like any bad link, unless the page says otherwise)."""


def _key(secret: str) -> bytes:
    return hmac.new(secret.encode(), _PURPOSE, hashlib.sha256).digest()


def _mac(secret: str, path: str, exp: int) -> str:
    return hmac.new(_key(secret), f"{path}\n{exp}".encode(), hashlib.sha256).hexdigest()


def sign(path: str, *, expires_at: datetime, secret: str) -> str:
    """The query string (without `?`) that makes `path` open until `expires_at`."""
    exp = int(expires_at.timestamp())
    return urlencode({"exp": exp, "sig": _mac(secret, path, exp)})


def signed_path(path: str, *, expires_at: datetime, secret: str) -> str:
    return f"{path}?{sign(path, expires_at=expires_at, secret=secret)}"


def verify(path: str, *, exp: int, sig: str, now: datetime, secrets: list[str]) -> None:
    """Raise BadSignature (403) unless `sig` signs `path` and `exp` with one of `secrets` and
    `exp` has not passed."""
    if not any(hmac.compare_digest(_mac(s, path, exp), sig) for s in secrets):
        raise BadSignature("the link's signature does not match")
    if now.timestamp() >= exp:
        raise LinkExpired("the link has expired")

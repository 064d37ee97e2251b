"""Secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) with key rotation through MultiFernet.

The current key (`CLOSELOOP_SECRET_KEY`) encrypts; it and any `CLOSELOOP_SECRET_KEY_PREVIOUS`
keys decrypt. Rotating: put the new key first, the old one in _PREVIOUS, run
`closeloop secrets rotate` (re-encrypts every stored secret), then drop the old key.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from shared.settings import Settings, get_settings


class SecretDecryptionError(ValueError):
    """Stored ciphertext that none of the configured keys opens (wrong or rotated-away key)."""


def new_key() -> str:
    """A fresh Fernet key, suitable for CLOSELOOP_SECRET_KEY."""
    return Fernet.generate_key().decode()


def _keyring(keys: Sequence[str] | None, settings: Settings | None) -> MultiFernet:
    if keys is None:
        keys = (settings or get_settings()).secret_keys
    return MultiFernet([Fernet(k.encode()) for k in keys])


def encrypt_secret(plaintext: str, *, keys: Sequence[str] | None = None, settings: Settings | None = None) -> str:
    """Encrypt with the current key. `keys` (current first) or `settings` override the process settings."""
    return _keyring(keys, settings).encrypt(plaintext.encode()).decode()


def decrypt_secret(token: str, *, keys: Sequence[str] | None = None, settings: Settings | None = None) -> str:
    """Decrypt with any configured key; SecretDecryptionError names the setting to check."""
    try:
        return _keyring(keys, settings).decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretDecryptionError(
            "stored secret cannot be decrypted with CLOSELOOP_SECRET_KEY or CLOSELOOP_SECRET_KEY_PREVIOUS"
        ) from None


def rotate_secret(token: str, *, keys: Sequence[str] | None = None, settings: Settings | None = None) -> str:
    """Re-encrypt under the current key (decrypting with any configured key)."""
    try:
        return _keyring(keys, settings).rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretDecryptionError(
            "stored secret cannot be decrypted with CLOSELOOP_SECRET_KEY or CLOSELOOP_SECRET_KEY_PREVIOUS"
        ) from None

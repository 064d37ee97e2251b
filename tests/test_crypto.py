"""Secrets at rest: Fernet round trips, wrong keys fail clearly, rotation through previous keys."""

from __future__ import annotations

import pytest

from shared.crypto import SecretDecryptionError, decrypt_secret, encrypt_secret, new_key, rotate_secret
from shared.settings import load_settings


def test_round_trip_hides_the_plaintext():
    token = encrypt_secret("SECtest123")
    assert "SECtest123" not in token and token != encrypt_secret("SECtest123")  # random IV each time
    assert decrypt_secret(token) == "SECtest123"


def test_explicit_settings_or_keys_override_the_process_settings():
    key = new_key()
    settings = load_settings(secret_key=key)
    token = encrypt_secret("s3cret", settings=settings)
    assert decrypt_secret(token, keys=[key]) == "s3cret"
    with pytest.raises(SecretDecryptionError, match="CLOSELOOP_SECRET_KEY"):
        decrypt_secret(token)  # the default key does not open it


def test_previous_keys_still_decrypt_and_rotation_moves_to_the_current_key():
    old, new = new_key(), new_key()
    token = encrypt_secret("whsec_abc", keys=[old])
    rotating = load_settings(secret_key=new, secret_key_previous=old)
    assert decrypt_secret(token, settings=rotating) == "whsec_abc"
    rotated = rotate_secret(token, settings=rotating)
    assert decrypt_secret(rotated, keys=[new]) == "whsec_abc"
    with pytest.raises(SecretDecryptionError):
        decrypt_secret(rotated, keys=[old])


def test_a_tampered_token_is_refused():
    token = encrypt_secret("x")
    with pytest.raises(SecretDecryptionError):
        decrypt_secret(token[:-4] + "AAAA")

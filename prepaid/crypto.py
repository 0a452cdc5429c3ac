"""Sealing what must not be readable in the database: a user's bank account number (docs/compliance.md).

Fernet (AES-128-CBC and HMAC-SHA256, from the ``cryptography`` library) under ``FIELD_ENCRYPTION_KEYS``: the
first key seals, every key opens (a new key first, the old ones after it, until what they sealed is gone).
Pure: no I/O.
"""

import base64
import functools
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

__all__ = ["InvalidToken", "key_from_secret", "seal", "unseal"]


def key_from_secret(secret: str) -> str:
    """The key used when ``FIELD_ENCRYPTION_KEYS`` is unset: derived from ``SECRET_KEY`` (for local use; a
    deployment sets its own, which the deploy check asks for: wallets.checks)."""
    return base64.urlsafe_b64encode(hashlib.sha256(f"prepaid.crypto:{secret}".encode()).digest()).decode()


@functools.cache
def _keys(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def seal(text: str) -> str:
    return _keys(tuple(settings.FIELD_ENCRYPTION_KEYS)).encrypt(text.encode()).decode()


def unseal(token: str) -> str:
    """The text ``seal`` sealed; ``InvalidToken`` if no key opens it (or it was changed)."""
    return _keys(tuple(settings.FIELD_ENCRYPTION_KEYS)).decrypt(token.encode()).decode()

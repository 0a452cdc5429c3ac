"""Sealing what must not be readable in the database: a user's bank account number (docs/compliance.md).

Fernet (AES-128-CBC and HMAC-SHA256, from the ``cryptography`` library) under ``FIELD_ENCRYPTION_KEYS``: the
first key seals, every key opens (a new key first, the old ones after it, until what they sealed is gone).
Pure: no I/O.
"""

import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

__all__ = ["InvalidToken", "seal", "unseal"]


@functools.cache
def _keys(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def seal(text: str) -> str:
    return _keys(tuple(settings.FIELD_ENCRYPTION_KEYS)).encrypt(text.encode()).decode()


def unseal(token: str) -> str:
    """The text ``seal`` sealed; ``InvalidToken`` if no key opens it (or it was changed)."""
    return _keys(tuple(settings.FIELD_ENCRYPTION_KEYS)).decrypt(token.encode()).decode()

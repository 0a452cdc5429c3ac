"""System checks of the wallets' settings (``manage.py check``; ``--deploy`` for a deployment's)."""

from django.conf import settings
from django.core.checks import Tags, Warning, register

from prepaid.crypto import key_from_secret


@register(Tags.security, deploy=True)
def bank_accounts_sealed_with_their_own_key(app_configs=None, **kwargs) -> list[Warning]:
    """A deployment seals bank account numbers with keys of its own, not one derived from SECRET_KEY (which
    would make them unreadable the day SECRET_KEY changes)."""
    if [key_from_secret(settings.SECRET_KEY)] == settings.FIELD_ENCRYPTION_KEYS:
        return [Warning("FIELD_ENCRYPTION_KEYS is not set: bank account numbers are sealed with a key derived from "
                        "SECRET_KEY", hint="Set FIELD_ENCRYPTION_KEYS to a key of its own "
                        "(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())').",
                        id="wallets.W001")]
    return []

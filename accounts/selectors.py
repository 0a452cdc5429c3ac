from django.db.models import QuerySet
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from knox.models import AuthToken


def api_tokens_of(*, user) -> QuerySet[AuthToken]:
    """The user's live tokens, newest first (their digests only: the secrets are not stored)."""
    return AuthToken.objects.filter(user=user, expiry__gt=timezone.now()).order_by("-created")


def two_factor_enrolled(*, user) -> bool:
    """Whether the user has a confirmed authenticator (a TOTP device)."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def user_languages(*, user_ids) -> dict[int, str]:
    """Each user's chosen language (``LANGUAGE_CODE`` for those who chose none)."""
    from django.conf import settings

    from accounts.models import LanguagePreference

    ids = set(user_ids)
    chosen = dict(LanguagePreference.objects.filter(user_id__in=ids).values_list("user_id", "language"))
    return {user_id: chosen.get(user_id, settings.LANGUAGE_CODE) for user_id in ids}

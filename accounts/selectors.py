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

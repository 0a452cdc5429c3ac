from django.db.models import QuerySet
from django.utils import timezone
from knox.models import AuthToken


def api_tokens_of(*, user) -> QuerySet[AuthToken]:
    """The user's live tokens, newest first (their digests only: the secrets are not stored)."""
    return AuthToken.objects.filter(user=user, expiry__gt=timezone.now()).order_by("-created")

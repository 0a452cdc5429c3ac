"""API tokens: create (the secret is shown once), revoke, purge the expired.

Tokens are django-rest-knox's: 256 random bits behind a ``prepaid_`` prefix (so that
secret scanners can spot a leaked one), stored as a SHA-512 digest. A database dump
holds no usable token.
"""

import datetime

from django.conf import settings
from django.utils import timezone
from knox.models import AuthToken

from accounts.models import OperatorAction
from prepaid.errors import ApplicationError, ErrorCode


class TokenErrorCode(ErrorCode):
    TOO_MANY_TOKENS = "too_many_tokens", 409
    TOKEN_NOT_FOUND = "token_not_found", 404


def api_token_create(*, user, ttl: datetime.timedelta | None = None) -> tuple[AuthToken, str]:
    """A new token for ``user`` and its secret (not stored: shown to the caller once).

    ``ttl`` defaults to ``API_TOKEN_TTL_DAYS``. A user holds at most
    ``API_TOKENS_PER_USER_MAX`` live tokens.
    """
    live = AuthToken.objects.filter(user=user, expiry__gt=timezone.now()).count()
    if live >= settings.API_TOKENS_PER_USER_MAX:
        raise ApplicationError(TokenErrorCode.TOO_MANY_TOKENS,
                               f"token: {user.get_username()} already holds {live} live tokens (the most "
                               f"allowed); revoke one first")
    return AuthToken.objects.create(user=user, expiry=ttl or datetime.timedelta(days=settings.API_TOKEN_TTL_DAYS))


def api_token_revoke(*, user, token_id: str) -> None:
    """Revoke the user's token whose id (``tokenId``: its first characters, not secret) is given."""
    deleted, _ = AuthToken.objects.filter(user=user, token_key=token_id).delete()
    if not deleted:
        raise ApplicationError(TokenErrorCode.TOKEN_NOT_FOUND, f"tokenId: no token {token_id} of yours",
                               fields={"tokenId": ["Not found."]})


def api_tokens_revoke_all(*, user) -> int:
    """Revoke every token of ``user``; return how many there were."""
    return AuthToken.objects.filter(user=user).delete()[0]


def api_tokens_purge_expired() -> int:
    """Delete expired tokens (they are refused already); return how many."""
    return AuthToken.objects.filter(expiry__lte=timezone.now()).delete()[0]


def operator_action_record(*, user, action: str, target: str, detail: str = "") -> None:
    """Record what an operator did (shown in the admin: Operator actions)."""
    OperatorAction.objects.create(user=user if user and user.pk else None,
                                  username=getattr(user, "username", "") or "system", action=action,
                                  target=target[:200], detail=detail)

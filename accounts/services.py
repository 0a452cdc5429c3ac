"""API tokens: create (the secret is shown once), revoke, purge the expired. Sign-in: lift a
lockout, the staff's second factor (enrol, verify, reset).

Tokens are django-rest-knox's: 256 random bits behind a ``prepaid_`` prefix (so that
secret scanners can spot a leaked one), stored as a SHA-512 digest. A database dump
holds no usable token.
"""

import datetime

from axes.utils import reset as axes_reset
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp import match_token
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from knox.models import AuthToken

from accounts.models import LanguagePreference, OperatorAction
from prepaid.db import delete_in_batches
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
                               "token: " + _("%(user)s already holds %(live)s live tokens (the most allowed); "
                                             "revoke one first") % {"user": user.get_username(), "live": live})
    return AuthToken.objects.create(user=user, expiry=ttl or datetime.timedelta(days=settings.API_TOKEN_TTL_DAYS))


def api_token_revoke(*, user, token_id: str) -> None:
    """Revoke the user's token whose id (``tokenId``: its first characters, not secret) is given."""
    deleted, _kinds = AuthToken.objects.filter(user=user, token_key=token_id).delete()
    if not deleted:
        raise ApplicationError(TokenErrorCode.TOKEN_NOT_FOUND,
                               "tokenId: " + _("no token %(id)s of yours") % {"id": token_id},
                               fields={"tokenId": [_("Not found.")]})


def api_tokens_revoke_all(*, user) -> int:
    """Revoke every token of ``user``; return how many there were."""
    return AuthToken.objects.filter(user=user).delete()[0]


def api_tokens_purge_expired() -> int:
    """Delete expired tokens (they are refused already); return how many."""
    return AuthToken.objects.filter(expiry__lte=timezone.now()).delete()[0]


def sign_in_records_purge(*, older_than_days: int | None = None, batch_size: int | None = None) -> int:
    """Delete what sign-ins leave behind once it no longer counts, in bounded batches: the sign-in log older
    than LOGIN_ACCESS_LOG_RETENTION_DAYS, failed attempts whose window has passed (they no longer lock anyone
    out), expired sessions. Returns how many rows went."""
    from axes.models import AccessAttempt, AccessLog
    from django.contrib.sessions.models import Session

    days = settings.LOGIN_ACCESS_LOG_RETENTION_DAYS if older_than_days is None else older_than_days
    batch_size = batch_size or settings.LOGIN_RECORDS_PURGE_BATCH_SIZE
    now = timezone.now()
    return (delete_in_batches(AccessLog.objects.filter(attempt_time__lt=now - datetime.timedelta(days=days)),
                              batch_size=batch_size)
            + delete_in_batches(AccessAttempt.objects.filter(expiration__expires_at__lt=now), batch_size=batch_size)
            + delete_in_batches(Session.objects.filter(expire_date__lt=now), batch_size=batch_size))


def language_choose(*, user, language: str) -> None:
    """Record the user's language (one of ``LANGUAGES``): what their notifications are written in."""
    if language not in dict(settings.LANGUAGES):
        raise ValueError(f"language {language!r} is not one of {[code for code, _ in settings.LANGUAGES]}")
    LanguagePreference.objects.update_or_create(user=user, defaults={"language": language})


def operator_action_record(*, user, action: str, target: str, detail: str = "") -> None:
    """Record what an operator did (shown in the admin: Operator actions)."""
    OperatorAction.objects.create(user=user if user and user.pk else None,
                                  username=getattr(user, "username", "") or "system", action=action,
                                  target=target[:200], detail=detail)


# --- Sign-in: lockouts and the staff's second factor ----------------------------------------


class SignInErrorCode(ErrorCode):
    TWO_FACTOR_REQUIRED = "two_factor_required", 403


def login_lockout_lift(*, by, username: str | None = None, address: str | None = None, detail: str = "") -> int:
    """Lift the lockout of a username or a client address before its cool-off ends (its failed
    attempts forgotten), recorded as an operator action; return how many attempt rows went."""
    if not username and not address:
        raise ValueError("name a username or an address")
    lifted = axes_reset(username=username or None, ip=address or None)
    target = f"user:{username}" if username else f"address:{address}"
    operator_action_record(user=by, action="login_lockout_lift", target=target,
                           detail=" ".join(filter(None, [f"{lifted} attempt row(s)", detail])))
    return lifted


def two_factor_enrolment_start(*, user) -> TOTPDevice:
    """The user's authenticator being set up: an unconfirmed TOTP device (the same one until confirmed)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("id").first()
    return device or TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)


def two_factor_enrolment_confirm(*, user, token: str) -> tuple[TOTPDevice, list[str]] | None:
    """Confirm the authenticator with a code it shows; on success, new recovery codes (shown once:
    each signs in once in place of a code). None: the code was wrong."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("id").first()
    if device is None or not device.verify_token(token):
        return None
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).exclude(id=device.id).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        StaticDevice.objects.filter(user=user).delete()
        recovery = StaticDevice.objects.create(user=user, name="recovery codes", confirmed=True)
        codes = [StaticToken.random_token() for _ in range(settings.TWO_FACTOR_RECOVERY_CODES)]
        StaticToken.objects.bulk_create([StaticToken(device=recovery, token=code) for code in codes])
    return device, codes


def two_factor_verify(*, user, token: str):
    """The device that accepts ``token`` (the authenticator's code, or a recovery code, which is then
    used up), or None. django-otp throttles each device: every failure doubles the wait."""
    return match_token(user, token.replace(" ", ""))


def two_factor_reset(*, user, by, detail: str = "") -> int:
    """Forget a user's second factor (a lost phone): they enrol again at their next sign-in.
    Recorded as an operator action; returns how many devices went."""
    removed = sum(model.objects.filter(user=user).delete()[0] for model in (TOTPDevice, StaticDevice))
    operator_action_record(user=by, action="two_factor_reset", target=f"user:{user.get_username()}",
                           detail=" ".join(filter(None, [f"{removed} device row(s)", detail])))
    return removed

"""API authentication: ``Authorization: Token <token>`` with django-rest-knox tokens.

A token is stored only as its SHA-512 digest (knox), with an expiry; a user may hold
several (one per script or device), each revocable (``accounts.services``). This
class answers as knox's ``TokenAuthentication`` does (the same header parsing, the
same errors, ``(user, token)``) in one statement built when the module is imported:
knox's own lookup builds two ORM queries per request (the token, then every token of
its user, to delete expired ones on the way), and building and compiling the ORM's
query for DRF's token lookup was a third of the web process's CPU for a spend
(py-spy under ``bench/api_throughput.py``). Expired tokens are refused here and
deleted by a periodic task (``accounts.tasks.api_tokens_purge_expired``).
"""

import hmac
import re

from django.db import connection
from django.utils.translation import gettext_lazy as _
from knox import auth as knox_auth
from knox.crypto import hash_token
from knox.models import AuthToken
from knox.settings import CONSTANTS
from rest_framework import exceptions

_User = AuthToken._meta.get_field("user").related_model
_TOKEN_ATTNAMES = [field.attname for field in AuthToken._meta.concrete_fields]
_USER_ATTNAMES = [field.attname for field in _User._meta.concrete_fields]
# What a token can look like: knox's prefix (at most 10 characters) and 64 hex digits.
TOKEN_RE = re.compile(rf"[A-Za-z0-9_]{{1,{CONSTANTS.MAXIMUM_TOKEN_PREFIX_LENGTH + 64}}}")


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _token_user_sql() -> str:
    token, user = AuthToken._meta, _User._meta
    columns = ([f"t.{_quote(f.column)}" for f in token.concrete_fields]
               + [f"u.{_quote(f.column)}" for f in user.concrete_fields])
    return (f"SELECT {', '.join(columns)} FROM {_quote(token.db_table)} t "
            f"JOIN {_quote(user.db_table)} u "
            f"ON u.{_quote(user.pk.column)} = t.{_quote(token.get_field('user').column)} "
            f"WHERE t.{_quote(token.get_field('token_key').column)} = %s "
            f"AND (t.{_quote(token.get_field('expiry').column)} IS NULL "
            f"OR t.{_quote(token.get_field('expiry').column)} > now())")


TOKEN_USER_SQL = _token_user_sql()
USER_ACTIVE_SQL = (f"SELECT {_quote(_User._meta.get_field('is_active').column)} FROM {_quote(_User._meta.db_table)} "
                   f"WHERE {_quote(_User._meta.pk.column)} = %s")


def user_is_active(user_id: int) -> bool:
    """Whether the user exists and may sign in: one prebuilt statement (the ORM's
    ``filter(...).exists()`` for it was a third of a stream subscribe's CPU)."""
    with connection.cursor() as cursor:
        cursor.execute(USER_ACTIVE_SQL, [user_id])
        row = cursor.fetchone()
    return bool(row and row[0])


class TokenAuthentication(knox_auth.TokenAuthentication):
    """``Authorization: Token <token>``: a live (unexpired, unrevoked) token of an active user."""

    def authenticate_credentials(self, token: bytes):
        invalid = exceptions.AuthenticationFailed(_("Invalid token."))
        text = token.decode("latin-1")  # the header's bytes, as they came
        if not TOKEN_RE.fullmatch(text):
            raise invalid
        digest = hash_token(text)
        with connection.cursor() as cursor:
            cursor.execute(TOKEN_USER_SQL, [text[:CONSTANTS.TOKEN_KEY_LENGTH]])
            rows = cursor.fetchall()
        split = len(_TOKEN_ATTNAMES)
        for row in rows:  # several only if two tokens share their first characters
            if hmac.compare_digest(digest, row[_TOKEN_ATTNAMES.index("digest")]):
                auth_token = AuthToken.from_db(connection.alias, _TOKEN_ATTNAMES, row[:split])
                auth_token.user = _User.from_db(connection.alias, _USER_ATTNAMES, row[split:])
                return self.validate_user(auth_token)
        raise invalid

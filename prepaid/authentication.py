"""Authentication: DRF's token scheme, with its lookup in one statement built once.

DRF's ``TokenAuthentication`` runs ``Token.objects.select_related("user").get(key=key)``
on every request, and building and compiling that query was a third of the web
process's CPU for a spend (py-spy under ``bench/api_throughput.py``). This class asks
the same question (the token's row joined to its user's) with SQL built when the
module is imported, and answers exactly as DRF does: the same header parsing (it is
inherited), the same errors, the same ``(user, token)`` pair.
"""

from django.db import connection
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

_User = Token._meta.get_field("user").related_model
_TOKEN_COLUMNS = [field.column for field in Token._meta.concrete_fields]
_TOKEN_ATTNAMES = [field.attname for field in Token._meta.concrete_fields]
_USER_COLUMNS = [field.column for field in _User._meta.concrete_fields]
_USER_ATTNAMES = [field.attname for field in _User._meta.concrete_fields]


def _token_user_sql() -> str:
    quote = connection.ops.quote_name
    columns = [f"t.{quote(column)}" for column in _TOKEN_COLUMNS] + [f"u.{quote(column)}" for column in _USER_COLUMNS]
    return (f"SELECT {', '.join(columns)} FROM {quote(Token._meta.db_table)} t "
            f"JOIN {quote(_User._meta.db_table)} u ON u.{quote(_User._meta.pk.column)} = "
            f"t.{quote(Token._meta.get_field('user').column)} "
            f"WHERE t.{quote(Token._meta.pk.column)} = %s")


TOKEN_USER_SQL = _token_user_sql()
USER_ACTIVE_SQL = (f"SELECT {connection.ops.quote_name(_User._meta.get_field('is_active').column)} "
                   f"FROM {connection.ops.quote_name(_User._meta.db_table)} "
                   f"WHERE {connection.ops.quote_name(_User._meta.pk.column)} = %s")


def user_is_active(user_id: int) -> bool:
    """Whether the user exists and may sign in: one prebuilt statement (the ORM's
    ``filter(...).exists()`` for it was a third of a stream subscribe's CPU)."""
    with connection.cursor() as cursor:
        cursor.execute(USER_ACTIVE_SQL, [user_id])
        row = cursor.fetchone()
    return bool(row and row[0])


class TokenAuthentication(authentication.TokenAuthentication):
    """``Authorization: Token <key>``: DRF's scheme, one precompiled statement per request."""

    def authenticate_credentials(self, key):
        with connection.cursor() as cursor:
            cursor.execute(TOKEN_USER_SQL, [key])
            row = cursor.fetchone()
        if row is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        split = len(_TOKEN_COLUMNS)
        token = Token.from_db(connection.alias, _TOKEN_ATTNAMES, row[:split])
        user = _User.from_db(connection.alias, _USER_ATTNAMES, row[split:])
        token.user = user
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return user, token

"""API tokens: hashed at rest, expiring, revocable, several per user."""

import datetime
import hashlib
import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts import services
from accounts.authentication import TOKEN_USER_SQL
from prepaid.errors import ApplicationError

pytestmark = pytest.mark.django_db


def client_with(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def test_a_database_dump_holds_no_usable_token(user):
    instance, token = services.api_token_create(user=user)
    assert token.startswith("prepaid_") and len(token) == len("prepaid_") + 64
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM knox_authtoken")
        dump = repr(cursor.fetchall())
    assert token not in dump and token[len("prepaid_"):] not in dump
    assert instance.digest == hashlib.sha512(token.encode()).hexdigest()  # what is stored: the digest
    # What a dump does hold (a digest, the first characters) does not authenticate.
    for stolen in (instance.digest, instance.token_key):
        assert client_with(stolen).get("/api/v1/wallet").status_code == 401
    assert client_with(token).get("/api/v1/wallet").status_code == 200


def test_drf_plaintext_token_table_is_gone():
    with connection.cursor() as cursor:
        assert "authtoken_token" not in connection.introspection.table_names(cursor)


def test_several_tokens_per_user_each_revocable_and_a_limit(user, settings):
    settings.API_TOKENS_PER_USER_MAX = 3
    tokens = [services.api_token_create(user=user) for _ in range(3)]
    for _, token in tokens:
        assert client_with(token).get("/api/v1/wallet").status_code == 200
    with pytest.raises(ApplicationError) as refused:
        services.api_token_create(user=user)
    assert refused.value.code == "too_many_tokens"

    services.api_token_revoke(user=user, token_id=tokens[0][0].token_key)
    assert client_with(tokens[0][1]).get("/api/v1/wallet").status_code == 401  # at once
    assert client_with(tokens[1][1]).get("/api/v1/wallet").status_code == 200  # the others still work
    services.api_token_create(user=user)  # room again
    assert services.api_tokens_revoke_all(user=user) == 3
    assert all(client_with(t).get("/api/v1/wallet").status_code == 401 for _, t in tokens)


def test_a_token_expires_and_expired_tokens_are_purged(user):
    instance, token = services.api_token_create(user=user, ttl=datetime.timedelta(days=1))
    assert instance.expiry > timezone.now() + datetime.timedelta(hours=23)
    AuthToken.objects.filter(pk=instance.pk).update(expiry=timezone.now() - datetime.timedelta(seconds=1))
    r = client_with(token).get("/api/v1/wallet")
    assert (r.status_code, r.json()["code"]) == (401, "authentication_failed")
    assert services.api_tokens_purge_expired() == 1
    assert not AuthToken.objects.filter(pk=instance.pk).exists()


def test_the_lookup_is_one_statement(user, django_assert_num_queries):
    _, token = services.api_token_create(user=user)
    assert "JOIN" in TOKEN_USER_SQL
    with django_assert_num_queries(2):  # the token with its user, then the wallet
        assert client_with(token).get("/api/v1/wallet").status_code == 200


@pytest.mark.parametrize("header", [
    "Token", "Token a b", "Token prepaid_" + "0" * 64, "Token " + "x" * 5000, "Token \u00e9\u00e9",
    "Token prepaid_\x00", "Bearer prepaid_abc",
])
def test_malformed_or_unknown_credentials_are_refused_not_crashed(header, user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header.encode("utf-8").decode("latin-1"))
    r = client.get("/api/v1/wallet")
    assert r.status_code == 401
    assert r.json()["code"] in ("authentication_failed", "not_authenticated")


def test_create_api_token_prints_the_token_once_and_it_works(user):
    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_token", user.username, "--days", "7", stdout=out, stderr=err)
    token = out.getvalue().strip()
    assert token.startswith("prepaid_") and "\n" not in token
    assert token not in err.getvalue()  # the id and expiry go to stderr, not the secret
    assert client_with(token).get("/api/v1/wallet").status_code == 200
    assert AuthToken.objects.get(user=user).expiry < timezone.now() + datetime.timedelta(days=7, minutes=1)

    call_command("revoke_api_tokens", user.username, stdout=io.StringIO())
    assert client_with(token).get("/api/v1/wallet").status_code == 401


def test_token_commands_name_what_is_wrong(user):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no user 'nobody'"):
        call_command("create_api_token", "nobody")
    with pytest.raises(CommandError, match="--days"):
        call_command("create_api_token", user.username, "--days", "10000")
    with pytest.raises(CommandError, match="tokenId"):
        call_command("revoke_api_tokens", user.username, "--token-id", "prepaid_nope")

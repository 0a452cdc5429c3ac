"""Who may call the wallet API, and what each caller reaches."""

import pytest
from rest_framework.test import APIClient

from tests.helpers import (
    REVERSALS,
    SPENDS,
    api_charge,
    api_post,
    balance_of,
)

pytestmark = pytest.mark.django_db


def test_unauthenticated_requests_are_refused():
    client = APIClient()
    for method, path in (("get", "/api/v1/wallet"), ("get", "/api/v1/wallet/transactions"), ("post", SPENDS)):
        r = getattr(client, method)(path, {}, format="json")
        assert r.status_code == 401
        assert r.json()["code"] == "not_authenticated"
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    r = bad.get("/api/v1/wallet")
    assert (r.status_code, r.json()["code"]) == (401, "authentication_failed")


def test_users_only_reach_their_own_wallet(api_client_for, user_factory):
    alice, bob = user_factory(), user_factory()
    alice_api, bob_api = api_client_for(alice), api_client_for(bob)
    alice_charge = api_charge(alice_api, 5_000).json()["transactionId"]
    assert bob_api.get("/api/v1/wallet").json()["balance"] == 0
    assert bob_api.get("/api/v1/wallet/transactions").json()["results"] == []
    r = api_post(bob_api, REVERSALS, {"transactionId": alice_charge, "reason": "mine now"})
    assert (r.status_code, r.json()["code"]) == (404, "transaction_not_found")
    assert "transactionId" in r.json()["message"]
    assert balance_of(alice.id) == 5_000


def test_browser_session_auth_works(client, user):
    client.force_login(user)
    assert client.get("/api/v1/wallet").json()["balance"] == 0


def test_a_token_answers_for_its_user_while_the_user_is_active_and_the_token_exists(api_client_for, user_factory):
    from accounts.services import api_tokens_revoke_all

    alice, bob = user_factory(), user_factory()
    alice_api = api_client_for(alice)
    api_charge(api_client_for(bob), 1_000)
    assert alice_api.get("/api/v1/wallet").json()["balance"] == 0  # alice's wallet, not the last one charged

    alice.is_active = False
    alice.save(update_fields=["is_active"])
    r = alice_api.get("/api/v1/wallet")
    assert (r.status_code, r.json()["code"]) == (401, "authentication_failed")
    assert "중지되었거나 삭제되었습니다" in r.json()["message"]

    alice.is_active = True
    alice.save(update_fields=["is_active"])
    assert alice_api.get("/api/v1/wallet").status_code == 200
    api_tokens_revoke_all(user=alice)
    r = alice_api.get("/api/v1/wallet")
    assert (r.status_code, r.json()["code"]) == (401, "authentication_failed")

"""Users create, list and revoke their API tokens over HTTP."""

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_a_logged_in_user_creates_lists_and_revokes_tokens(client, user, user_factory):
    client.force_login(user)  # the wallet page's session
    created = client.post("/api/v1/auth/tokens", {"expiresInDays": 3}, content_type="application/json")
    assert created.status_code == 201
    body = created.json()
    assert body["token"].startswith("prepaid_") and body["tokenId"] == body["token"][:15]

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
    listed = api.get("/api/v1/auth/tokens").json()["results"]
    assert [t["tokenId"] for t in listed] == [body["tokenId"]]
    assert "token" not in listed[0]  # never shown again

    other = user_factory()
    other_api = APIClient()
    other_api.force_authenticate(other)
    r = other_api.delete(f"/api/v1/auth/tokens/{body['tokenId']}")
    assert (r.status_code, r.json()["code"]) == (404, "token_not_found")  # not theirs

    assert api.delete(f"/api/v1/auth/tokens/{body['tokenId']}").status_code == 204
    assert api.get("/api/v1/auth/tokens").status_code == 401  # revoked: it was this very token


def test_token_creation_refuses_bad_input_naming_the_field(client, user):
    client.force_login(user)
    for body in ({"expiresInDays": 0}, {"expiresInDays": "7"}, {"expiresInDays": 10**6}):
        r = client.post("/api/v1/auth/tokens", body, content_type="application/json")
        assert (r.status_code, r.json()["code"]) == (400, "invalid_input")
        assert "expiresInDays" in r.json()["message"]

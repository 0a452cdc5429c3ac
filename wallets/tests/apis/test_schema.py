"""The OpenAPI schema and its documentation page."""

import pytest

pytestmark = pytest.mark.django_db


def test_openapi_schema_and_docs(client):
    r = client.get("/api/schema/?format=json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    assert {"/api/v1/wallet", "/api/v1/wallet/charges", "/api/v1/wallet/spends", "/api/v1/wallet/reversals",
            "/api/v1/wallet/transactions"} <= set(paths)
    params = {p["name"] for p in paths["/api/v1/wallet/spends"]["post"]["parameters"]}
    assert "Idempotency-Key" in params
    assert client.get("/api/docs/").status_code == 200

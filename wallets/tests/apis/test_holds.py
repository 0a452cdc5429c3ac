"""Holds over HTTP: place, read, capture in parts, void; the wallet shows its available balance."""

import uuid

import pytest

from tests.helpers import api_charge, api_post

pytestmark = pytest.mark.django_db

HOLDS = "/api/v1/wallet/holds"


def _money(wallet: dict) -> dict:
    """What GET /api/v1/wallet says of the money (its tier and limits aside: tests/settings.py's)."""
    return {name: wallet[name] for name in ("balance", "available", "currency")}


def test_place_capture_and_void(api):
    api_charge(api, 50_000)
    r = api_post(api, HOLDS, {"amount": 30_000, "description": "주유 선승인", "expiresInS": 3_600})
    assert r.status_code == 201, r.json()
    hold = r.json()
    assert (hold["status"], hold["amount"], hold["remaining"], hold["balance"], hold["available"]) == (
        "ACTIVE", 30_000, 30_000, 50_000, 20_000)
    assert _money(api.get("/api/v1/wallet").json()) == {"balance": 50_000, "available": 20_000, "currency": "KRW"}

    r = api_post(api, f"{HOLDS}/{hold['holdId']}/captures", {"amount": 12_000})
    assert (r.status_code, r.json()["type"], r.json()["newBalance"]) == (201, "CAPTURE", 38_000)
    r = api_post(api, f"{HOLDS}/{hold['holdId']}/captures", {"amount": 18_001})
    assert (r.status_code, r.json()["code"]) == (422, "capture_exceeds_hold")
    assert "amount" in r.json()["message"]
    read = api.get(f"{HOLDS}/{hold['holdId']}").json()
    assert (read["captured"], read["remaining"], read["status"]) == (12_000, 18_000, "ACTIVE")

    r = api_post(api, f"{HOLDS}/{hold['holdId']}/void", None)
    assert (r.status_code, r.json()["status"], r.json()["available"]) == (200, "VOIDED", 38_000)
    r = api_post(api, f"{HOLDS}/{hold['holdId']}/void", None)
    assert (r.status_code, r.json()["code"]) == (409, "hold_not_active")
    assert api.get("/api/v1/wallet").json()["available"] == 38_000


def test_bad_holds_get_clear_errors(api):
    api_charge(api, 1_000)
    cases = [
        ({"amount": 2_000, "description": "d", "expiresInS": 60}, 409, "insufficient_funds", "amount"),
        ({"amount": 100, "description": "d", "expiresInS": 0}, 400, "invalid_input", "expiresInS"),
        ({"amount": 100, "description": "d", "expiresInS": "60"}, 400, "invalid_input", "expiresInS"),
        ({"amount": 100, "description": "d"}, 400, "invalid_input", "expiresInS"),
    ]
    for body, status, code, field in cases:
        r = api_post(api, HOLDS, body)
        assert (r.status_code, r.json()["code"]) == (status, code), (body, r.json())
        assert field in r.json()["message"], (body, r.json())
    missing = uuid.uuid4()
    r = api_post(api, f"{HOLDS}/{missing}/captures", {})
    assert (r.status_code, r.json()["code"]) == (404, "hold_not_found")
    assert api.get(f"{HOLDS}/{missing}").status_code == 404

"""Remaining-balance refunds over HTTP: the request, its answer (201 done, 202 still running), its refusals
naming their field, its replay, reading it back; an operator's grant, staff only."""

import uuid

import pytest

from tests.helpers import api_charge, api_post

pytestmark = pytest.mark.django_db

REQUESTS = "/api/v1/wallet/refund-requests"
ACCOUNT = {"bankCode": "088", "accountNumber": "110-123-456789", "holderName": "홍길동"}


def _spend(api, amount):
    assert api_post(api, "/api/v1/wallet/spends", {"amount": amount, "description": "커피"}).status_code == 201


def test_request_replay_and_read_back(api):
    api_charge(api, 20_000)
    _spend(api, 15_000)
    key = str(uuid.uuid4())
    r = api_post(api, REQUESTS, {"bankAccount": ACCOUNT}, key=key)
    assert r.status_code == 201, r.json()
    made = r.json()
    assert (made["status"], made["amount"], made["toCards"], made["refundedToCards"], made["paidOut"]) == (
        "COMPLETED", 5_000, 5_000, 5_000, 0)
    assert made["accountNumber"] == "********6789" and made["cardRefunds"][0]["status"] == "SUCCEEDED"
    again = api_post(api, REQUESTS, {"bankAccount": ACCOUNT}, key=key)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["requestId"] == made["requestId"]
    assert api.get(f"{REQUESTS}/{made['requestId']}").json() == made
    assert [x["requestId"] for x in api.get(REQUESTS).json()["results"]] == [made["requestId"]]
    assert api.get("/api/v1/wallet").json()["balance"] == 0


def test_refusals_name_their_field_and_write_nothing(api):
    api_charge(api, 20_000)
    r = api_post(api, REQUESTS, {})
    assert (r.status_code, r.json()["code"]) == (422, "refund_not_eligible")
    assert r.json()["message"].startswith("ground:") and "ground" in r.json()["fields"]
    r = api_post(api, REQUESTS, {"bankAccount": {**ACCOUNT, "bankCode": "123"}})
    assert (r.status_code, r.json()["code"]) == (400, "invalid_input") and "bankAccount.bankCode" in r.json()["fields"]
    r = api_post(api, REQUESTS, {"bankAccount": {**ACCOUNT, "accountNumber": "12ab"}})
    assert (r.status_code, r.json()["code"]) == (400, "invalid_input")
    assert r.json()["message"].startswith("bankAccount.accountNumber")
    r = api_post(api, REQUESTS, {"bankAccount": "088-110123456789"})
    assert (r.status_code, r.json()["code"]) == (400, "invalid_input") and "bankAccount" in r.json()["message"]
    assert (api.get(f"{REQUESTS}/{uuid.uuid4()}").status_code, api.get(f"{REQUESTS}/not-a-uuid").status_code) == (
        404, 404)
    assert api.get(REQUESTS).json()["results"] == []
    assert api.get("/api/v1/wallet").json()["balance"] == 20_000


def test_an_operator_grants_it_on_another_ground(api, api_client_for, user, staff_user):
    api_charge(api, 20_000)
    path = f"/api/v1/users/{user.username}/refund-requests"
    assert api_post(api, path, {"ground": "merchants_cut"}).status_code == 403
    staff = api_client_for(staff_user)
    r = api_post(staff, path, {"ground": "used_share"})
    assert (r.status_code, r.json()["code"]) == (400, "invalid_input")
    r = api_post(staff, path, {"ground": "merchants_cut"})
    assert (r.status_code, r.json()["status"], r.json()["ground"], r.json()["amount"]) == (
        201, "COMPLETED", "merchants_cut", 20_000)
    from accounts.models import OperatorAction
    assert OperatorAction.objects.filter(action="refund_request", target=f"user:{user.id}").count() == 1

"""The wallet API: operations and reads."""

import uuid

import pytest

from tests.helpers import (
    REVERSALS,
    SPENDS,
    api_charge,
    api_post,
    assert_ledger_consistent,
)

pytestmark = pytest.mark.django_db


def _money(wallet: dict) -> dict:
    """What GET /api/v1/wallet says of the money (its tier and limits aside: tests/settings.py's)."""
    return {name: wallet[name] for name in ("balance", "available", "currency")}


def test_charge_spend_reverse_and_read_back(api, user):
    r = api_charge(api, 10_000, orderId="order-api-1", paymentKey="pk_api_1")
    assert r.status_code == 201, r.json()
    body = r.json()
    assert body["type"] == "CHARGE"
    assert (body["amount"], body["newBalance"], body["currency"]) == (10_000, 10_000, "KRW")
    assert (body["orderId"], body["paymentKey"]) == ("order-api-1", "pk_api_1")
    uuid.UUID(body["transactionId"])

    r = api_post(api, SPENDS, {"amount": 3_000, "description": "lunch"})
    assert r.status_code == 201, r.json()
    spend_id = r.json()["transactionId"]
    assert (r.json()["type"], r.json()["newBalance"]) == ("SPEND", 7_000)

    r = api_post(api, REVERSALS, {"transactionId": spend_id, "amount": 1_000, "reason": "partly refunded"})
    assert r.status_code == 201, r.json()
    assert (r.json()["type"], r.json()["amount"], r.json()["newBalance"]) == ("REVERSAL", 1_000, 8_000)
    assert r.json()["reversesTransactionId"] == spend_id

    r = api_post(api, REVERSALS, {"transactionId": spend_id, "reason": "the rest"})
    assert (r.status_code, r.json()["amount"], r.json()["newBalance"]) == (201, 2_000, 10_000)

    assert _money(api.get("/api/v1/wallet").json()) == {"balance": 10_000, "available": 10_000, "currency": "KRW"}
    listed = api.get("/api/v1/wallet/transactions").json()["results"]
    assert [t["type"] for t in listed] == ["REVERSAL", "REVERSAL", "SPEND", "CHARGE"]
    assert listed[2]["reversedAmount"] == 3_000
    assert_ledger_consistent(user.id)


def test_new_user_has_an_empty_wallet(api):
    assert _money(api.get("/api/v1/wallet").json()) == {"balance": 0, "available": 0, "currency": "KRW"}
    assert api.get("/api/v1/wallet/transactions").json()["results"] == []


def test_transactions_are_paginated_newest_first_with_a_cursor(api):
    for _ in range(5):
        assert api_charge(api, 1_000).status_code == 201
    seen, url = [], "/api/v1/wallet/transactions?pageSize=2"
    while url:
        page = api.get(url).json()
        assert len(page["results"]) <= 2
        seen += page["results"]
        url = page["next"]
    assert [t["newBalance"] for t in seen] == [5_000, 4_000, 3_000, 2_000, 1_000]
    assert len({t["transactionId"] for t in seen}) == 5


def test_each_operation_is_few_round_trips_to_postgresql(api, user, django_assert_num_queries):
    """Authentication (the token) and one statement per operation; a charge has two (before and after
    the gateway), and so has the reversal of a charge (before and after the gateway's refund)."""
    spend = {"amount": 1_000, "description": "counted"}
    with django_assert_num_queries(3):
        charge_id = api_charge(api, 10_000).json()["transactionId"]
    with django_assert_num_queries(2):
        assert api_post(api, SPENDS, spend, key="counted").status_code == 201
    with django_assert_num_queries(3):
        assert api_post(api, REVERSALS, {"transactionId": charge_id, "amount": 1, "reason": "r"}).status_code == 201
    spend_id = api_post(api, SPENDS, {"amount": 1, "description": "x"}).json()["transactionId"]
    with django_assert_num_queries(2):
        assert api_post(api, REVERSALS, {"transactionId": spend_id, "reason": "r"}).status_code == 201
    with django_assert_num_queries(2):  # a replay too
        assert api_post(api, SPENDS, spend, key="counted").headers["Idempotent-Replayed"] == "true"

"""Transfers over HTTP: look the recipient up (masked, rate limited), send, read both sides' lists."""

import pytest
from django.test import override_settings

from tests.helpers import REVERSALS, api_charge, api_post

pytestmark = pytest.mark.django_db

TRANSFERS = "/api/v1/wallet/transfers"


def test_send_and_read_both_sides(api_client_for, user_factory):
    sender, recipient = user_factory(), user_factory(first_name="민수", last_name="김")
    api_sender, api_recipient = api_client_for(sender), api_client_for(recipient)
    api_charge(api_sender, 20_000)
    found = api_sender.get(f"/api/v1/wallet/recipients/{recipient.username}")
    assert (found.status_code, found.json()) == (200, {"username": recipient.username, "displayName": "김*수"})

    r = api_post(api_sender, TRANSFERS, {"to": recipient.username, "amount": 15_000, "message": "점심값"})
    assert r.status_code == 201, r.json()
    sent = r.json()
    assert (sent["type"], sent["amount"], sent["newBalance"], sent["description"]) == (
        "TRANSFER", 15_000, 5_000, "점심값")

    (received,) = api_recipient.get("/api/v1/wallet/transactions").json()["results"]
    assert (received["transactionId"], received["direction"], received["counterparty"], received["newBalance"],
            received["reversibleAmount"]) == (sent["transactionId"], "in", sender.username, 15_000, 15_000)
    first_two = api_sender.get("/api/v1/wallet/transactions").json()["results"]
    assert [(t["type"], t["direction"], t["counterparty"], t["reversibleAmount"]) for t in first_two] == [
        ("TRANSFER", "out", recipient.username, 0), ("CHARGE", "in", None, 20_000)]

    r = api_post(api_sender, REVERSALS, {"transactionId": sent["transactionId"], "reason": "취소"})
    assert (r.status_code, r.json()["code"]) == (422, "not_reversible")
    assert "보낸 사람이 취소할 수 없습니다" in r.json()["message"]
    r = api_post(api_recipient, REVERSALS, {"transactionId": sent["transactionId"], "amount": 5_000,
                                            "reason": "반환"})
    assert (r.status_code, r.json()["newBalance"]) == (201, 10_000)
    assert api_sender.get("/api/v1/wallet").json()["balance"] == 10_000


def test_bad_transfers_get_clear_errors(api, user):
    api_charge(api, 1_000)
    cases = [
        ({"to": "nobody-by-that-name", "amount": 100}, 404, "recipient_not_found", "to"),
        ({"to": user.username, "amount": 100}, 422, "transfer_to_self", "to"),
        ({"to": user.username, "amount": "100"}, 400, "invalid_input", "amount"),
        ({"amount": 100}, 400, "invalid_input", "to"),
        ({"to": user.username, "amount": 100, "extra": 1}, 400, "invalid_input", "extra"),
    ]
    for body, status, code, field in cases:
        r = api_post(api, TRANSFERS, body)
        assert (r.status_code, r.json()["code"]) == (status, code), (body, r.json())
        assert field in r.json()["message"], (body, r.json())


@override_settings(API_RECIPIENT_LOOKUPS_PER_USER_PER_MINUTE=3)
def test_looking_recipients_up_is_rate_limited(api, user_factory):
    names = [user_factory().username for _ in range(2)] + ["no-such-1", "no-such-2"]
    statuses = [api.get(f"/api/v1/wallet/recipients/{name}").status_code for name in names]
    assert statuses == [200, 200, 404, 429]
    # Transfers look recipients up too: they share the budget.
    r = api_post(api, TRANSFERS, {"to": names[0], "amount": 1})
    assert (r.status_code, r.json()["code"]) == (429, "throttled")

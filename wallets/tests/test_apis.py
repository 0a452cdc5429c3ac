"""The HTTP API: operations, errors, idempotency keys, auth, pagination, schema."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from ledger.models import JournalEntry
from outbox.models import OutboxEvent
from wallets import services
from wallets.models import IdempotencyRecord, Payment
from wallets.tests.helpers import assert_ledger_consistent, balance_of, new_order_id

pytestmark = pytest.mark.django_db

CHARGES, SPENDS, REVERSALS = "/api/v1/wallet/charges", "/api/v1/wallet/spends", "/api/v1/wallet/reversals"


def post(client, path, body, key=None, **extra):
    headers = {"HTTP_IDEMPOTENCY_KEY": key or str(uuid.uuid4())} if key is not False else {}
    return client.post(path, body, format="json", **headers, **extra)


def charge(client, amount=10_000, **body):
    body = {"amount": amount, "paymentKey": "pk_" + uuid.uuid4().hex[:8], "orderId": new_order_id(), **body}
    return post(client, CHARGES, body)


def snapshot():
    return (JournalEntry.objects.count(), OutboxEvent.objects.count(), Payment.objects.count())


# --- Operations ----------------------------------------------------------------------


def test_charge_spend_reverse_and_read_back(api, user):
    r = charge(api, 10_000, orderId="order-api-1", paymentKey="pk_api_1")
    assert r.status_code == 201, r.json()
    body = r.json()
    assert body["type"] == "CHARGE"
    assert (body["amount"], body["newBalance"], body["currency"]) == (10_000, 10_000, "KRW")
    assert (body["orderId"], body["paymentKey"]) == ("order-api-1", "pk_api_1")
    uuid.UUID(body["transactionId"])

    r = post(api, SPENDS, {"amount": 3_000, "description": "lunch"})
    assert r.status_code == 201, r.json()
    spend_id = r.json()["transactionId"]
    assert (r.json()["type"], r.json()["newBalance"]) == ("SPEND", 7_000)

    r = post(api, REVERSALS, {"transactionId": spend_id, "amount": 1_000, "reason": "partly refunded"})
    assert r.status_code == 201, r.json()
    assert (r.json()["type"], r.json()["amount"], r.json()["newBalance"]) == ("REVERSAL", 1_000, 8_000)
    assert r.json()["reversesTransactionId"] == spend_id

    r = post(api, REVERSALS, {"transactionId": spend_id, "reason": "the rest"})
    assert (r.status_code, r.json()["amount"], r.json()["newBalance"]) == (201, 2_000, 10_000)

    assert api.get("/api/v1/wallet").json() == {"balance": 10_000, "currency": "KRW"}
    listed = api.get("/api/v1/wallet/transactions").json()["results"]
    assert [t["type"] for t in listed] == ["REVERSAL", "REVERSAL", "SPEND", "CHARGE"]
    assert listed[2]["reversedAmount"] == 3_000
    assert_ledger_consistent(user.id)


def test_new_user_has_an_empty_wallet(api):
    assert api.get("/api/v1/wallet").json() == {"balance": 0, "currency": "KRW"}
    assert api.get("/api/v1/wallet/transactions").json()["results"] == []


def test_transactions_are_paginated_newest_first_with_a_cursor(api):
    for _ in range(5):
        assert charge(api, 1_000).status_code == 201
    seen, url = [], "/api/v1/wallet/transactions?pageSize=2"
    while url:
        page = api.get(url).json()
        assert len(page["results"]) <= 2
        seen += page["results"]
        url = page["next"]
    assert [t["newBalance"] for t in seen] == [5_000, 4_000, 3_000, 2_000, 1_000]
    assert len({t["transactionId"] for t in seen}) == 5


# --- Auth ---------------------------------------------------------------------------------


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
    alice_charge = charge(alice_api, 5_000).json()["transactionId"]
    assert bob_api.get("/api/v1/wallet").json()["balance"] == 0
    assert bob_api.get("/api/v1/wallet/transactions").json()["results"] == []
    r = post(bob_api, REVERSALS, {"transactionId": alice_charge, "reason": "mine now"})
    assert (r.status_code, r.json()["code"]) == (404, "transaction_not_found")
    assert "transactionId" in r.json()["message"]
    assert balance_of(alice.id) == 5_000


def test_browser_session_auth_works(client, user):
    client.force_login(user)
    assert client.get("/api/v1/wallet").json() == {"balance": 0, "currency": "KRW"}


# --- Bad input: 4xx, a code, a message naming the field, nothing written -----------------

BAD_BODIES = [
    (SPENDS, {"amount": 1.5, "description": "x"}, "amount"),
    (SPENDS, {"amount": 100.0, "description": "x"}, "amount"),
    (SPENDS, {"amount": "100", "description": "x"}, "amount"),
    (SPENDS, {"amount": True, "description": "x"}, "amount"),
    (SPENDS, {"amount": 0, "description": "x"}, "amount"),
    (SPENDS, {"amount": -5, "description": "x"}, "amount"),
    (SPENDS, {"amount": 10_000_001, "description": "x"}, "amount"),
    (SPENDS, {"amount": None, "description": "x"}, "amount"),
    (SPENDS, {"description": "x"}, "amount"),
    (SPENDS, {"amount": 100}, "description"),
    (SPENDS, {"amount": 100, "description": "x" * 201}, "description"),
    (SPENDS, {"amount": 100, "description": 12}, "description"),
    (SPENDS, {"amount": 100, "description": "x", "ammount": 100}, "ammount"),
    (SPENDS, [1, 2], "nonFieldErrors"),
    (CHARGES, {"amount": 100, "paymentKey": "pk", "orderId": "bad id!"}, "orderId"),
    (CHARGES, {"amount": 100, "paymentKey": "pk", "orderId": "abc"}, "orderId"),
    (CHARGES, {"amount": 100, "paymentKey": "", "orderId": "order-123456"}, "paymentKey"),
    (CHARGES, {"amount": 100, "paymentKey": "p" * 201, "orderId": "order-123456"}, "paymentKey"),
    (CHARGES, {"amount": 100, "orderId": "order-123456"}, "paymentKey"),
    (CHARGES, {"amount": 1e3, "paymentKey": "pk", "orderId": "order-123456"}, "amount"),
    (REVERSALS, {"transactionId": "not-a-uuid", "reason": "x"}, "transactionId"),
    (REVERSALS, {"transactionId": 12345, "reason": "x"}, "transactionId"),
    (REVERSALS, {"transactionId": str(uuid.uuid4()), "reason": "x"}, "transactionId"),
    (REVERSALS, {"transactionId": str(uuid.uuid4()), "amount": 0, "reason": "x"}, "amount"),
    (REVERSALS, {"transactionId": str(uuid.uuid4())}, "reason"),
]


@pytest.mark.parametrize(("path", "body", "field"), BAD_BODIES)
def test_bad_input_is_a_4xx_naming_the_field_and_writes_nothing(api, path, body, field):
    charge(api, 50_000)
    before = snapshot()
    key = str(uuid.uuid4())
    r = post(api, path, body, key=key)
    assert 400 <= r.status_code < 500, r.content
    error = r.json()
    assert set(error) <= {"code", "message", "fields"}
    assert error["code"]
    assert field in error["message"]
    if "fields" in error:
        assert field in error["fields"]
    assert snapshot() == before
    # A refused request keeps no idempotency record: the client can fix the body and retry with the key.
    assert not IdempotencyRecord.objects.filter(key=key, response_status__lt=404).exists()


def test_malformed_json_is_a_400(api):
    r = api.post(SPENDS, data="{not json", content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-malformed")
    assert (r.status_code, r.json()["code"]) == (400, "malformed_request")


def test_form_encoded_body_is_unsupported(api):
    r = api.post(SPENDS, data={"amount": 1}, HTTP_IDEMPOTENCY_KEY="k-form")
    assert (r.status_code, r.json()["code"]) == (415, "unsupported_media_type")


def test_idempotency_key_is_required_and_checked(api):
    r = post(api, SPENDS, {"amount": 1, "description": "x"}, key=False)
    assert (r.status_code, r.json()["code"]) == (400, "idempotency_key_missing")
    assert "Idempotency-Key" in r.json()["message"]
    r = post(api, SPENDS, {"amount": 1, "description": "x"}, key="has space")
    assert (r.status_code, r.json()["code"]) == (400, "idempotency_key_invalid")
    r = post(api, SPENDS, {"amount": 1, "description": "x"}, key="k" * 256)
    assert (r.status_code, r.json()["code"]) == (400, "idempotency_key_invalid")


def test_insufficient_funds_names_the_amount(api):
    charge(api, 1_000)
    r = post(api, SPENDS, {"amount": 1_001, "description": "x"})
    assert (r.status_code, r.json()["code"]) == (409, "insufficient_funds")
    assert r.json()["message"].startswith("amount:")


def test_duplicate_order_is_a_409(api):
    assert charge(api, 1_000, orderId="order-twice").status_code == 201
    r = charge(api, 1_000, orderId="order-twice")
    assert (r.status_code, r.json()["code"]) == (409, "duplicate_order")
    assert "orderId" in r.json()["fields"]


def test_declined_payment_is_a_402(api, settings):
    settings.PAYMENT_SANDBOX_DECLINED_AMOUNTS = {4_040}
    r = charge(api, 4_040)
    assert (r.status_code, r.json()["code"]) == (402, "payment_declined")


# --- Idempotency-Key semantics ---------------------------------------------------------------


def test_same_key_same_body_replays_the_first_response_without_a_second_effect(api, user):
    charge(api, 10_000)
    body = {"amount": 2_000, "description": "once"}
    first = post(api, SPENDS, body, key="spend-key-1")
    second = post(api, SPENDS, body, key="spend-key-1")
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert balance_of(user.id) == 8_000
    assert JournalEntry.objects.filter(kind="SPEND").count() == 1
    assert_ledger_consistent(user.id)


def test_same_key_different_body_is_a_422(api):
    charge(api, 10_000)
    assert post(api, SPENDS, {"amount": 2_000, "description": "a"}, key="k-2").status_code == 201
    r = post(api, SPENDS, {"amount": 3_000, "description": "a"}, key="k-2")
    assert (r.status_code, r.json()["code"]) == (422, "idempotency_key_reused")
    r = post(api, REVERSALS, {"transactionId": str(uuid.uuid4()), "reason": "a"}, key="k-2")
    assert (r.status_code, r.json()["code"]) == (422, "idempotency_key_reused")


def test_same_key_while_in_flight_is_a_409(api, user):
    body = {"amount": 2_000, "description": "slow"}
    services.idempotency_begin(user_id=user.id, key="k-busy", method="POST", path=SPENDS,
                               fingerprint=services.idempotency_fingerprint(body))
    r = post(api, SPENDS, body, key="k-busy")
    assert (r.status_code, r.json()["code"]) == (409, "idempotency_request_in_flight")


def test_a_business_refusal_is_replayed_too(api, user):
    body = {"amount": 2_000, "description": "no money"}
    first = post(api, SPENDS, body, key="k-refused")
    assert first.status_code == 409
    charge(api, 10_000)
    second = post(api, SPENDS, body, key="k-refused")
    assert (second.status_code, second.json()) == (409, first.json())
    assert balance_of(user.id) == 10_000


def test_keys_belong_to_one_user(api_client_for, user_factory):
    alice, bob = api_client_for(user_factory()), api_client_for(user_factory())
    for client in (alice, bob):
        charge(client, 5_000)
        assert post(client, SPENDS, {"amount": 1_000, "description": "x"}, key="shared").status_code == 201


def test_a_crashed_first_attempt_is_taken_over_without_a_second_effect(api, user, settings):
    """The first attempt committed, then died before storing its response."""
    charge(api, 10_000)
    body = {"amount": 2_500, "description": "crash"}
    start = services.idempotency_begin(user_id=user.id, key="k-crash", method="POST", path=SPENDS,
                                       fingerprint=services.idempotency_fingerprint(body))
    entry = services.wallet_spend(user_id=user.id, amount=2_500, description="crash", idempotency_key="k-crash")
    # Still "in flight" for a while: a retry is told to wait.
    assert post(api, SPENDS, body, key="k-crash").status_code == 409
    IdempotencyRecord.objects.filter(id=start.record.id).update(
        created_at=timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_IN_FLIGHT_TIMEOUT_S + 1)
    )
    r = post(api, SPENDS, body, key="k-crash")
    assert r.status_code == 201
    assert r.json()["transactionId"] == str(entry.id)
    assert balance_of(user.id) == 7_500
    assert_ledger_consistent(user.id)


def test_a_gateway_outage_is_not_cached_and_the_retry_succeeds(api, user, settings):
    settings.PAYMENT_SANDBOX_UNAVAILABLE_AMOUNTS = {5_030}
    body = {"amount": 5_030, "paymentKey": "pk_outage", "orderId": "order-outage"}
    r = post(api, CHARGES, body, key="k-outage")
    assert (r.status_code, r.json()["code"]) == (503, "payment_gateway_unavailable")
    settings.PAYMENT_SANDBOX_UNAVAILABLE_AMOUNTS = set()
    r = post(api, CHARGES, body, key="k-outage")
    assert r.status_code == 201
    assert balance_of(user.id) == 5_030


# --- Schema ----------------------------------------------------------------------------------


def test_openapi_schema_and_docs(client):
    r = client.get("/api/schema/?format=json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    assert {"/api/v1/wallet", "/api/v1/wallet/charges", "/api/v1/wallet/spends", "/api/v1/wallet/reversals",
            "/api/v1/wallet/transactions"} <= set(paths)
    params = {p["name"] for p in paths["/api/v1/wallet/spends"]["post"]["parameters"]}
    assert "Idempotency-Key" in params
    assert client.get("/api/docs/").status_code == 200

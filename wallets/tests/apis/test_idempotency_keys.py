"""Idempotency-Key semantics (Stripe's): replay, reuse, in flight, crashes, outages."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from ledger.models import JournalEntry
from tests.helpers import (
    CHARGES,
    REVERSALS,
    SPENDS,
    api_charge,
    api_post,
    assert_ledger_consistent,
    balance_of,
)
from wallets import services
from wallets.models import IdempotencyRecord

pytestmark = pytest.mark.django_db


def test_same_key_same_body_replays_the_first_response_without_a_second_effect(api, user):
    api_charge(api, 10_000)
    body = {"amount": 2_000, "description": "once"}
    first = api_post(api, SPENDS, body, key="spend-key-1")
    second = api_post(api, SPENDS, body, key="spend-key-1")
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert balance_of(user.id) == 8_000
    assert JournalEntry.objects.filter(kind="SPEND").count() == 1
    assert_ledger_consistent(user.id)


def test_same_key_different_body_is_a_422(api):
    api_charge(api, 10_000)
    assert api_post(api, SPENDS, {"amount": 2_000, "description": "a"}, key="k-2").status_code == 201
    r = api_post(api, SPENDS, {"amount": 3_000, "description": "a"}, key="k-2")
    assert (r.status_code, r.json()["code"]) == (422, "idempotency_key_reused")
    r = api_post(api, REVERSALS, {"transactionId": str(uuid.uuid4()), "reason": "a"}, key="k-2")
    assert (r.status_code, r.json()["code"]) == (422, "idempotency_key_reused")


def test_same_key_while_in_flight_is_a_409(api, user):
    body = {"amount": 2_000, "description": "slow"}
    services.idempotency_begin(user_id=user.id, key="k-busy", method="POST", path=SPENDS,
                               fingerprint=services.idempotency_fingerprint(body))
    r = api_post(api, SPENDS, body, key="k-busy")
    assert (r.status_code, r.json()["code"]) == (409, "idempotency_request_in_flight")


def test_a_business_refusal_is_replayed_too(api, user):
    body = {"amount": 2_000, "description": "no money"}
    first = api_post(api, SPENDS, body, key="k-refused")
    assert first.status_code == 409
    api_charge(api, 10_000)
    second = api_post(api, SPENDS, body, key="k-refused")
    assert (second.status_code, second.json()) == (409, first.json())
    assert balance_of(user.id) == 10_000


def test_keys_belong_to_one_user(api_client_for, user_factory):
    alice, bob = api_client_for(user_factory()), api_client_for(user_factory())
    for client in (alice, bob):
        api_charge(client, 5_000)
        assert api_post(client, SPENDS, {"amount": 1_000, "description": "x"}, key="shared").status_code == 201


def test_a_crashed_first_attempt_is_taken_over_without_a_second_effect(api, user, settings):
    """The first attempt committed, then died before storing its response."""
    api_charge(api, 10_000)
    body = {"amount": 2_500, "description": "crash"}
    start = services.idempotency_begin(user_id=user.id, key="k-crash", method="POST", path=SPENDS,
                                       fingerprint=services.idempotency_fingerprint(body))
    entry = services.wallet_spend(user_id=user.id, amount=2_500, description="crash", idempotency_key="k-crash")
    # Still "in flight" for a while: a retry is told to wait.
    assert api_post(api, SPENDS, body, key="k-crash").status_code == 409
    IdempotencyRecord.objects.filter(id=start.record.id).update(
        created_at=timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_IN_FLIGHT_TIMEOUT_S + 1)
    )
    r = api_post(api, SPENDS, body, key="k-crash")
    assert r.status_code == 201
    assert r.json()["transactionId"] == str(entry.id)
    assert balance_of(user.id) == 7_500
    assert_ledger_consistent(user.id)


def test_a_gateway_outage_is_not_cached_and_the_retry_succeeds(api, user, settings):
    settings.PAYMENT_SANDBOX_UNAVAILABLE_AMOUNTS = {5_030}
    body = {"amount": 5_030, "paymentKey": "pk_outage", "orderId": "order-outage"}
    r = api_post(api, CHARGES, body, key="k-outage")
    assert (r.status_code, r.json()["code"]) == (503, "payment_gateway_unavailable")
    settings.PAYMENT_SANDBOX_UNAVAILABLE_AMOUNTS = set()
    r = api_post(api, CHARGES, body, key="k-outage")
    assert r.status_code == 201
    assert balance_of(user.id) == 5_030

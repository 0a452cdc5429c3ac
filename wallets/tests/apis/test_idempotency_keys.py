"""Idempotency-Key semantics (Stripe's): replay, reuse, in flight, crashes, outages."""

import uuid
from datetime import timedelta

import psycopg
import pytest
from django.utils import timezone

from ledger.models import JournalEntry
from tests.gateways import ProcessDied
from tests.helpers import (
    CHARGES,
    REVERSALS,
    SPENDS,
    api_charge,
    api_post,
    assert_ledger_consistent,
    balance_of,
)
from tests.support import test_database_url
from wallets import services
from wallets.models import IdempotencyRecord, Payment

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


@pytest.mark.django_db(transaction=True)
def test_same_key_while_in_flight_is_a_409_then_the_answer_is_replayed(api, user, settings):
    api_charge(api, 10_000)
    body = {"amount": 2_000, "description": "slow"}
    fingerprint = services.idempotency_key(key="k-busy", method="POST", path=SPENDS, body=body).fingerprint
    # The first request with the key is in the middle of its transaction (another connection).
    with psycopg.connect(test_database_url()) as first:
        (outcome,) = first.execute(
            "SELECT outcome FROM wallet_spend(p_user_id => %s, p_amount => 2000, p_description => 'slow', "
            "p_key => 'k-busy', p_fingerprint => %s, p_entry_id => gen_random_uuid(), "
            "p_event_id => gen_random_uuid(), p_topic => %s, p_key_ttl => '1 day', p_in_flight_timeout => '1 min')",
            [user.id, fingerprint, settings.KAFKA_TOPIC_WALLET_EVENTS]).fetchone()
        assert outcome == "done"
        r = api_post(api, SPENDS, body, key="k-busy")
        assert (r.status_code, r.json()["code"]) == (409, "idempotency_request_in_flight")
        first.commit()
    r = api_post(api, SPENDS, body, key="k-busy")
    assert (r.status_code, r.headers["Idempotent-Replayed"], r.json()["newBalance"]) == (201, "true", 8_000)
    assert balance_of(user.id) == 8_000
    assert JournalEntry.objects.filter(kind="SPEND").count() == 1


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


def test_a_charge_whose_request_died_is_taken_over_without_a_second_effect(api, user, settings):
    """The first attempt died while the gateway was being asked: its key is in flight, its payment PENDING."""
    body = {"amount": 2_500, "paymentKey": "pk_crash", "orderId": "order-crash"}
    settings.PAYMENT_GATEWAY = "tests.gateways.DyingGateway"
    with pytest.raises(ProcessDied):
        api_post(api, CHARGES, body, key="k-crash")
    settings.PAYMENT_GATEWAY = "wallets.payments.SandboxGateway"
    # Still "in flight" for a while: a retry is told to wait.
    r = api_post(api, CHARGES, body, key="k-crash")
    assert (r.status_code, r.json()["code"]) == (409, "idempotency_request_in_flight")
    IdempotencyRecord.objects.filter(user=user, key="k-crash").update(
        created_at=timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_IN_FLIGHT_TIMEOUT_S + 1)
    )
    r = api_post(api, CHARGES, body, key="k-crash")
    assert r.status_code == 201
    payment = Payment.objects.get(order_id="order-crash")
    assert (payment.status, payment.attempts, str(payment.entry_id)) == ("CREDITED", 2, r.json()["transactionId"])
    assert api_post(api, CHARGES, body, key="k-crash").headers["Idempotent-Replayed"] == "true"
    assert balance_of(user.id) == 2_500
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

"""Many requests at once against one wallet, each thread on its own PostgreSQL connection."""

import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.management import call_command
from django.db import connection

from outbox.models import OutboxEvent
from prepaid.errors import ApplicationError
from tests.helpers import assert_ledger_consistent, balance_of, new_order_id
from wallets import services
from wallets.models import Operation

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 200


def run_concurrently(fn, n: int) -> list:
    """Run ``fn(i)`` n times at once; every call starts together. Returns results or exceptions."""
    barrier = threading.Barrier(n)

    def task(i):
        try:
            barrier.wait()
            return fn(i)
        except Exception as exc:  # collected and asserted on by the caller
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(task, range(n)))


def outcome(result) -> str:
    if isinstance(result, ApplicationError):
        return result.code
    if isinstance(result, Exception):
        return f"unexpected {type(result).__name__}: {result}"
    return "ok"


def test_concurrent_spends_never_overdraw(user):
    services.wallet_charge(user_id=user.id, amount=50_000, payment_key="pk", order_id=new_order_id())
    # 200 spends of 300 won against 50,000 won: exactly 166 fit.
    results = run_concurrently(
        lambda i: services.wallet_spend(user_id=user.id, amount=300, description=f"spend {i}"), THREADS
    )
    counts = Counter(outcome(r) for r in results)
    assert counts == {"ok": 166, "insufficient_funds": 34}
    assert balance_of(user.id) == 50_000 - 166 * 300
    assert OutboxEvent.objects.filter(event_type="SPEND_COMPLETED").count() == 166
    assert_ledger_consistent(user.id)
    call_command("reconcile_ledger")


def test_concurrent_reversals_of_one_spend_never_exceed_it(user):
    services.wallet_charge(user_id=user.id, amount=10_000, payment_key="pk", order_id=new_order_id())
    spend = services.wallet_spend(user_id=user.id, amount=7_000, description="big spend").transaction
    results = run_concurrently(
        lambda i: services.wallet_reverse(user_id=user.id, transaction_id=spend.id, amount=100, reason=f"r{i}"),
        THREADS,
    )
    counts = Counter(outcome(r) for r in results)
    assert counts == {"ok": 70, "already_fully_reversed": 130}
    assert balance_of(user.id) == 10_000
    assert sum(Operation.objects.filter(reverses=spend).values_list("amount", flat=True)) == 7_000
    assert OutboxEvent.objects.filter(event_type="REVERSAL_COMPLETED").count() == 70
    assert_ledger_consistent(user.id)
    call_command("reconcile_ledger")


def test_concurrent_charges_with_one_order_id_credit_once(user):
    order_id = new_order_id()
    results = run_concurrently(
        lambda i: services.wallet_charge(user_id=user.id, amount=1_000, payment_key="pk-same", order_id=order_id),
        THREADS,
    )
    counts = Counter(outcome(r) for r in results)
    assert counts == {"ok": 1, "duplicate_order": THREADS - 1}
    assert balance_of(user.id) == 1_000
    assert OutboxEvent.objects.count() == 1
    assert_ledger_consistent(user.id)


def test_parallel_requests_with_one_idempotency_key_have_one_effect(api_client_for, user):
    from rest_framework.test import APIClient

    services.wallet_charge(user_id=user.id, amount=10_000, payment_key="pk", order_id=new_order_id())
    token = api_client_for(user)._credentials["HTTP_AUTHORIZATION"]
    key = str(uuid.uuid4())

    def request(i):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=token)
        return client.post("/api/v1/wallet/spends", {"amount": 1_000, "description": "once"}, format="json",
                           HTTP_IDEMPOTENCY_KEY=key)

    responses = run_concurrently(request, 20)
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, statuses
    assert statuses[201] >= 1
    created = {r.json()["transactionId"] for r in responses if r.status_code == 201}
    assert len(created) == 1  # every 201 is the same transaction (first or replay)
    assert all(r.json()["code"] == "idempotency_request_in_flight" for r in responses if r.status_code == 409)
    assert balance_of(user.id) == 9_000
    assert Operation.objects.filter(kind="SPEND").count() == 1
    assert_ledger_consistent(user.id)


def test_many_users_at_once_keep_every_ledger_consistent(user_factory):
    users = [user_factory() for _ in range(20)]

    def work(i):
        u = users[i % len(users)]
        services.wallet_charge(user_id=u.id, amount=1_000, payment_key="pk", order_id=new_order_id())
        return services.wallet_spend(user_id=u.id, amount=400, description="x")

    results = run_concurrently(work, 100)
    assert all(outcome(r) == "ok" for r in results), Counter(outcome(r) for r in results)
    for u in users:
        assert balance_of(u.id) == 5 * 600
        assert_ledger_consistent(u.id)
    call_command("reconcile_ledger")


def test_transfers_both_ways_at_once_never_deadlock_and_conserve_money(user_factory):
    """A->B and B->A together: each locks both wallets, always in wallet id order, so neither waits for
    the other forever (PostgreSQL would abort one with a deadlock error, which this would see)."""
    first, second = user_factory(), user_factory()
    services.wallet_charge(user_id=first.id, amount=100_000, payment_key="pk", order_id=new_order_id())
    services.wallet_charge(user_id=second.id, amount=100_000, payment_key="pk", order_id=new_order_id())
    pairs = [(first, second), (second, first)]

    def send(i):
        payer, payee = pairs[i % 2]
        return services.wallet_transfer(user_id=payer.id, to=payee.username, amount=1_000 + i, message=str(i))

    results = run_concurrently(send, 40)
    assert Counter(outcome(r) for r in results) == {"ok": 40}, [r for r in results if outcome(r) != "ok"]
    sent = {user.id: sum(1_000 + i for i in range(40) if pairs[i % 2][0] == user) for user in (first, second)}
    assert balance_of(first.id) == 100_000 - sent[first.id] + sent[second.id]
    assert balance_of(first.id) + balance_of(second.id) == 200_000
    assert OutboxEvent.objects.filter(event_type="TRANSFER_RECEIVED").count() == 40

"""Wallet operations at the service layer (real PostgreSQL)."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from ledger.models import Account, EntryKind, JournalEntry, Posting
from outbox.models import OutboxEvent
from prepaid.errors import ApplicationError
from prepaid.invariants import InvariantViolation
from wallets import services
from wallets.events import wallet_event_validate
from wallets.models import Payment, PaymentStatus
from wallets.tests.helpers import assert_ledger_consistent, balance_of, new_order_id

pytestmark = pytest.mark.django_db


def charge(user, amount, **kw):
    return services.wallet_charge(user_id=user.id, amount=amount, payment_key=kw.pop("payment_key", "pk_test"),
                                  order_id=kw.pop("order_id", None) or new_order_id(), **kw)


def test_charge_credits_wallet_with_balanced_entry_and_one_event(user):
    entry = charge(user, 10_000, payment_key="pk_abc", order_id="order-0001")

    assert balance_of(user.id) == 10_000
    assert (entry.kind, entry.amount, entry.balance_after) == (EntryKind.CHARGE, 10_000, 10_000)
    postings = {p.account.code: p.amount for p in entry.postings.select_related("account")}
    assert postings == {f"wallet:{user.id}": 10_000, Account.PAYMENT_CLEARING_CODE: -10_000}
    payment = Payment.objects.get(order_id="order-0001")
    assert (payment.status, payment.entry_id) == (PaymentStatus.CREDITED, entry.id)

    event = OutboxEvent.objects.get()
    assert event.key == str(user.id)
    assert event.published_at is None
    assert event.payload["eventType"] == "CHARGE_COMPLETED"
    assert event.payload["amount"] == 10_000
    assert event.payload["newBalance"] == 10_000
    assert event.payload["paymentKey"] == "pk_abc"
    assert event.payload["orderId"] == "order-0001"
    assert event.payload["metadata"]["transactionId"] == str(entry.id)
    assert event.headers == {"eventId": str(event.event_id), "eventType": "CHARGE_COMPLETED",
                             "schemaVersion": "1", "contentType": "application/json"}
    wallet_event_validate(event.payload)
    assert_ledger_consistent(user.id)


def test_spend_debits_wallet(user):
    charge(user, 10_000)
    entry = services.wallet_spend(user_id=user.id, amount=2_500, description="coffee")
    assert balance_of(user.id) == 7_500
    assert entry.balance_after == 7_500
    event = OutboxEvent.objects.get(event_type="SPEND_COMPLETED")
    assert (event.payload["amount"], event.payload["newBalance"], event.payload["description"]) == (2_500, 7_500,
                                                                                                    "coffee")
    wallet_event_validate(event.payload)
    assert_ledger_consistent(user.id)


def test_spend_more_than_balance_is_refused_and_writes_nothing(user):
    charge(user, 1_000)
    with pytest.raises(ApplicationError) as err:
        services.wallet_spend(user_id=user.id, amount=1_001, description="too much")
    assert err.value.code == "insufficient_funds"
    assert err.value.http_status == 409
    assert balance_of(user.id) == 1_000
    assert JournalEntry.objects.count() == 1
    assert OutboxEvent.objects.count() == 1


def test_spend_from_a_new_wallet_is_insufficient_funds(user):
    with pytest.raises(ApplicationError) as err:
        services.wallet_spend(user_id=user.id, amount=1, description="nothing there")
    assert err.value.code == "insufficient_funds"
    assert balance_of(user.id) == 0


def test_reversing_a_spend_gives_the_money_back_in_parts(user):
    charge(user, 10_000)
    spend = services.wallet_spend(user_id=user.id, amount=4_000, description="shoes")
    first = services.wallet_reverse(user_id=user.id, transaction_id=spend.id, amount=1_500, reason="one pair back")
    assert balance_of(user.id) == 7_500
    rest = services.wallet_reverse(user_id=user.id, transaction_id=spend.id, amount=None, reason="the rest")
    assert rest.amount == 2_500
    assert balance_of(user.id) == 10_000
    assert first.reverses_id == spend.id == rest.reverses_id
    event = OutboxEvent.objects.filter(event_type="REVERSAL_COMPLETED").order_by("id").last()
    assert event.payload["reversedAmount"] == 2_500
    assert event.payload["reason"] == "the rest"
    assert event.payload["metadata"]["reversedTransactionId"] == str(spend.id)
    wallet_event_validate(event.payload)

    with pytest.raises(ApplicationError) as err:
        services.wallet_reverse(user_id=user.id, transaction_id=spend.id, amount=None, reason="again")
    assert err.value.code == "already_fully_reversed"
    assert_ledger_consistent(user.id)


def test_reversal_beyond_what_is_left_is_refused(user):
    charge(user, 10_000)
    spend = services.wallet_spend(user_id=user.id, amount=4_000, description="shoes")
    services.wallet_reverse(user_id=user.id, transaction_id=spend.id, amount=3_000, reason="part")
    with pytest.raises(ApplicationError) as err:
        services.wallet_reverse(user_id=user.id, transaction_id=spend.id, amount=1_001, reason="too much")
    assert err.value.code == "reversal_exceeds_remaining"
    assert balance_of(user.id) == 9_000


def test_reversing_a_charge_takes_the_money_back_only_if_the_balance_covers_it(user):
    top_up = charge(user, 10_000)
    services.wallet_spend(user_id=user.id, amount=7_000, description="spent most")
    with pytest.raises(ApplicationError) as err:
        services.wallet_reverse(user_id=user.id, transaction_id=top_up.id, amount=None, reason="cancel")
    assert err.value.code == "insufficient_funds"
    reversal = services.wallet_reverse(user_id=user.id, transaction_id=top_up.id, amount=3_000, reason="cancel")
    assert reversal.balance_after == 0
    postings = {p.account.code: p.amount for p in reversal.postings.select_related("account")}
    assert postings == {f"wallet:{user.id}": -3_000, Account.PAYMENT_CLEARING_CODE: 3_000}
    assert_ledger_consistent(user.id)


def test_a_reversal_cannot_be_reversed(user):
    charge(user, 1_000)
    spend = services.wallet_spend(user_id=user.id, amount=500, description="x")
    reversal = services.wallet_reverse(user_id=user.id, transaction_id=spend.id, amount=None, reason="r")
    with pytest.raises(ApplicationError) as err:
        services.wallet_reverse(user_id=user.id, transaction_id=reversal.id, amount=None, reason="r")
    assert err.value.code == "not_reversible"


def test_another_users_transaction_is_not_found(user_factory):
    alice, bob = user_factory(), user_factory()
    alice_charge = charge(alice, 5_000)
    charge(bob, 5_000)
    with pytest.raises(ApplicationError) as err:
        services.wallet_reverse(user_id=bob.id, transaction_id=alice_charge.id, amount=None, reason="steal")
    assert (err.value.code, err.value.http_status) == ("transaction_not_found", 404)
    assert balance_of(alice.id) == balance_of(bob.id) == 5_000


def test_the_same_order_is_never_credited_twice(user_factory):
    alice, bob = user_factory(), user_factory()
    charge(alice, 5_000, order_id="order-dup-1")
    for who, amount in ((alice, 5_000), (bob, 5_000), (alice, 7_000)):
        with pytest.raises(ApplicationError) as err:
            charge(who, amount, order_id="order-dup-1")
        assert err.value.code == "duplicate_order"
    assert balance_of(alice.id) == 5_000
    assert balance_of(bob.id) == 0
    assert JournalEntry.objects.filter(order_id="order-dup-1").count() == 1


def test_declined_payment_marks_it_failed_and_credits_nothing(user, settings):
    settings.PAYMENT_SANDBOX_DECLINED_AMOUNTS = {4_040}
    with pytest.raises(ApplicationError) as err:
        charge(user, 4_040, order_id="order-declined")
    assert (err.value.code, err.value.http_status) == ("payment_declined", 402)
    payment = Payment.objects.get(order_id="order-declined")
    assert payment.status == PaymentStatus.FAILED
    assert payment.failure_code == "REJECT_CARD_PAYMENT"
    assert balance_of(user.id) == 0
    assert not OutboxEvent.objects.exists()


def test_gateway_unavailable_leaves_payment_pending_and_recovery_credits_it(user, settings):
    settings.PAYMENT_SANDBOX_UNAVAILABLE_AMOUNTS = {5_030}
    with pytest.raises(ApplicationError) as err:
        charge(user, 5_030, order_id="order-unknown")
    assert (err.value.code, err.value.http_status) == ("payment_gateway_unavailable", 503)
    assert Payment.objects.get(order_id="order-unknown").status == PaymentStatus.PENDING
    assert balance_of(user.id) == 0

    # Still no answer: recovery leaves it pending.
    assert services.payment_recover_pending(older_than_s=0)["unavailable"] == 1
    # The gateway answers again (it had confirmed the payment): recovery credits it, once.
    settings.PAYMENT_SANDBOX_UNAVAILABLE_AMOUNTS = set()
    assert services.payment_recover_pending(older_than_s=0) == {"credited": 1, "failed": 0, "unavailable": 0,
                                                                "skipped": 0}
    assert services.payment_recover_pending(older_than_s=0)["credited"] == 0
    assert balance_of(user.id) == 5_030
    assert Payment.objects.get(order_id="order-unknown").status == PaymentStatus.CREDITED
    assert_ledger_consistent(user.id)


def test_recovery_leaves_young_pending_payments_to_their_request(user, settings):
    settings.PAYMENT_SANDBOX_UNAVAILABLE_AMOUNTS = {5_030}
    with pytest.raises(ApplicationError):
        charge(user, 5_030)
    settings.PAYMENT_SANDBOX_UNAVAILABLE_AMOUNTS = set()
    assert services.payment_recover_pending(older_than_s=3600)["credited"] == 0
    assert balance_of(user.id) == 0


def test_retrying_a_pending_charge_resumes_it(user, settings):
    settings.PAYMENT_SANDBOX_UNAVAILABLE_AMOUNTS = {5_030}
    with pytest.raises(ApplicationError):
        charge(user, 5_030, order_id="order-retry", payment_key="pk_retry")
    settings.PAYMENT_SANDBOX_UNAVAILABLE_AMOUNTS = set()
    entry = charge(user, 5_030, order_id="order-retry", payment_key="pk_retry")
    assert entry.order_id == "order-retry"
    assert balance_of(user.id) == 5_030


def test_charge_over_the_balance_limit_is_refused(user, settings):
    settings.WALLET_BALANCE_MAX = 15_000
    charge(user, 10_000)
    with pytest.raises(ApplicationError) as err:
        charge(user, 5_001)
    assert err.value.code == "balance_limit_exceeded"
    assert balance_of(user.id) == 10_000


@pytest.mark.parametrize("amount", [0, -1, 10_000_001, 1.5, "100", True])
def test_services_refuse_amounts_outside_the_rules_even_without_the_api(user, amount):
    with pytest.raises(ApplicationError) as err:
        services.wallet_spend(user_id=user.id, amount=amount, description="x")
    assert err.value.code == "invalid_input"


def test_a_rolled_back_operation_leaves_no_trace(user):
    charge(user, 10_000)
    before = (JournalEntry.objects.count(), Posting.objects.count(), OutboxEvent.objects.count())

    class Boom(Exception):
        pass

    # An operation whose transaction fails after the outbox row was written.
    original = services.outbox_event_record

    def record_then_fail(**kwargs):
        original(**kwargs)
        raise Boom

    services.outbox_event_record = record_then_fail
    try:
        with pytest.raises(Boom):
            services.wallet_spend(user_id=user.id, amount=1_000, description="fails late")
    finally:
        services.outbox_event_record = original
    assert (JournalEntry.objects.count(), Posting.objects.count(), OutboxEvent.objects.count()) == before
    assert balance_of(user.id) == 10_000


def test_an_operation_is_never_part_of_an_outer_transaction(user):
    # durable=True: if a caller wrapped an operation in its own transaction, the
    # operation's commit would not be a commit. That is refused.
    charge(user, 1_000)
    with transaction.atomic(), pytest.raises(RuntimeError, match="durable"):
        services.wallet_spend(user_id=user.id, amount=100, description="nested")
    assert balance_of(user.id) == 1_000


@pytest.mark.django_db(transaction=True)
def test_outbox_record_refuses_to_run_outside_a_transaction():
    with pytest.raises(InvariantViolation):
        services.outbox_event_record(event_id=None, event_type="X", key="1", payload={}, headers={})


def test_idempotency_keys_expire_and_are_purged(user, settings):
    start = services.idempotency_begin(user_id=user.id, key="k1", method="POST", path="/p", fingerprint="f")
    services.idempotency_complete(record=start.record, status=201, body={"ok": True})
    assert services.idempotency_purge_expired() == 0
    old = timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL_S + 1)
    type(start.record).objects.filter(id=start.record.id).update(created_at=old)
    assert services.idempotency_purge_expired() == 1

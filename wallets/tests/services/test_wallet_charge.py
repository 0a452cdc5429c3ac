"""wallet_charge: the gateway confirms, the wallet is credited once; declines, outages and recovery."""

import pytest

from ledger.models import Account
from outbox.models import OutboxEvent
from prepaid.errors import ApplicationError
from prepaid.events import event_validate
from tests.helpers import assert_ledger_consistent, balance_of, charge
from wallets import services
from wallets.models import Operation, OperationKind, Payment, PaymentStatus

pytestmark = pytest.mark.django_db


def test_charge_credits_wallet_with_balanced_entry_and_one_event(user):
    entry = charge(user, 10_000, payment_key="pk_abc", order_id="order-0001")

    assert balance_of(user.id) == 10_000
    assert (entry.kind, entry.amount, entry.balance_after) == (OperationKind.CHARGE, 10_000, 10_000)
    postings = {p.account.code: p.amount for p in entry.entry.postings.select_related("account")}
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
    event_validate(event.event)
    assert_ledger_consistent(user.id)


def test_the_same_order_is_never_credited_twice(user_factory):
    alice, bob = user_factory(), user_factory()
    charge(alice, 5_000, order_id="order-dup-1")
    for who, amount in ((alice, 5_000), (bob, 5_000), (alice, 7_000)):
        with pytest.raises(ApplicationError) as err:
            charge(who, amount, order_id="order-dup-1")
        assert err.value.code == "duplicate_order"
    assert balance_of(alice.id) == 5_000
    assert balance_of(bob.id) == 0
    assert Operation.objects.filter(order_id="order-dup-1").count() == 1


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
    counts = services.payment_recover_pending(older_than_s=0)
    assert counts["credited"] == 1 and sum(counts.values()) == 1
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
    settings.WALLET_BALANCE_MAX_UNVERIFIED_WON = 15_000
    charge(user, 10_000)
    with pytest.raises(ApplicationError) as err:
        charge(user, 5_001)
    assert err.value.code == "balance_limit_exceeded"
    assert balance_of(user.id) == 10_000

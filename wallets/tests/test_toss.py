"""Toss Payments: confirm, refund on reversal, recovery, webhooks, against a local server speaking
Toss's API (tests/fake_toss.py): its endpoints, its Basic auth, its error bodies, its idempotent
cancels, and the faults it can be made to answer with."""

import logging
import uuid

import pytest

from outbox.models import OutboxEvent
from tests.fake_toss import GARBLED, SECRET_KEY
from tests.helpers import (
    CHARGES,
    REVERSALS,
    SPENDS,
    api_post,
    assert_ledger_consistent,
    balance_of,
    held_of,
    new_order_id,
    staff_sign_in,
)
from wallets import metrics, services
from wallets.models import Operation, Payment, PaymentStatus, Refund, RefundStatus

pytestmark = pytest.mark.django_db

WEBHOOK = "/api/v1/payments/toss/webhook"


def toss_charge(api, toss, amount=10_000, *, key=None, pay=True, **body):
    """The customer pays in Toss's widget, then the client confirms the charge through the API."""
    order_id = new_order_id()
    payment_key = toss.authorize(order_id=order_id, amount=amount) if pay else f"tgen_{uuid.uuid4().hex[:12]}"
    body = {"amount": amount, "paymentKey": payment_key, "orderId": order_id, **body}
    return api_post(api, CHARGES, body, key=key), payment_key


def reverse(api, transaction_id, amount=None, *, key=None):
    body = {"transactionId": transaction_id, "reason": "고객 요청", **({"amount": amount} if amount else {})}
    return api_post(api, REVERSALS, body, key=key)


# --- Confirm --------------------------------------------------------------------------------


def test_a_charge_is_confirmed_at_toss_and_credited(api, user, toss):
    answer, payment_key = toss_charge(api, toss, 10_000)
    assert answer.status_code == 201, answer.json()
    assert toss.payments[payment_key]["status"] == "DONE"
    assert balance_of(user.id) == 10_000
    assert Payment.objects.get(payment_key=payment_key).gateway == "toss"
    assert_ledger_consistent(user.id)


def test_a_tampered_amount_is_refused_by_toss_and_credits_nothing(api, user, toss):
    order_id = new_order_id()
    payment_key = toss.authorize(order_id=order_id, amount=1_000)  # the customer paid 1,000
    answer = api_post(api, CHARGES, {"amount": 100_000, "paymentKey": payment_key, "orderId": order_id})
    assert answer.status_code == 402 and answer.json()["code"] == "payment_declined"
    assert answer.json()["fields"] == {"paymentKey": ["NOT_MATCHES_AMOUNT"]}
    assert toss.payments[payment_key]["status"] == "READY"
    assert Payment.objects.get(order_id=order_id).status == PaymentStatus.FAILED
    assert balance_of(user.id) == 0


@pytest.mark.parametrize("fault", ["5xx", "PROVIDER_ERROR"])
def test_a_temporary_error_leaves_the_charge_pending_and_recovery_confirms_it(api, user, toss, fault):
    toss.fault("confirm", fault, status=500 if fault == "5xx" else 400)
    answer, payment_key = toss_charge(api, toss, 7_000)
    assert answer.status_code == 503 and answer.json()["code"] == "payment_gateway_unavailable"
    assert toss.payments[payment_key]["status"] == "READY"  # Toss did nothing
    assert balance_of(user.id) == 0

    counts = services.payment_recover_pending(older_than_s=0)  # looks the order up: READY, so confirms
    assert counts["credited"] == 1
    assert toss.payments[payment_key]["status"] == "DONE"
    assert balance_of(user.id) == 7_000
    assert services.payment_recover_pending(older_than_s=0)["credited"] == 0


def test_a_confirm_that_timed_out_is_credited_once_by_recovery(api, user, toss):
    toss.fault("confirm", "timeout")  # Toss confirms; its answer comes too late
    answer, payment_key = toss_charge(api, toss, 5_000)
    assert answer.status_code == 503
    assert toss.payments[payment_key]["status"] == "DONE"  # paid at Toss, not credited here
    assert balance_of(user.id) == 0

    assert services.payment_recover_pending(older_than_s=0)["credited"] == 1  # DONE at Toss: credited
    assert services.payment_recover_pending(older_than_s=0)["credited"] == 0
    assert balance_of(user.id) == 5_000
    assert Operation.objects.filter(user=user, kind="CHARGE").count() == 1
    assert [c for c in toss.calls if c == ("POST", "/v1/payments/confirm")] == [("POST", "/v1/payments/confirm")]


def test_recovery_fails_a_charge_toss_never_got_paid_for(api, user, toss):
    toss.fault("confirm", "5xx")
    answer, _ = toss_charge(api, toss, 3_000, pay=False)  # no such payment at Toss
    assert answer.status_code == 503
    assert services.payment_recover_pending(older_than_s=0)["failed"] == 1
    payment = Payment.objects.get(user=user)
    assert (payment.status, payment.failure_code) == (PaymentStatus.FAILED, "NOT_FOUND_PAYMENT")
    assert balance_of(user.id) == 0


def test_already_processed_payment_on_a_retried_confirm_is_a_confirmation(api, user, toss):
    toss.fault("confirm", "ALREADY_PROCESSED_PAYMENT")  # the first confirm went through; we heard this
    answer, payment_key = toss_charge(api, toss, 4_000)
    assert answer.status_code == 201, answer.json()
    assert balance_of(user.id) == 4_000


def test_already_processed_for_another_amount_is_not_a_confirmation(api, user, toss):
    order_id = new_order_id()
    payment_key = toss.authorize(order_id=order_id, amount=4_000)
    toss.fault("confirm", "ALREADY_PROCESSED_PAYMENT")
    answer = api_post(api, CHARGES, {"amount": 40_000, "paymentKey": payment_key, "orderId": order_id})
    assert answer.status_code == 402
    assert balance_of(user.id) == 0


def test_a_wrong_secret_key_is_our_fault_not_the_customers_and_is_never_logged(api, user, toss, settings, caplog):
    settings.TOSS_SECRET_KEY = "test_sk_not_the_right_one_0000"
    caplog.set_level(logging.DEBUG)
    answer, _ = toss_charge(api, toss, 2_000)
    assert answer.status_code == 503  # not a decline: the payment stays PENDING for recovery
    assert Payment.objects.get(user=user).status == PaymentStatus.PENDING
    assert any("UNAUTHORIZED_KEY" in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records)
    settings.TOSS_SECRET_KEY = SECRET_KEY
    assert services.payment_recover_pending(older_than_s=0)["credited"] == 1
    for secret in (SECRET_KEY, "test_sk_not_the_right_one_0000"):
        assert secret not in caplog.text
        assert secret not in repr(services.payment_gateway())


# --- Refund on reversal --------------------------------------------------------------------


def test_reversing_a_charge_refunds_it_on_the_card_then_debits_the_wallet(api, user, toss):
    charged, payment_key = toss_charge(api, toss, 10_000)
    answer = reverse(api, charged.json()["transactionId"])
    assert answer.status_code == 201, answer.json()
    assert toss.payments[payment_key]["status"] == "CANCELED"
    assert balance_of(user.id) == 0
    (refund,) = Refund.objects.filter(user=user)
    assert (refund.status, refund.amount, str(refund.entry_id)) == (
        RefundStatus.SUCCEEDED, 10_000, answer.json()["transactionId"])
    assert refund.gateway_transaction_key == toss.payments[payment_key]["cancels"][0]["transactionKey"]
    assert held_of(user.id) == 0
    assert_ledger_consistent(user.id)


def test_partial_refunds_add_up_to_the_charge(api, user, toss):
    charged, payment_key = toss_charge(api, toss, 10_000)
    charge_id = charged.json()["transactionId"]
    assert [reverse(api, charge_id, amount).status_code for amount in (3_000, 2_000)] == [201, 201]
    assert toss.payments[payment_key]["status"] == "PARTIAL_CANCELED"
    assert toss.payments[payment_key]["balanceAmount"] == 5_000
    assert reverse(api, charge_id).status_code == 201  # the rest
    assert toss.payments[payment_key]["status"] == "CANCELED"
    assert [c["cancelAmount"] for c in toss.payments[payment_key]["cancels"]] == [3_000, 2_000, 5_000]
    assert reverse(api, charge_id, 1).json()["code"] == "already_fully_reversed"
    assert balance_of(user.id) == 0
    assert sum(e.amount for e in Operation.objects.filter(user=user, kind="REVERSAL")) == 10_000
    assert_ledger_consistent(user.id)


def test_a_refund_toss_refuses_leaves_the_wallet_untouched(api, user, toss):
    charged, payment_key = toss_charge(api, toss, 10_000)
    toss.fault("cancel", "NOT_CANCELABLE_PAYMENT", status=403)
    key = str(uuid.uuid4())
    answer = reverse(api, charged.json()["transactionId"], 4_000, key=key)
    assert answer.status_code == 422 and answer.json()["code"] == "refund_refused"
    assert answer.json()["fields"] == {"transactionId": ["NOT_CANCELABLE_PAYMENT"]}
    assert balance_of(user.id) == 10_000 and held_of(user.id) == 0
    assert not Operation.objects.filter(user=user, kind="REVERSAL").exists()
    assert Refund.objects.get(user=user).status == RefundStatus.FAILED
    replayed = reverse(api, charged.json()["transactionId"], 4_000, key=key)  # the same answer, nothing asked
    assert (replayed.status_code, replayed.headers["Idempotent-Replayed"]) == (422, "true")
    assert toss.cancelled_amount(payment_key) == 0
    assert reverse(api, charged.json()["transactionId"], 4_000).status_code == 201  # a new request may succeed


def test_a_refund_toss_did_not_answer_holds_the_money_until_recovery_debits_it_once(api, user, toss):
    charged, payment_key = toss_charge(api, toss, 10_000)
    toss.fault("cancel", "timeout")  # Toss cancels; its answer comes too late
    key = str(uuid.uuid4())
    answer = reverse(api, charged.json()["transactionId"], 6_000, key=key)
    assert answer.status_code == 503 and answer.json()["code"] == "refund_pending"
    assert toss.cancelled_amount(payment_key) == 6_000  # the card has it back...
    assert balance_of(user.id) == 10_000  # ...and the wallet holds it for the refund
    assert held_of(user.id) == 6_000
    spend = api_post(api, SPENDS, {"amount": 5_000, "description": "not with held money"})
    assert spend.status_code == 409 and spend.json()["code"] == "insufficient_funds"
    assert reverse(api, charged.json()["transactionId"], 5_000).json()["code"] == "reversal_exceeds_remaining"
    in_flight = reverse(api, charged.json()["transactionId"], 6_000, key=key)
    assert in_flight.json()["code"] == "idempotency_request_in_flight"

    assert services.payment_recover_pending(older_than_s=0)["refunded"] == 1  # asks again with the same key
    assert services.payment_recover_pending(older_than_s=0)["refunded"] == 0
    assert toss.cancelled_amount(payment_key) == 6_000  # cancelled once
    assert balance_of(user.id) == 4_000 and held_of(user.id) == 0
    replayed = reverse(api, charged.json()["transactionId"], 6_000, key=key)
    assert (replayed.status_code, replayed.headers["Idempotent-Replayed"]) == (201, "true")
    assert Operation.objects.filter(user=user, kind="REVERSAL").count() == 1
    assert_ledger_consistent(user.id)


def _unreadable_count(operation: str) -> float:
    return metrics.GATEWAY_ANSWERS_UNREADABLE.labels("toss", operation)._value.get()


@pytest.mark.parametrize("garble", GARBLED)
def test_a_cancel_answer_we_cannot_read_leaves_the_refund_open_and_recovery_finishes_it_once(
        api, user, toss, garble, caplog):
    charged, payment_key = toss_charge(api, toss, 10_000)
    toss.fault("cancel", garble)  # Toss cancels; its answer cannot be read
    before = _unreadable_count("cancel")
    caplog.set_level(logging.WARNING, logger="wallets.toss")
    answer = reverse(api, charged.json()["transactionId"], 6_000)
    assert answer.status_code == 503 and answer.json()["code"] == "refund_pending"  # unknown, not a 500
    assert toss.cancelled_amount(payment_key) == 6_000
    assert Refund.objects.get(user=user).status == RefundStatus.REQUESTED
    assert held_of(user.id) == 6_000 and balance_of(user.id) == 10_000
    assert _unreadable_count("cancel") == before + 1
    (logged,) = [r.getMessage() for r in caplog.records if "unreadable answer" in r.getMessage()]
    assert payment_key not in logged and SECRET_KEY not in logged  # the shape, never a value

    assert services.payment_recover_pending(older_than_s=0)["refunded"] == 1  # the same key: Toss's first answer
    assert toss.cancelled_amount(payment_key) == 6_000  # cancelled once
    assert balance_of(user.id) == 4_000 and held_of(user.id) == 0
    assert Operation.objects.filter(user=user, kind="REVERSAL").count() == 1
    assert_ledger_consistent(user.id)


@pytest.mark.parametrize("garble", GARBLED)
def test_a_confirm_answer_we_cannot_read_is_an_unknown_outcome_settled_by_recovery(api, user, toss, garble):
    toss.fault("confirm", garble)  # Toss confirms; its answer cannot be read
    before = _unreadable_count("confirm")
    answer, payment_key = toss_charge(api, toss, 5_000)
    assert answer.status_code == 503 and answer.json()["code"] == "payment_gateway_unavailable"
    assert toss.payments[payment_key]["status"] == "DONE" and balance_of(user.id) == 0
    assert Payment.objects.get(payment_key=payment_key).status == PaymentStatus.PENDING
    assert _unreadable_count("confirm") == before + 1

    assert services.payment_recover_pending(older_than_s=0)["credited"] == 1  # read back: DONE, credited
    assert services.payment_recover_pending(older_than_s=0)["credited"] == 0
    assert balance_of(user.id) == 5_000
    assert_ledger_consistent(user.id)


def test_a_lookup_answer_we_cannot_read_makes_toss_send_its_webhook_again(api, user, toss):
    charged, payment_key = toss_charge(api, toss, 3_000)
    toss.fault("lookup", "html")
    answer = api.post(WEBHOOK, toss.webhook_body(payment_key), format="json")
    assert answer.status_code == 503  # Toss retries; nothing booked from an answer we could not read
    assert api.post(WEBHOOK, toss.webhook_body(payment_key), format="json").status_code == 200


def test_a_refund_left_requested_by_a_dead_request_resumes_when_the_client_retries(api, user, toss, settings):
    charged, payment_key = toss_charge(api, toss, 10_000)
    toss.fault("cancel", "5xx")
    key = str(uuid.uuid4())
    assert reverse(api, charged.json()["transactionId"], key=key).json()["code"] == "refund_pending"
    settings.IDEMPOTENCY_IN_FLIGHT_TIMEOUT_S = 0  # the request is taken to have died
    retried = reverse(api, charged.json()["transactionId"], key=key)
    assert retried.status_code == 201, retried.json()
    assert toss.cancelled_amount(payment_key) == 10_000
    assert Refund.objects.filter(user=user).count() == 1  # resumed, not requested again
    assert balance_of(user.id) == 0


def test_sandbox_charges_are_refunded_by_the_sandbox(api, user, settings):
    from tests.helpers import api_charge

    charge_id = api_charge(api, 10_000).json()["transactionId"]
    assert reverse(api, charge_id, 4_090).json()["code"] == "refund_refused"  # the sandbox's refused amount
    assert reverse(api, charge_id, 3_000).status_code == 201
    assert Refund.objects.get(user=user, status=RefundStatus.SUCCEEDED).gateway_transaction_key.startswith("sandbox-")
    assert balance_of(user.id) == 7_000


# --- Webhook ------------------------------------------------------------------------------


def test_a_cancel_in_tosss_console_reverses_the_charge_once_however_often_the_webhook_comes(api, user, toss):
    charged, payment_key = toss_charge(api, toss, 10_000)
    toss.console_cancel(payment_key, 4_000)
    body = toss.webhook_body(payment_key)
    answers = [api.post(WEBHOOK, body, format="json").json()["outcome"] for _ in range(7)]
    assert answers == ["reversed"] + ["unchanged"] * 6
    assert balance_of(user.id) == 6_000
    (reversal,) = Operation.objects.filter(user=user, kind="REVERSAL")
    assert (reversal.amount, str(reversal.reverses_id)) == (4_000, charged.json()["transactionId"])
    (event,) = OutboxEvent.objects.filter(event_type="REVERSAL_COMPLETED", key=str(user.id))  # notified once
    assert (event.payload["reversedAmount"], event.payload["reason"]) == (4_000, "결제사에서 취소됨")
    assert reverse(api, charged.json()["transactionId"]).json()["amount"] == 6_000  # what is left
    assert toss.payments[payment_key]["status"] == "CANCELED"
    assert_ledger_consistent(user.id)


def test_the_webhook_believes_toss_not_the_notice(api, user, toss):
    charged, payment_key = toss_charge(api, toss, 10_000)
    forged = toss.webhook_body(payment_key)
    forged["data"].update(status="CANCELED", balanceAmount=0)  # Toss says otherwise
    assert api.post(WEBHOOK, forged, format="json").json()["outcome"] == "unchanged"
    assert balance_of(user.id) == 10_000
    unknown = {"eventType": "PAYMENT_STATUS_CHANGED", "data": {"paymentKey": "tgen_nobody"}}
    assert api.post(WEBHOOK, unknown, format="json").json()["outcome"] == "unknown"
    assert ("GET", "/v1/payments/tgen_nobody") not in toss.calls  # nothing of ours: Toss is not asked


def test_the_webhook_for_our_own_refund_books_nothing_more(api, user, toss):
    charged, payment_key = toss_charge(api, toss, 10_000)
    assert reverse(api, charged.json()["transactionId"], 2_500).status_code == 201
    assert api.post(WEBHOOK, toss.webhook_body(payment_key), format="json").json()["outcome"] == "unchanged"
    assert balance_of(user.id) == 7_500


def test_a_console_cancel_the_wallet_cannot_cover_is_left_for_an_operator(api, user, toss):
    charged, payment_key = toss_charge(api, toss, 10_000)
    assert api_post(api, SPENDS, {"amount": 9_000, "description": "spent"}).status_code == 201
    toss.console_cancel(payment_key)
    assert api.post(WEBHOOK, toss.webhook_body(payment_key), format="json").json()["outcome"] == "uncovered"
    assert api.post(WEBHOOK, toss.webhook_body(payment_key), format="json").json()["outcome"] == "unchanged"
    assert Refund.objects.get(user=user).status == RefundStatus.UNCOVERED
    assert balance_of(user.id) == 1_000  # never negative; no money invented or lost in the ledger
    assert reverse(api, charged.json()["transactionId"]).json()["code"] == "already_fully_reversed"
    assert_ledger_consistent(user.id)


def test_a_webhook_toss_cannot_be_read_for_is_answered_503_so_toss_sends_it_again(api, user, toss):
    charged, payment_key = toss_charge(api, toss, 10_000)
    toss.console_cancel(payment_key, 1_000)
    toss.fault("lookup", "5xx")
    body = toss.webhook_body(payment_key)
    assert api.post(WEBHOOK, body, format="json").status_code == 503
    assert api.post(WEBHOOK, body, format="json").json()["outcome"] == "reversed"
    assert balance_of(user.id) == 9_000


@pytest.mark.parametrize("body", [{}, {"eventType": "PAYMENT_STATUS_CHANGED"},
                                  {"eventType": "PAYMENT_STATUS_CHANGED", "data": {}}, []])
def test_a_malformed_webhook_is_a_400_naming_the_field(client, body):
    answer = client.post(WEBHOOK, body, content_type="application/json")
    assert answer.status_code == 400 and answer.json()["code"] == "invalid_input"


def test_other_webhook_events_are_acknowledged_and_ignored(client):
    answer = client.post(WEBHOOK, {"eventType": "DEPOSIT_CALLBACK", "data": {}}, content_type="application/json")
    assert (answer.status_code, answer.json()) == (200, {"outcome": "ignored"})


# --- Admin ----------------------------------------------------------------------------------


@pytest.fixture
def staff_client(client, django_user_model):
    staff_sign_in(client, django_user_model.objects.create_superuser("ops", "ops@example.com", "pw"))
    return client


def test_operators_see_the_payment_at_toss_and_settle_it_from_the_admin(api, user, toss, staff_client):
    charged, payment_key = toss_charge(api, toss, 10_000)
    payment = Payment.objects.get(payment_key=payment_key)
    toss.console_cancel(payment_key, 2_000)  # its webhook was lost
    page = staff_client.get(f"/admin/wallets/payment/{payment.id}/change/").content.decode()
    assert "PARTIAL_CANCELED: 10,000 paid, 8,000 left" in page

    answer = staff_client.post("/admin/wallets/payment/", {
        "action": "look_up_at_the_gateway", "_selected_action": [payment.id], "index": 0}, follow=True)
    assert f"주문 {payment.order_id}: reversed" in answer.content.decode()
    assert balance_of(user.id) == 8_000
    assert "2,000" in staff_client.get(f"/admin/wallets/payment/{payment.id}/change/").content.decode()


def test_operators_ask_toss_again_for_a_stuck_refund(api, user, toss, staff_client):
    charged, payment_key = toss_charge(api, toss, 10_000)
    toss.fault("cancel", "5xx")
    assert reverse(api, charged.json()["transactionId"], 1_000).json()["code"] == "refund_pending"
    refund = Refund.objects.get(user=user)
    answer = staff_client.post("/admin/wallets/refund/", {
        "action": "ask_the_gateway_again", "_selected_action": [refund.id], "index": 0}, follow=True)
    assert f"환불 {refund.reversal_id}: refunded" in answer.content.decode()
    assert balance_of(user.id) == 9_000 and toss.cancelled_amount(payment_key) == 1_000

"""kill -9 of the web worker in the middle of a refund saga (after Toss cancelled, before the wallet was
debited): recovery refunds once and debits once, and the client's retry gets the reversal."""

import signal
import threading
import uuid

import httpx
import psutil
import pytest

from tests.fake_toss import CLIENT_KEY, SECRET_KEY
from tests.helpers import (
    CHARGES,
    REVERSALS,
    api_token,
    assert_ledger_consistent,
    balance_of,
    held_of,
    new_order_id,
)
from tests.support import wait_until
from wallets import services
from wallets.models import Operation, Refund, RefundStatus

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_worker_killed_mid_refund_is_recovered_refunding_once_and_debiting_once(web, user, toss):
    toss.timeout_s = 15  # a late answer: the worker waits for it, and is killed meanwhile
    platform = web(PAYMENT_GATEWAY="toss", TOSS_API_BASE_URL=toss.base_url, TOSS_SECRET_KEY=SECRET_KEY,
                   TOSS_CLIENT_KEY=CLIENT_KEY)
    client = httpx.Client(base_url=platform.base_url, headers={"Authorization": f"Token {api_token(user)}"},
                          timeout=30)
    order_id = new_order_id()
    payment_key = toss.authorize(order_id=order_id, amount=10_000)
    charged = client.post(CHARGES, json={"amount": 10_000, "paymentKey": payment_key, "orderId": order_id},
                          headers={"Idempotency-Key": str(uuid.uuid4())})
    assert charged.status_code == 201, charged.text

    toss.fault("cancel", "timeout")  # Toss cancels at once, and answers 15 s later
    key, answers = str(uuid.uuid4()), []
    body = {"transactionId": charged.json()["transactionId"], "amount": 7_000, "reason": "고객 요청"}
    request = threading.Thread(target=lambda: answers.append(
        client.post(REVERSALS, json=body, headers={"Idempotency-Key": key})))
    request.start()
    wait_until(lambda: toss.cancelled_amount(payment_key) == 7_000, timeout_s=20, what="Toss's cancel")
    for worker in psutil.Process(platform.web.pid).children():  # the worker waiting for Toss's answer
        worker.send_signal(signal.SIGKILL)
    request.join(timeout=30)
    assert answers[0].status_code == 502  # Pushpin answers for the dead worker

    # Between the point of no return and the debit: the card has the money back, the wallet holds it.
    (refund,) = Refund.objects.filter(user=user)
    assert refund.status == RefundStatus.REQUESTED
    assert balance_of(user.id) == 10_000 and held_of(user.id) == 7_000
    assert not Operation.objects.filter(user=user, kind="REVERSAL").exists()

    assert services.payment_recover_pending(older_than_s=0)["refunded"] == 1  # the beat's minute task
    assert services.payment_recover_pending(older_than_s=0)["refunded"] == 0
    assert len(toss.payments[payment_key]["cancels"]) == 1  # asked again with its key: cancelled once
    assert toss.cancelled_amount(payment_key) == 7_000
    assert balance_of(user.id) == 3_000 and held_of(user.id) == 0

    wait_until(lambda: len(psutil.Process(platform.web.pid).children()) == 2, timeout_s=30, what="new workers")
    retried = client.post(REVERSALS, json=body, headers={"Idempotency-Key": key})
    assert (retried.status_code, retried.headers.get("Idempotent-Replayed")) == (201, "true"), retried.text
    assert retried.json()["transactionId"] == str(refund.reversal_id)
    assert Operation.objects.filter(user=user, kind="REVERSAL").count() == 1
    assert_ledger_consistent(user.id)
    client.close()

"""Notification texts, as the design note gives them."""

import json

import pytest

from notifications.texts import render, won
from prepaid.events import event_parse
from tests.helpers import new_order_id, wallet_event
from wallets import services as wallet_services

pytestmark = pytest.mark.django_db


def test_texts_follow_the_design_note():
    assert won(10_000) == "₩10,000"
    charge = render(wallet_event(1))
    assert (charge.title, charge.message, charge.type) == ("충전 완료", "₩10,000가 충전되었습니다. 현재 잔액: ₩50,000",
                                                           "success")
    spend = render({"eventType": "SPEND_COMPLETED", "amount": 3_000, "newBalance": 47_000, "description": "커피"})
    assert (spend.title, spend.message) == ("사용 완료", "₩3,000가 사용되었습니다 (커피). 현재 잔액: ₩47,000")
    reversal = render({"eventType": "REVERSAL_COMPLETED", "reversedAmount": 1_234_567, "newBalance": 1_300_000,
                       "reason": ""})
    assert (reversal.title, reversal.message) == ("취소 완료",
                                                  "₩1,234,567가 취소되었습니다. 현재 잔액: ₩1,300,000")


def test_the_events_the_write_path_produces_render(user):
    wallet_services.wallet_charge(user_id=user.id, amount=5_000, payment_key="pk", order_id=new_order_id())
    from outbox.models import OutboxEvent

    event = OutboxEvent.objects.get().event
    parsed = event_parse(key=str(user.id).encode(), value=json.dumps(event).encode())
    assert render(parsed).message == "₩5,000가 충전되었습니다. 현재 잔액: ₩5,000"


def test_transfers_and_their_returns_read_from_each_side():
    sent = render({"eventType": "TRANSFER_SENT", "amount": 15_000, "newBalance": 5_000, "message": "점심값",
                   "counterparty": "minsu", "metadata": {}})
    assert (sent.title, sent.message) == ("송금 완료", "minsu님에게 ₩15,000을 보냈습니다 (점심값). 현재 잔액: ₩5,000")
    received = render({"eventType": "TRANSFER_RECEIVED", "amount": 15_000, "newBalance": 15_000, "message": "",
                       "counterparty": "jiyoung", "metadata": {}})
    assert (received.title, received.message) == ("입금", "jiyoung님에게서 ₩15,000을 받았습니다. 현재 잔액: ₩15,000")
    back = render({"eventType": "TRANSFER_RECEIVED", "amount": 5_000, "newBalance": 10_000, "message": "잘못 보냄",
                   "counterparty": "minsu", "metadata": {"returnedTransactionId": "x"}})
    assert (back.title, back.message) == ("송금 반환",
                                          "minsu님에게서 ₩5,000을 돌려받았습니다 (잘못 보냄). 현재 잔액: ₩10,000")

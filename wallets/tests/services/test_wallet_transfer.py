"""Transfers (송금): one entry moving money between two wallets, both notified, final for the sender,
returnable by the recipient (or an operator for them)."""

import uuid

import pytest
from django.test import override_settings

from accounts.models import OperatorAction
from ledger.models import Posting
from outbox.models import OutboxEvent
from prepaid.errors import ApplicationError
from prepaid.events import event_validate
from tests.helpers import balance_of, charge, ledger_snapshot
from wallets import selectors, services
from wallets.models import Operation, OperationKind, Wallet

pytestmark = pytest.mark.django_db


def _code(call) -> str:
    with pytest.raises(ApplicationError) as caught:
        call()
    return caught.value.code


def test_a_transfer_is_one_entry_between_two_wallets_with_an_event_for_each(user_factory):
    sender, recipient = user_factory(), user_factory(first_name="민수", last_name="김")
    charge(sender, 50_000)
    sent = services.wallet_transfer(user_id=sender.id, to=recipient.username, amount=15_000,
                                    message="점심값").transaction
    assert (sent.kind, sent.amount, sent.balance_after) == (OperationKind.TRANSFER, 15_000, 35_000)
    assert (balance_of(sender.id), balance_of(recipient.id)) == (35_000, 15_000)  # its wallet opened for it
    postings = Posting.objects.filter(entry_id=sent.id).select_related("account")
    assert sorted((p.account.code, p.amount, p.balance_after) for p in postings) == sorted([
        (f"wallet:{sender.id}", -15_000, 35_000), (f"wallet:{recipient.id}", 15_000, 15_000)])
    for user in (sender, recipient):
        assert_ledger_consistent_with_transfers(user.id)
    events = {e.event_type: e for e in OutboxEvent.objects.filter(event_type__startswith="TRANSFER")}
    assert (events["TRANSFER_SENT"].key, events["TRANSFER_RECEIVED"].key) == (str(sender.id), str(recipient.id))
    for event in events.values():
        event_validate(event.event)
        assert event.payload["metadata"]["transactionId"] == str(sent.id)
    assert (events["TRANSFER_SENT"].payload["counterparty"], events["TRANSFER_SENT"].payload["newBalance"]) == (
        recipient.username, 35_000)
    assert (events["TRANSFER_RECEIVED"].payload["counterparty"], events["TRANSFER_RECEIVED"].payload["newBalance"],
            events["TRANSFER_RECEIVED"].payload["message"]) == (sender.username, 15_000, "점심값")


def assert_ledger_consistent_with_transfers(user_id: int) -> None:
    """assert_ledger_consistent's money rules, for a user whose events include transfers received."""
    wallet = Wallet.objects.get(user_id=user_id)
    running = 0
    for posting in Posting.objects.filter(account=wallet.account).order_by("created_at", "id"):
        running += posting.amount
        assert posting.balance_after == running
    assert running == wallet.balance >= 0


def test_refusals_write_nothing(user_factory):
    sender, recipient = user_factory(), user_factory()
    charge(sender, 10_000)
    before = ledger_snapshot()
    transfer = services.wallet_transfer
    assert _code(lambda: transfer(user_id=sender.id, to="no-such-user", amount=1, message="")) == \
        "recipient_not_found"
    assert _code(lambda: transfer(user_id=sender.id, to=sender.username, amount=1, message="")) == "transfer_to_self"
    assert _code(lambda: transfer(user_id=sender.id, to=recipient.username, amount=10_001, message="")) == \
        "insufficient_funds"
    with override_settings(WALLET_BALANCE_MAX_UNVERIFIED_WON=5_000):
        assert _code(lambda: transfer(user_id=sender.id, to=recipient.username, amount=5_001, message="")) == \
            "recipient_balance_limit_exceeded"
    assert ledger_snapshot() == before
    assert balance_of(sender.id) == 10_000


@override_settings(TRANSFER_DAILY_MAX_UNVERIFIED_WON=5_000)
def test_the_daily_limit_counts_todays_transfers_and_not_returns(user_factory):
    sender, recipient = user_factory(), user_factory()
    charge(sender, 20_000)
    services.wallet_transfer(user_id=sender.id, to=recipient.username, amount=3_000, message="")
    with pytest.raises(ApplicationError) as refused:
        services.wallet_transfer(user_id=sender.id, to=recipient.username, amount=2_001, message="")
    assert refused.value.code == "transfer_daily_limit_exceeded"
    assert "오늘 보낸 금액 ₩3,000" in refused.value.message
    services.wallet_transfer(user_id=sender.id, to=recipient.username, amount=2_000, message="")  # exactly the limit
    # A return is not the returner's sending: the recipient returns 3,000, then may still send 5,000 today.
    charge(recipient, 10_000)
    received = Operation.objects.filter(counterparty=recipient).order_by("created_at").first()
    services.wallet_reverse(user_id=recipient.id, transaction_id=received.pk, amount=None, reason="돌려드려요")
    services.wallet_transfer(user_id=recipient.id, to=sender.username, amount=5_000, message="")


def test_a_transfer_is_final_for_its_sender_and_returnable_by_its_recipient(user_factory):
    sender, recipient = user_factory(), user_factory()
    charge(sender, 30_000)
    sent = services.wallet_transfer(user_id=sender.id, to=recipient.username, amount=10_000, message="").transaction
    refused = _code(lambda: services.wallet_reverse(user_id=sender.id, transaction_id=sent.id, amount=None,
                                                    reason="oops"))
    assert refused == "not_reversible"
    part = services.wallet_reverse(user_id=recipient.id, transaction_id=sent.id, amount=4_000,
                                   reason="잘못 받음").transaction
    assert (part.kind, part.reverses_id, part.balance_after) == (OperationKind.REVERSAL, sent.id, 6_000)
    assert (balance_of(sender.id), balance_of(recipient.id)) == (24_000, 6_000)
    returned = OutboxEvent.objects.filter(payload__metadata__transactionId=str(part.id))
    assert {(e.event_type, e.key) for e in returned} == {("TRANSFER_SENT", str(recipient.id)),
                                                         ("TRANSFER_RECEIVED", str(sender.id))}
    assert all(e.payload["metadata"]["returnedTransactionId"] == str(sent.id) for e in returned)
    # Each side's list: what the other did, the way the money went, what each may still reverse.
    seen_by_sender = {t.id: t for t in selectors.wallet_transactions(user_id=sender.id).first(100)}
    seen_by_recipient = {t.id: t for t in selectors.wallet_transactions(user_id=recipient.id).first(100)}
    assert (seen_by_sender[sent.id].direction, seen_by_sender[sent.id].counterparty_name,
            seen_by_sender[sent.id].reversible_amount) == ("out", recipient.username, 0)
    assert (seen_by_recipient[sent.id].direction, seen_by_recipient[sent.id].counterparty_name,
            seen_by_recipient[sent.id].reversible_amount, seen_by_recipient[sent.id].reversed_amount) == (
        "in", sender.username, 6_000, 4_000)
    assert (seen_by_sender[part.id].direction, seen_by_sender[part.id].balance_after) == ("in", 24_000)
    assert (seen_by_recipient[part.id].direction, seen_by_recipient[part.id].balance_after) == ("out", 6_000)
    # The recipient cannot return more than is left, or money it no longer has.
    services.wallet_spend(user_id=recipient.id, amount=5_000, description="커피")
    assert _code(lambda: services.wallet_reverse(user_id=recipient.id, transaction_id=sent.id, amount=6_001,
                                                 reason="")) == "reversal_exceeds_remaining"
    assert _code(lambda: services.wallet_reverse(user_id=recipient.id, transaction_id=sent.id, amount=None,
                                                 reason="")) == "insufficient_funds"
    # A stranger does not see it.
    assert _code(lambda: services.wallet_reverse(user_id=charge_owner(), transaction_id=sent.id, amount=None,
                                                 reason="")) == "transaction_not_found"
    for user in (sender, recipient):
        assert_ledger_consistent_with_transfers(user.id)


def charge_owner() -> int:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user(username=f"stranger-{uuid.uuid4().hex[:8]}").id


def test_a_repeated_key_replays_the_transfer(user_factory):
    sender, recipient = user_factory(), user_factory()
    charge(sender, 10_000)
    key = services.idempotency_key(key="transfer-1", method="POST", path="/api/v1/wallet/transfers",
                                   body={"to": recipient.username, "amount": 1_000})
    first = services.wallet_transfer(user_id=sender.id, to=recipient.username, amount=1_000, message="",
                                     idempotency=key)
    again = services.wallet_transfer(user_id=sender.id, to=recipient.username, amount=1_000, message="",
                                     idempotency=key)
    assert (again.replayed, again.transaction.id, again.transaction.balance_after) == (
        True, first.transaction.id, 9_000)
    assert balance_of(recipient.id) == 1_000
    assert OutboxEvent.objects.filter(event_type="TRANSFER_RECEIVED").count() == 1


def test_an_operator_returns_a_transfer_with_a_reason(user_factory, django_user_model):
    sender, recipient = user_factory(), user_factory()
    operator = django_user_model.objects.create_superuser("ops-return", "ops@example.com", "pw")
    charge(sender, 10_000)
    sent = services.wallet_transfer(user_id=sender.id, to=recipient.username, amount=7_000, message="").transaction
    assert _code(lambda: services.transfer_return_by_operator(transaction_id=sent.id, reason=" ", by=operator)) == \
        "invalid_input"
    returned = services.transfer_return_by_operator(transaction_id=sent.id, reason="보이스피싱 신고",
                                                    by=operator).transaction
    assert (returned.amount, balance_of(sender.id), balance_of(recipient.id)) == (7_000, 10_000, 0)
    assert returned.description == "운영자 반환: 보이스피싱 신고"
    action = OperatorAction.objects.get(action="transfer_return")
    assert (action.username, action.target) == ("ops-return", f"transaction:{sent.id}")

"""Remaining-balance refunds (잔액환불): who may have one, where the money goes (cards newest first, then the bank
account), what a refusal or a silent gateway leaves, and that money never appears or vanishes on the way."""

import pytest
from django.db.models import Sum
from django.test import override_settings

from ledger.models import Posting
from outbox.models import OutboxEvent
from prepaid.crypto import unseal
from prepaid.errors import ApplicationError
from prepaid.events import event_validate
from tests.helpers import assert_ledger_consistent, balance_of, charge, held_of, posted_balance_of
from wallets import services
from wallets.models import (
    Hold,
    HoldStatus,
    Operation,
    OperationKind,
    Payout,
    PayoutStatus,
    Refund,
    RefundRequest,
    RefundRequestStatus,
    RefundStatus,
)
from wallets.payouts import BankAccount

pytestmark = pytest.mark.django_db

ACCOUNT = BankAccount(bank_code="088", account_number="110123456789", holder_name="홍길동")


def _events(user, *types):
    rows = OutboxEvent.objects.filter(key=str(user.id), event_type__in=types).order_by("id")
    for row in rows:
        event_validate(row.event)
    return [row.payload for row in rows]


def _system_total() -> int:
    return Posting.objects.aggregate(total=Sum("amount"))["total"] or 0


def test_not_eligible_until_enough_of_the_last_charge_is_used_and_nothing_is_written(user):
    charge(user, 20_000)
    services.wallet_spend(user_id=user.id, amount=11_999, description="not quite 60 %")
    with pytest.raises(ApplicationError) as err:
        services.refund_request_make(user_id=user.id, bank_account=ACCOUNT)
    assert err.value.code == "refund_not_eligible"
    assert err.value.fields == {"ground": ["아직 대상이 아닙니다."]}
    assert "60%" in err.value.message
    assert not RefundRequest.objects.exists() and not Refund.objects.exists() and held_of(user.id) == 0
    services.wallet_spend(user_id=user.id, amount=1, description="60 % now")
    request, replayed = services.refund_request_make(user_id=user.id, bank_account=ACCOUNT)
    assert not replayed and request.status == RefundRequestStatus.COMPLETED and balance_of(user.id) == 0


@override_settings(WALLET_REFUND_SMALL_CHARGE_MAX_WON=10_000, WALLET_REFUND_SMALL_CHARGE_USED_PERCENT_MIN=80)
def test_a_small_last_charge_needs_its_own_higher_share(user):
    charge(user, 10_000)
    services.wallet_spend(user_id=user.id, amount=7_000, description="70 % of a small charge")
    with pytest.raises(ApplicationError) as err:
        services.refund_request_make(user_id=user.id, bank_account=ACCOUNT)
    assert err.value.code == "refund_not_eligible" and "80%" in err.value.message


def test_cards_take_it_back_newest_charge_first_in_partial_cancels(user):
    oldest = charge(user, 30_000)
    older = charge(user, 10_000)
    newer = charge(user, 20_000)
    services.wallet_spend(user_id=user.id, amount=12_000, description="60 % of the last charge")
    request, _ = services.refund_request_make(user_id=user.id, bank_account=None)
    assert request.status == RefundRequestStatus.COMPLETED
    assert (request.amount, request.to_cards) == (48_000, 48_000)
    refunds = {r.payment.entry_id: r.amount for r in Refund.objects.filter(request=request).select_related("payment")}
    assert refunds == {newer.id: 20_000, older.id: 10_000, oldest.id: 18_000}
    assert all(r.status == RefundStatus.SUCCEEDED for r in Refund.objects.filter(request=request))
    reversals = Operation.objects.filter(user=user, kind=OperationKind.REVERSAL)
    assert sorted(r.amount for r in reversals) == [10_000, 18_000, 20_000]
    assert balance_of(user.id) == 0 and held_of(user.id) == 0
    requested, completed = _events(user, "REFUND_REQUESTED", "REFUND_REQUEST_COMPLETED")
    assert (requested["amount"], requested["toCards"], requested["toBank"]) == (48_000, 48_000, 0)
    assert (completed["status"], completed["refundedToCards"], completed["leftInWallet"]) == ("COMPLETED", 48_000, 0)
    assert len(_events(user, "REVERSAL_COMPLETED")) == 3
    assert_ledger_consistent(user.id)
    assert _system_total() == 0


def test_what_no_card_can_take_back_goes_to_the_bank_account(user, user_factory):
    sender = user_factory()
    charge(sender, 8_000)
    services.wallet_transfer(user_id=sender.id, to=user.username, amount=8_000, message="for you")
    reversible = charge(user, 20_000)
    services.wallet_reverse(user_id=user.id, transaction_id=reversible.id, amount=15_000, reason="most of it back")
    services.wallet_spend(user_id=user.id, amount=4_000, description="80 % of what is left of the charge")
    with pytest.raises(ApplicationError) as err:
        services.refund_request_make(user_id=user.id, bank_account=None)
    assert err.value.code == "bank_account_required" and "₩4,000" in err.value.message
    assert not RefundRequest.objects.exists() and held_of(user.id) == 0

    request, _ = services.refund_request_make(user_id=user.id, bank_account=ACCOUNT)
    assert request.status == RefundRequestStatus.COMPLETED and (request.amount, request.to_cards) == (9_000, 5_000)
    assert Refund.objects.get(request=request).amount == 5_000  # the newest charge's 5,000 left to reverse
    payout = Payout.objects.get(request=request)
    assert (payout.amount, payout.status, payout.from_expired) == (4_000, PayoutStatus.SUCCEEDED, 0)
    operation = Operation.objects.get(pk=payout.id)
    assert operation.kind == OperationKind.PAYOUT and operation.amount == 4_000
    postings = {p.account.code: p.amount for p in operation.entry.postings.select_related("account")}
    assert postings == {f"wallet:{user.id}": -4_000, "system:payout-clearing": 4_000}
    (paid,) = _events(user, "PAYOUT_COMPLETED")
    assert paid["accountNumber"] == "********6789" and paid["newBalance"] == 0 and paid["bankCode"] == "088"
    # The number is sealed where it is kept; only the payout opens it.
    assert "110123456789" not in request.account_number and unseal(request.account_number) == "110123456789"
    assert request.account_masked == "********6789"
    assert balance_of(user.id) == 0 and Hold.objects.get(id=payout.id).status == HoldStatus.CAPTURED
    with pytest.raises(ApplicationError) as err:  # paid out: final
        services.wallet_reverse(user_id=user.id, transaction_id=operation.pk, amount=None, reason="")
    assert err.value.code == "not_reversible"
    assert balance_of(user.id) == posted_balance_of(user.id) and _system_total() == 0  # received: the sender's entry


@override_settings(PAYMENT_SANDBOX_CANCEL_REFUSED_AMOUNTS={6_000})
def test_a_card_that_refuses_sends_its_part_to_the_bank_account(user):
    charge(user, 20_000)
    services.wallet_spend(user_id=user.id, amount=14_000, description="used 70 %")
    request, _ = services.refund_request_make(user_id=user.id, bank_account=ACCOUNT)
    assert request.status == RefundRequestStatus.COMPLETED
    assert Refund.objects.get(request=request).status == RefundStatus.FAILED
    assert Payout.objects.get(request=request).amount == 6_000
    assert balance_of(user.id) == 0 and held_of(user.id) == 0
    assert_ledger_consistent(user.id)


@override_settings(PAYMENT_SANDBOX_CANCEL_REFUSED_AMOUNTS={6_000})
def test_when_the_card_and_the_bank_both_refuse_the_money_stays_and_the_user_is_told(user):
    charge(user, 20_000)
    services.wallet_spend(user_id=user.id, amount=14_000, description="used 70 %")
    refused = BankAccount(bank_code="004", account_number="9999999999", holder_name="홍길동")
    request, _ = services.refund_request_make(user_id=user.id, bank_account=refused)
    assert request.status == RefundRequestStatus.PARTIAL
    assert Payout.objects.get(request=request).status == PayoutStatus.FAILED
    assert balance_of(user.id) == 6_000 and held_of(user.id) == 0
    (completed,) = _events(user, "REFUND_REQUEST_COMPLETED")
    assert (completed["status"], completed["leftInWallet"]) == ("PARTIAL", 6_000)
    # Ended: another request may be made (and the balance is spendable meanwhile).
    services.wallet_spend(user_id=user.id, amount=1_000, description="still mine")
    assert_ledger_consistent(user.id)


def test_a_silent_gateway_leaves_it_processing_and_recovery_finishes_it_once(user, user_factory, staff_user):
    sender = user_factory()
    charge(sender, 5_040)
    services.wallet_transfer(user_id=sender.id, to=user.username, amount=5_040, message="")
    request, _ = services.refund_request_make(user_id=user.id, bank_account=ACCOUNT, ground="merchants_cut",
                                              by=staff_user)  # no card: 5,040 to the bank, which does not answer
    assert request.status == RefundRequestStatus.PROCESSING
    assert balance_of(user.id) == 5_040 and held_of(user.id) == 5_040  # held: not spendable meanwhile
    with pytest.raises(ApplicationError) as err:
        services.refund_request_make(user_id=user.id, bank_account=ACCOUNT)
    assert err.value.code == "refund_request_open"
    with override_settings(PAYOUT_SANDBOX_UNAVAILABLE_AMOUNTS=set()):
        assert services.payment_recover_pending(older_than_s=0)["refund_requests"] == 1
        services.payment_recover_pending(older_than_s=0)  # nothing left to do: nothing twice
    request.refresh_from_db()
    assert request.status == RefundRequestStatus.COMPLETED
    assert balance_of(user.id) == 0 and held_of(user.id) == 0
    assert Operation.objects.filter(user=user, kind=OperationKind.PAYOUT).count() == 1
    assert len(_events(user, "PAYOUT_COMPLETED")) == 1 and len(_events(user, "REFUND_REQUEST_COMPLETED")) == 1
    assert balance_of(user.id) == posted_balance_of(user.id) and _system_total() == 0  # received: the sender's entry


def test_the_same_key_answers_the_same_request(user):
    charge(user, 20_000)
    services.wallet_spend(user_id=user.id, amount=19_000, description="most")
    key = services.idempotency_key(key="refund-1", method="POST", path="/api/v1/wallet/refund-requests", body={})
    first, replayed_first = services.refund_request_make(user_id=user.id, bank_account=None, idempotency=key)
    again, replayed_again = services.refund_request_make(user_id=user.id, bank_account=None, idempotency=key)
    assert (replayed_first, replayed_again) == (False, True) and again.id == first.id
    assert RefundRequest.objects.count() == 1 and balance_of(user.id) == 0


def test_an_operator_may_grant_it_on_another_ground(user, staff_user):
    charge(user, 10_000)
    with pytest.raises(ApplicationError):
        services.refund_request_make(user_id=user.id, bank_account=None)
    request, _ = services.refund_request_make(user_id=user.id, bank_account=None, ground="service_unavailable",
                                              by=staff_user)
    assert request.status == RefundRequestStatus.COMPLETED and request.by == staff_user.username
    assert balance_of(user.id) == 0


def test_an_empty_wallet_has_nothing_to_refund(user):
    charge(user, 20_000)
    services.wallet_spend(user_id=user.id, amount=20_000, description="all")
    with pytest.raises(ApplicationError) as err:
        services.refund_request_make(user_id=user.id, bank_account=ACCOUNT)
    assert err.value.code == "nothing_to_refund"


@pytest.mark.parametrize("raw, field", [
    ({"bankCode": "999", "accountNumber": "1101234567", "holderName": "홍길동"}, "bankAccount.bankCode"),
    ({"bankCode": "088", "accountNumber": "12-34", "holderName": "홍길동"}, "bankAccount.accountNumber"),
    ({"bankCode": "088", "accountNumber": "1101234567", "holderName": " "}, "bankAccount.holderName"),
])
def test_a_bank_account_is_checked_field_by_field(raw, field):
    with pytest.raises(ApplicationError) as err:
        services.bank_account_check(raw)
    assert err.value.code == "invalid_input" and err.value.message.startswith(field)



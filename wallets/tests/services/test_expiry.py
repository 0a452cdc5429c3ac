"""Expiry: money is valid WALLET_BALANCE_VALIDITY_DAYS from when it came in, oldest spent first; notices
before, the expired part moved to the user's expired-balance account at the end, refundable at 90 %."""

import time

import pytest
from django.db.models import Sum
from django.test import override_settings
from django.utils import timezone

from ledger.models import Posting
from outbox.models import OutboxEvent
from prepaid.errors import ApplicationError
from prepaid.events import event_validate
from tests.helpers import assert_ledger_consistent, balance_of, charge, held_of
from wallets import selectors, services
from wallets.models import ExpiryNotice, Operation, OperationKind, Payout, RefundRequestStatus
from wallets.payouts import BankAccount

pytestmark = pytest.mark.django_db

ACCOUNT = BankAccount(bank_code="090", account_number="3333012345678", holder_name="김하나")
GAP_S = 0.4


def _older_then_newer(user, older: int, newer: int):
    """Charge ``older``, wait, charge ``newer``; the validity (days) that puts the first past it and not the
    second: its boundary halfway between them."""
    first = charge(user, older)
    time.sleep(GAP_S)
    charge(user, newer)
    return lambda: (timezone.now() - first.created_at).total_seconds() / 86400 - GAP_S / 2 / 86400


def _events(user, event_type):
    rows = list(OutboxEvent.objects.filter(key=str(user.id), event_type=event_type).order_by("id"))
    for row in rows:
        event_validate(row.event)
    return [row.payload for row in rows]


def _expired_balance(user) -> int:
    return Posting.objects.filter(account__code=f"expired:{user.id}").aggregate(s=Sum("amount"))["s"] or 0


def test_the_oldest_money_expires_first_and_only_once(user):
    validity = _older_then_newer(user, 10_000, 5_000)
    services.wallet_spend(user_id=user.id, amount=3_000, description="from the oldest money")
    with override_settings(WALLET_BALANCE_VALIDITY_DAYS=validity(), WALLET_EXPIRY_NOTICE_DAYS_BEFORE=[]):
        assert services.balance_expiry_sweep() == {"notices": 0, "expiries": 1}
        assert services.balance_expiry_sweep() == {"notices": 0, "expiries": 0}
    (expiry,) = Operation.objects.filter(user=user, kind=OperationKind.EXPIRY)
    assert expiry.amount == 7_000  # 12,000 left, 5,000 of it young: the first charge's 7,000 unspent
    assert balance_of(user.id) == 5_000 and _expired_balance(user) == 7_000
    postings = {p.account.code: p.amount for p in expiry.entry.postings.select_related("account")}
    assert postings == {f"wallet:{user.id}": -7_000, f"expired:{user.id}": 7_000}
    (event,) = _events(user, "BALANCE_EXPIRED")
    assert (event["amount"], event["refundablePercent"], event["newBalance"]) == (7_000, 90, 5_000)
    assert_ledger_consistent(user.id)


def test_an_expiry_is_not_reversible(user):  # a payout's: test_refund_requests.py
    validity = _older_then_newer(user, 10_000, 5_000)
    with override_settings(WALLET_BALANCE_VALIDITY_DAYS=validity(), WALLET_EXPIRY_NOTICE_DAYS_BEFORE=[]):
        services.balance_expiry_sweep()
    services.wallet_spend(user_id=user.id, amount=5_000, description="")
    request, _ = services.refund_request_make(user_id=user.id, bank_account=ACCOUNT)  # 90 % of the expired 10,000
    operation = Operation.objects.get(user=user, kind=OperationKind.EXPIRY)
    with pytest.raises(ApplicationError) as err:
        services.wallet_reverse(user_id=user.id, transaction_id=operation.pk, amount=None, reason="give it back")
    assert err.value.code == "not_reversible"
    assert request.expired_refund == 9_000 and balance_of(user.id) == 0


def test_money_spent_or_reversed_does_not_expire(user):
    validity = _older_then_newer(user, 10_000, 5_000)
    services.wallet_spend(user_id=user.id, amount=10_000, description="all of the old money")
    with override_settings(WALLET_BALANCE_VALIDITY_DAYS=validity(), WALLET_EXPIRY_NOTICE_DAYS_BEFORE=[]):
        assert services.balance_expiry_sweep()["expiries"] == 0
    assert balance_of(user.id) == 5_000


def test_held_money_does_not_expire_until_it_is_released(user):
    validity = _older_then_newer(user, 10_000, 5_000)
    hold = services.hold_place(user_id=user.id, amount=12_000, description="a reservation", expires_in_s=600)
    with override_settings(WALLET_BALANCE_VALIDITY_DAYS=validity(), WALLET_EXPIRY_NOTICE_DAYS_BEFORE=[]):
        assert services.balance_expiry_sweep()["expiries"] == 1  # 15,000 less 12,000 held: 3,000 of the 10,000
        assert balance_of(user.id) == 12_000 and held_of(user.id) == 12_000
        services.hold_void(user_id=user.id, hold_id=hold.hold.id)
        assert services.balance_expiry_sweep()["expiries"] == 1  # the other 7,000 once released
    assert balance_of(user.id) == 5_000 and _expired_balance(user) == 10_000
    assert_ledger_consistent(user.id)


def test_notices_go_before_expiry_once_per_threshold(user):
    validity = _older_then_newer(user, 10_000, 5_000)
    days = validity()
    # Thresholds of a whole validity (both charges expire within it) and of a moment (nothing yet).
    with override_settings(WALLET_BALANCE_VALIDITY_DAYS=days + 600 / 86400,
                           WALLET_EXPIRY_NOTICE_DAYS_BEFORE=[days + 1200 / 86400, 1 / 86400]):
        assert services.balance_expiry_sweep() == {"notices": 1, "expiries": 0}
        assert services.balance_expiry_sweep() == {"notices": 0, "expiries": 0}  # told already
    (notice,) = ExpiryNotice.objects.filter(user=user)
    assert notice.amount == 15_000
    (event,) = _events(user, "BALANCE_EXPIRY_NOTICE")
    assert event["amount"] == 15_000 and event["noticeId"] == str(notice.id)
    assert balance_of(user.id) == 15_000


def test_the_expired_balance_is_refunded_at_its_share_to_the_bank_account(user):
    before = selectors.custody_figures(day=timezone.localdate())
    validity = _older_then_newer(user, 10_000, 20_000)
    services.wallet_spend(user_id=user.id, amount=3_001, description="")
    with override_settings(WALLET_BALANCE_VALIDITY_DAYS=validity(), WALLET_EXPIRY_NOTICE_DAYS_BEFORE=[]):
        services.balance_expiry_sweep()
    assert _expired_balance(user) == 6_999
    with pytest.raises(ApplicationError) as err:  # 90 % of it is owed: it needs an account
        services.refund_request_make(user_id=user.id, bank_account=None)
    assert err.value.code == "bank_account_required"
    # Not eligible for the wallet's balance (the last charge hardly used): the expired part alone.
    request, _ = services.refund_request_make(user_id=user.id, bank_account=ACCOUNT)
    assert request.status == RefundRequestStatus.COMPLETED
    assert (request.amount, request.expired_amount, request.expired_refund) == (0, 6_999, 6_300)  # rounded up
    payout = Payout.objects.get(request=request)
    postings = {p.account.code: p.amount for p in payout.entry.postings.select_related("account")}
    assert postings == {f"expired:{user.id}": -6_999, "system:payout-clearing": 6_300, "system:expiry-income": 699}
    assert balance_of(user.id) == 20_000 and _expired_balance(user) == 0
    (paid,) = _events(user, "PAYOUT_COMPLETED")
    assert paid["fromExpired"] == 6_999 and paid["amount"] == 6_300
    with pytest.raises(ApplicationError) as err:  # nothing left of it
        services.refund_request_make(user_id=user.id, bank_account=ACCOUNT)
    assert err.value.code == "refund_not_eligible"
    assert (Posting.objects.aggregate(s=Sum("amount"))["s"] or 0) == 0
    # The day's outstanding-balance report counts the expiry and the payout, and its books agree.
    after = selectors.custody_figures(day=timezone.localdate())
    assert (after.expired - before.expired, after.paid_out - before.paid_out, after.difference) == (6_999, 6_300, 0)

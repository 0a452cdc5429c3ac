"""wallet_reverse: the reversal rules (docs/invariants.md)."""

import pytest

from ledger.models import Account
from outbox.models import OutboxEvent
from prepaid.errors import ApplicationError
from prepaid.events import event_validate
from tests.helpers import assert_ledger_consistent, balance_of, charge
from wallets import services

pytestmark = pytest.mark.django_db


def test_reversing_a_spend_gives_the_money_back_in_parts(user):
    charge(user, 10_000)
    spend = services.wallet_spend(user_id=user.id, amount=4_000, description="shoes").transaction
    first = services.wallet_reverse(user_id=user.id, transaction_id=spend.id, amount=1_500,
                                    reason="one pair back").transaction
    assert balance_of(user.id) == 7_500
    rest = services.wallet_reverse(user_id=user.id, transaction_id=spend.id, amount=None, reason="the rest").transaction
    assert rest.amount == 2_500
    assert balance_of(user.id) == 10_000
    assert first.reverses_id == spend.id == rest.reverses_id
    event = OutboxEvent.objects.filter(event_type="REVERSAL_COMPLETED").order_by("id").last()
    assert event.payload["reversedAmount"] == 2_500
    assert event.payload["reason"] == "the rest"
    assert event.payload["metadata"]["reversedTransactionId"] == str(spend.id)
    event_validate(event.event)

    with pytest.raises(ApplicationError) as err:
        services.wallet_reverse(user_id=user.id, transaction_id=spend.id, amount=None, reason="again")
    assert err.value.code == "already_fully_reversed"
    assert_ledger_consistent(user.id)


def test_reversal_beyond_what_is_left_is_refused(user):
    charge(user, 10_000)
    spend = services.wallet_spend(user_id=user.id, amount=4_000, description="shoes").transaction
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
    reversal = services.wallet_reverse(user_id=user.id, transaction_id=top_up.id, amount=3_000,
                                       reason="cancel").transaction
    assert reversal.balance_after == 0
    postings = {p.account.code: p.amount for p in reversal.entry.postings.select_related("account")}
    assert postings == {f"wallet:{user.id}": -3_000, Account.PAYMENT_CLEARING_CODE: 3_000}
    assert_ledger_consistent(user.id)


def test_a_reversal_cannot_be_reversed(user):
    charge(user, 1_000)
    spend = services.wallet_spend(user_id=user.id, amount=500, description="x").transaction
    reversal = services.wallet_reverse(user_id=user.id, transaction_id=spend.id, amount=None, reason="r").transaction
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

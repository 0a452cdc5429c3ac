"""wallet_spend: debits the wallet, never below zero."""

import pytest

from ledger.models import JournalEntry
from outbox.models import OutboxEvent
from prepaid.errors import ApplicationError
from prepaid.events import event_validate
from tests.helpers import assert_ledger_consistent, balance_of, charge
from wallets import services

pytestmark = pytest.mark.django_db


def test_spend_debits_wallet(user):
    charge(user, 10_000)
    entry = services.wallet_spend(user_id=user.id, amount=2_500, description="coffee").transaction
    assert balance_of(user.id) == 7_500
    assert entry.balance_after == 7_500
    event = OutboxEvent.objects.get(event_type="SPEND_COMPLETED")
    assert (event.payload["amount"], event.payload["newBalance"], event.payload["description"]) == (2_500, 7_500,
                                                                                                    "coffee")
    event_validate(event.event)
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

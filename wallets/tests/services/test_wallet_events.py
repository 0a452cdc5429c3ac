"""The events the wallet operations write follow the contract (prepaid/events.py)."""

import copy

import pytest

from outbox.models import OutboxEvent
from prepaid.events import InvalidEvent, event_validate
from tests.helpers import new_order_id
from wallets import services


@pytest.fixture
def three_events(db, user):
    charge = services.wallet_charge(user_id=user.id, amount=10_000, payment_key="pk_x",
                                    order_id=new_order_id()).transaction
    spend = services.wallet_spend(user_id=user.id, amount=4_000, description="books").transaction
    services.wallet_reverse(user_id=user.id, transaction_id=spend.id, amount=None, reason="returned")
    assert charge
    return {e.event_type: e.event for e in OutboxEvent.objects.order_by("id")}


MUTATIONS = [
    ("CHARGE_COMPLETED", lambda p: p.pop("orderId")),
    ("CHARGE_COMPLETED", lambda p: p.update(amount=10.5)),
    ("CHARGE_COMPLETED", lambda p: p.update(amount=0)),
    ("CHARGE_COMPLETED", lambda p: p.update(newBalance=-1)),
    ("CHARGE_COMPLETED", lambda p: p.update(eventType="CHARGE_DONE")),
    ("SPEND_COMPLETED", lambda p: p.pop("description")),
    ("SPEND_COMPLETED", lambda p: p.update(eventId="not-a-uuid")),
    ("SPEND_COMPLETED", lambda p: p.update(occurredAt="2026-01-01T00:00:00")),
    ("REVERSAL_COMPLETED", lambda p: p.pop("reversedAmount")),
    ("REVERSAL_COMPLETED", lambda p: p.update(schemaVersion=2)),
    ("REVERSAL_COMPLETED", lambda p: p.update(userId="7")),
    ("REVERSAL_COMPLETED", lambda p: p.pop("metadata")),
]


def test_every_event_type_validates(three_events):
    assert set(three_events) == {"CHARGE_COMPLETED", "SPEND_COMPLETED", "REVERSAL_COMPLETED"}
    for payload in three_events.values():
        event_validate(payload)
        assert payload["schemaVersion"] == 1
        assert payload["occurredAt"].endswith("+00:00")


@pytest.mark.parametrize(("event_type", "mutate"), MUTATIONS)
def test_schema_rejects_broken_payloads(three_events, event_type, mutate):
    payload = copy.deepcopy(three_events[event_type])
    mutate(payload)
    with pytest.raises(InvalidEvent):
        event_validate(payload)

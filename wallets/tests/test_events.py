"""Event payloads follow the written JSON Schema; the schema rejects what it should."""

import copy

import jsonschema
import pytest

from outbox.models import OutboxEvent
from wallets import services
from wallets.events import SCHEMA_PATH, wallet_event_validate
from wallets.tests.helpers import new_order_id


@pytest.fixture
def three_events(db, user):
    charge = services.wallet_charge(user_id=user.id, amount=10_000, payment_key="pk_x", order_id=new_order_id())
    spend = services.wallet_spend(user_id=user.id, amount=4_000, description="books")
    services.wallet_reverse(user_id=user.id, transaction_id=spend.id, amount=None, reason="returned")
    assert charge
    return {e.event_type: e.payload for e in OutboxEvent.objects.order_by("id")}


def test_every_event_type_validates(three_events):
    assert set(three_events) == {"CHARGE_COMPLETED", "SPEND_COMPLETED", "REVERSAL_COMPLETED"}
    for payload in three_events.values():
        wallet_event_validate(payload)
        assert payload["schemaVersion"] == 1
        assert payload["occurredAt"].endswith("+00:00")


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


@pytest.mark.parametrize(("event_type", "mutate"), MUTATIONS)
def test_schema_rejects_broken_payloads(three_events, event_type, mutate):
    payload = copy.deepcopy(three_events[event_type])
    mutate(payload)
    with pytest.raises(jsonschema.ValidationError):
        wallet_event_validate(payload)


def test_schema_file_is_a_valid_json_schema():
    import json

    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.validators.validator_for(schema).check_schema(schema)
    assert schema["properties"]["eventType"]["enum"] == ["CHARGE_COMPLETED", "SPEND_COMPLETED",
                                                          "REVERSAL_COMPLETED"]

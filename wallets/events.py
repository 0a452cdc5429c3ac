"""Wallet events as they travel through the outbox and Kafka (camelCase JSON).

Pure functions: no I/O but reading the schema file once. The schema is
``wallets/schemas/wallet-event.v1.schema.json``; producers and the consumer
validate against it.
"""

import enum
import functools
import json
import uuid
from datetime import datetime
from pathlib import Path

import jsonschema

from ledger.models import EntryKind, JournalEntry

SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).parent / "schemas" / "wallet-event.v1.schema.json"
CONTENT_TYPE = "application/json"


class EventType(enum.StrEnum):
    CHARGE_COMPLETED = "CHARGE_COMPLETED"
    SPEND_COMPLETED = "SPEND_COMPLETED"
    REVERSAL_COMPLETED = "REVERSAL_COMPLETED"


EVENT_TYPE_BY_ENTRY_KIND = {
    EntryKind.CHARGE: EventType.CHARGE_COMPLETED,
    EntryKind.SPEND: EventType.SPEND_COMPLETED,
    EntryKind.REVERSAL: EventType.REVERSAL_COMPLETED,
}


@functools.cache
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def wallet_event_validate(payload: dict) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``payload`` is a valid wallet event."""
    _validator().validate(payload)


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def wallet_event_payload(*, entry: JournalEntry, event_id: uuid.UUID, currency: str = "KRW") -> dict:
    """The event describing a committed journal entry."""
    event_type = EVENT_TYPE_BY_ENTRY_KIND[EntryKind(entry.kind)]
    metadata = {"transactionId": str(entry.id), "currency": currency}
    payload = {
        "schemaVersion": SCHEMA_VERSION,
        "eventId": str(event_id),
        "eventType": str(event_type),
        "userId": entry.user_id,
        "occurredAt": _iso(entry.created_at),
        "metadata": metadata,
        "newBalance": entry.balance_after,
    }
    if event_type is EventType.CHARGE_COMPLETED:
        payload |= {"amount": entry.amount, "paymentKey": entry.payment_key, "orderId": entry.order_id}
    elif event_type is EventType.SPEND_COMPLETED:
        payload |= {"amount": entry.amount, "description": entry.description}
    else:
        metadata["reversedTransactionId"] = str(entry.reverses_id)
        metadata["reversedTransactionType"] = entry.reverses.kind
        payload |= {"reversedAmount": entry.amount, "reason": entry.description}
    return payload


def wallet_event_headers(payload: dict) -> dict[str, str]:
    """Kafka record headers: enough to route or drop a record without parsing its value."""
    return {
        "eventId": payload["eventId"],
        "eventType": payload["eventType"],
        "schemaVersion": str(payload["schemaVersion"]),
        "contentType": CONTENT_TYPE,
    }

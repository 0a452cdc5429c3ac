"""Writes to the outbox."""

import uuid

from django.conf import settings
from django.db import connection

from outbox.models import OutboxEvent
from prepaid.invariants import ensure


def outbox_event_record(
    *, event_id: uuid.UUID, event_type: str, key: str, payload: dict, headers: dict[str, str], topic: str | None = None
) -> OutboxEvent:
    """Record an event to publish, in the caller's open transaction.

    Outside a transaction the event could commit without the change it
    describes (or the reverse), so that is refused.
    """
    ensure(connection.in_atomic_block, "outbox events are recorded inside the transaction of the change")
    return OutboxEvent.objects.create(
        event_id=event_id,
        event_type=event_type,
        topic=topic or settings.KAFKA_TOPIC_WALLET_EVENTS,
        key=key,
        payload=payload,
        headers=headers,
    )

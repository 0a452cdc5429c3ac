"""Writes to the outbox, and what the relay needs around it."""

import functools
import logging
import uuid
from datetime import timedelta

import redis
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from psycopg.types.json import Jsonb

from accounts.services import operator_action_record
from outbox.models import OutboxEvent
from prepaid.db import delete_in_batches
from prepaid.invariants import ensure

logger = logging.getLogger(__name__)

# Set while relay slot N's task is queued or running; cleared by the task when it ends (outbox.tasks.outbox_relay).
RELAY_QUEUED_FLAG = "outbox:relay:queued:{slot}"


def outbox_event_record(*, event_id: uuid.UUID, event_type: str, key: str, payload: dict,
                        topic: str | None = None) -> None:
    """Record an event to publish, in the caller's open transaction: the outbox's one write
    (``outbox/sql/outbox_event_record.sql``, which the wallet operations call from SQL).

    Outside a transaction the event could commit without the change it
    describes (or the reverse), so that is refused. Once the transaction
    commits, a relay run is queued.
    """
    ensure(connection.in_atomic_block, "outbox events are recorded inside the transaction of the change")
    with connection.cursor() as cursor:
        cursor.execute("SELECT outbox_event_record(%s, %s, %s, %s, %s)",
                       [event_id, event_type, topic or settings.KAFKA_TOPIC_WALLET_EVENTS, key, Jsonb(payload)])
    # Registered once per transaction however many events it records.
    if not any(callback is outbox_relay_trigger for _, callback, _ in connection.run_on_commit):
        transaction.on_commit(outbox_relay_trigger)


@functools.cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=settings.REDIS_TIMEOUT_S, socket_connect_timeout=settings.REDIS_TIMEOUT_S
    )


def outbox_relay_trigger() -> None:
    """Queue a run of each relay slot that has none queued or running (a stream of commits queues
    one task a slot), in one round trip to Redis.

    Runs after commit: it must never fail the request. If Redis or the Celery
    broker is down the beat sweep relays the event within a second of recovery.
    A flag expires after ``OUTBOX_TRIGGER_FLAG_TTL_S`` in case its task died.
    """
    from outbox.tasks import outbox_relay

    try:
        pipe = _redis().pipeline(transaction=False)
        for slot in range(settings.OUTBOX_RELAYS):
            pipe.set(RELAY_QUEUED_FLAG.format(slot=slot), "1", nx=True, ex=settings.OUTBOX_TRIGGER_FLAG_TTL_S)
        for slot, newly_set in enumerate(pipe.execute()):
            if newly_set:
                outbox_relay.delay(slot)
    except Exception as exc:
        logger.warning("outbox relay trigger failed (the sweep will relay): %r", exc)


def outbox_relay_flag_clear(slot: int | None = None) -> None:
    """Clear relay ``slot``'s trigger flag (every slot's without one)."""
    slots = range(settings.OUTBOX_RELAYS) if slot is None else [slot]
    try:
        _redis().delete(*[RELAY_QUEUED_FLAG.format(slot=s) for s in slots])
    except redis.RedisError as exc:
        logger.warning("could not clear the relay flag: %r", exc)


def outbox_purge_published(*, older_than_days: int | None = None, batch_size: int | None = None,
                           max_batches: int = 1000) -> int:
    """Delete rows published longer ago than the retention, in bounded batches."""
    days = settings.OUTBOX_RETENTION_DAYS if older_than_days is None else older_than_days
    batch_size = batch_size or settings.OUTBOX_PURGE_BATCH_SIZE
    cutoff = timezone.now() - timedelta(days=days)
    deleted = delete_in_batches(OutboxEvent.objects.filter(published_at__lt=cutoff).order_by("published_at"),
                                batch_size=batch_size, max_batches=max_batches)
    if deleted:
        logger.info("outbox: purged %d published rows older than %d days", deleted, days)
    return deleted


def outbox_retry_failed(*, ids: list[int], by=None) -> int:
    """Give parked rows (their attempts ran out) to the relay again, from a first attempt.
    Returns how many were parked; each is recorded as the operator's action."""
    now_pending = list(OutboxEvent.objects.filter(id__in=ids, failed_at__isnull=False, published_at__isnull=True)
                       .values_list("id", "event_id"))
    OutboxEvent.objects.filter(id__in=[i for i, _ in now_pending]).update(
        failed_at=None, attempts=0, next_attempt_at=None)
    for row_id, event_id in now_pending:
        operator_action_record(user=by, action="outbox_retry", target=f"outbox_event:{row_id}", detail=str(event_id))
    if now_pending:
        outbox_relay_trigger()
    return len(now_pending)

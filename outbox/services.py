"""Writes to the outbox, and what the relay needs around it."""

import dataclasses
import functools
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import timedelta

import redis
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from kafka.partitioner.default import murmur2
from psycopg.types.json import Jsonb

from accounts.services import operator_action_record
from outbox.models import OutboxEvent, OutboxTopic
from prepaid.db import delete_in_batches
from prepaid.invariants import ensure
from prepaid.kafka import kafka_partitions_create, kafka_topic_groups, kafka_topic_partition_count

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


_partitions_cache: tuple[float, int] | None = None  # (monotonic time read, the topic's partition count)


def _partitions_cached() -> int:
    """The wallet events topic's partition count as the relays share it, read at most every
    ``OUTBOX_PARTITIONS_CACHE_S`` (a stale count after kafka_partitions_add queues the wrong relay for
    a while: the beat's sweep publishes the event within a second)."""
    global _partitions_cache
    now = time.monotonic()
    if _partitions_cache is None or now - _partitions_cache[0] > settings.OUTBOX_PARTITIONS_CACHE_S:
        row = OutboxTopic.objects.filter(name=settings.KAFKA_TOPIC_WALLET_EVENTS).values_list(
            "partitions", flat=True).first()
        _partitions_cache = (now, row or settings.KAFKA_WALLET_EVENTS_PARTITIONS)
    return _partitions_cache[1]


def relay_slot_of(partition: int, slots: int) -> int:
    """The relay slot (of ``slots``) that publishes ``partition``: the one rule of who owns what."""
    return partition % slots


def outbox_relay_slots(keys: Iterable[str]) -> set[int]:
    """The relay slots that publish these keys' events: the slot owning each key's partition (Kafka's
    partitioner over the key, as outbox_key_hash computes it in SQL)."""
    partitions, slots = _partitions_cached(), settings.OUTBOX_RELAYS
    return {relay_slot_of((murmur2(key.encode()) & 0x7FFFFFFF) % partitions, slots) for key in keys}


def outbox_relay_trigger(keys: Iterable[str] | None = None) -> None:
    """Queue a run of the relay slots owning ``keys``' partitions (every slot without keys) that have
    none queued or running (a stream of commits queues one task a slot), in one round trip to Redis.

    Runs after commit: it must never fail the request. If Redis or the Celery
    broker is down the beat sweep relays the event within a second of recovery.
    A flag expires after ``OUTBOX_TRIGGER_FLAG_TTL_S`` in case its task died.
    """
    from outbox.tasks import outbox_relay

    try:
        slots = sorted(outbox_relay_slots(keys)) if keys is not None else range(settings.OUTBOX_RELAYS)
        pipe = _redis().pipeline(transaction=False)
        for slot in slots:
            pipe.set(RELAY_QUEUED_FLAG.format(slot=slot), "1", nx=True, ex=settings.OUTBOX_TRIGGER_FLAG_TTL_S)
        for slot, newly_set in zip(slots, pipe.execute(), strict=True):
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


# --- Partitions --------------------------------------------------------------------


def outbox_topic_ensure(topic: str) -> OutboxTopic:
    """The relays' view of ``topic``, recorded from Kafka's metadata the first time it is asked for."""
    row = OutboxTopic.objects.filter(name=topic).first()
    if row is None:
        OutboxTopic.objects.get_or_create(name=topic, defaults={"partitions": kafka_topic_partition_count(topic)})
        row = OutboxTopic.objects.get(name=topic)
        logger.info("outbox: %s has %d partitions (recorded from Kafka)", topic, row.partitions)
    return row


def _publishing_pause(topic: str, *, reason: str) -> None:
    """Pause the relays' publishing to ``topic`` for a lease of ``OUTBOX_PAUSE_LEASE_S`` (renewed by
    calling again). The row's update waits for the batches in flight (each reads the row FOR SHARE):
    once it returns, every record the relays sent is in Kafka and no batch sends more."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{settings.OUTBOX_SEND_TIMEOUT_S + 5}s"])
        cursor.execute("UPDATE outbox_outboxtopic SET paused_until = now() + make_interval(secs => %s), "
                       "paused_reason = %s, updated_at = now() WHERE name = %s",
                       [settings.OUTBOX_PAUSE_LEASE_S, reason[:200], topic])


def _publishing_resume(topic: str, *, partitions: int | None = None) -> None:
    fields = {"paused_until": None, "paused_reason": ""}
    if partitions is not None:
        fields["partitions"] = partitions
    OutboxTopic.objects.filter(name=topic).update(**fields, updated_at=timezone.now())
    outbox_relay_trigger()  # what waited meanwhile goes now, not at the next sweep


class PartitionsAddError(Exception):
    """Partitions were not added; publishing goes on with the partitions as they were."""


@dataclasses.dataclass
class PartitionsAdded:
    topic: str
    before: int
    after: int
    caught_up: list[str]  # the groups waited for, each caught up before the count changed
    ignored: list[str]  # groups not running and not the platform's: their order is theirs to keep
    not_assigned: list[str]  # running groups not yet holding every new partition when the report was made


def outbox_partitions_add(*, total: int, skip_groups: frozenset[str] = frozenset(),
                          progress: Callable[[str], None] = logger.info) -> PartitionsAdded:
    """Give the wallet events topic ``total`` partitions without reordering any user's events.

    Adding partitions moves keys: a user whose partition changes would have older events in the old
    partition and newer ones in the new, read by the same group in any order. So: publishing pauses
    (a lease, renewed here); every consumer group of the topic catches up (the platform's own even
    when stopped, others while running; ``skip_groups`` are not waited for); only then are the
    partitions added in Kafka and the count the relays share changed, which resumes publishing, to
    the new partitions. Each step that fails resumes with the count as it was, which is consistent
    at every step (Kafka may then hold partitions no relay sends to yet; running this again uses them).
    """
    topic = settings.KAFKA_TOPIC_WALLET_EVENTS
    row = outbox_topic_ensure(topic)
    before = row.partitions
    if total <= before:
        raise PartitionsAddError(f"{topic} has {before} partitions: a topic's partitions can only grow")
    _publishing_pause(topic, reason=f"kafka_partitions_add: {before} -> {total} partitions")
    progress(f"{topic}: publishing paused")
    try:
        deadline = time.monotonic() + settings.KAFKA_PARTITIONS_ADD_CATCH_UP_TIMEOUT_S
        said_at = 0.0
        while True:
            groups = [g for g in kafka_topic_groups(topic) if g.group_id not in skip_groups]
            own = set(settings.KAFKA_WALLET_EVENTS_OWN_GROUPS)
            waited = [g for g in groups if g.running or g.group_id in own]
            behind = [g for g in waited if g.lag]
            if not behind:
                break
            status = ", ".join(f"{g.group_id} ({g.state}, {g.lag} behind)" for g in behind)
            if time.monotonic() > deadline:
                raise PartitionsAddError(f"{topic}: groups still behind after "
                                         f"{settings.KAFKA_PARTITIONS_ADD_CATCH_UP_TIMEOUT_S} s: {status}; start "
                                         "them, or name the ones whose order does not matter in --skip-group")
            if time.monotonic() - said_at >= 5:
                progress(f"{topic}: waiting for {status}")
                said_at = time.monotonic()
            _publishing_pause(topic, reason=f"kafka_partitions_add: {before} -> {total} partitions")
            time.sleep(0.5)
        progress(f"{topic}: caught up: {', '.join(g.group_id for g in waited) or 'no group reads it'}")
        if kafka_topic_partition_count(topic) < total:
            kafka_partitions_create(topic, total)
        progress(f"{topic}: {total} partitions in Kafka")
    except BaseException:
        _publishing_resume(topic)
        progress(f"{topic}: publishing resumed with {before} partitions")
        raise
    _publishing_resume(topic, partitions=total)
    progress(f"{topic}: publishing resumed with {total} partitions")
    logger.warning("%s: partitions %d -> %d (kafka_partitions_add)", topic, before, total)

    deadline = time.monotonic() + settings.KAFKA_PARTITIONS_ADD_ASSIGNMENT_WAIT_S
    while True:
        running = [g for g in kafka_topic_groups(topic) if g.running and g.group_id not in skip_groups]
        not_assigned = [g.group_id for g in running if len(g.assigned) < total]
        if not not_assigned or time.monotonic() > deadline:
            break
        time.sleep(1)
    return PartitionsAdded(topic=topic, before=before, after=total, caught_up=[g.group_id for g in waited],
                           ignored=[g.group_id for g in groups if g not in waited], not_assigned=not_assigned)

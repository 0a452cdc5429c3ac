"""The outbox relay: committed outbox rows to Kafka, at least once, in per-user order.

How it keeps its promises:

- Nothing lost: a row is marked published only after Kafka acknowledged it
  (acks=all). A crash before that leaves the row pending; the next run sends it
  again (a duplicate of the batch in flight, never a loss).
- Claims by state, not by position: rows are claimed as "unpublished, oldest
  first" with ``FOR UPDATE SKIP LOCKED``. Serial ids can commit out of order, so
  "id > last seen" could skip a row that committed late; a state claim cannot.
- Per-user order: a user's events all go to one Kafka partition (Kafka's partitioner
  over the key, computed by PostgreSQL when the row is written: ``key_hash``), and one
  relay at a time publishes a partition's rows: it holds that partition's advisory lock
  (released by the server if the process dies). The producer is idempotent with at most
  5 requests in flight, so Kafka keeps the order of a partition across retries; and a
  row waiting out a back-off holds back the later rows of the same key.
- Several relays: relay ``slot`` of ``slots`` (``OUTBOX_RELAYS``) wants the partitions
  ``p`` with ``p % slots == slot``; a run without a slot (the beat's sweep) takes every
  partition no other run holds, which is how a dead relay's partitions are taken over.
  Every relay reads the topic's partition count (``OutboxTopic``) in each batch, so all
  agree on who owns what, and each row is sent to the partition that count names;
  ``kafka_partitions_add`` pauses them all while the count changes.
- Bounded: batches of ``OUTBOX_RELAY_BATCH_SIZE`` rows, ``OUTBOX_SEND_TIMEOUT_S``
  per batch (the row locks are held no longer), ``OUTBOX_RELAY_TIME_BUDGET_S``
  per run.
"""

import contextlib
import dataclasses
import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.utils import timezone
from kafka.errors import (
    InvalidTopicError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    TopicAuthorizationFailedError,
)

from outbox import metrics
from outbox.models import OutboxEvent
from outbox.services import outbox_topic_ensure, relay_slot_of
from prepaid.events import event_headers
from prepaid.kafka import kafka_headers_encode, kafka_producer, kafka_producer_reset

logger = logging.getLogger(__name__)

# pg_advisory_lock(RELAY_LOCK_CLASS, partition): held by the one relay publishing that partition ("outb").
RELAY_LOCK_CLASS = 0x6F757462

# Errors that sending the same record again will not cure.
NON_RETRIABLE_ERRORS = (
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    InvalidTopicError,
    TopicAuthorizationFailedError,
    TypeError,
    ValueError,
)

# Deliberately simple, so the plan is always an ordered scan of the small partial
# index, even on stale statistics (e.g. after a Kafka outage piled up a backlog).
# The back-off rules are applied to the claimed window in Python (_eligible).
# The record's value is the payload with the event id (stored only in its column) added.
# A row's partition is its key's hash modulo the topic's partition count; the relay claims only the
# partitions it holds.
CLAIM_SQL = """
SELECT id, topic, key, key_hash %% %(partitions)s, (jsonb_build_object('eventId', event_id) || payload)::text,
       event_id::text, event_type, coalesce((payload->>'schemaVersion')::int, 1), attempts,
       coalesce(next_attempt_at > now(), false) AS waiting
FROM outbox_outboxevent
WHERE published_at IS NULL AND failed_at IS NULL AND key_hash %% %(partitions)s = ANY(%(held)s)
ORDER BY id
LIMIT %(limit)s
FOR UPDATE SKIP LOCKED
"""

# The topic as the relays see it; FOR SHARE in a batch, so that pausing (an UPDATE) waits for the
# batches in flight and holds back new ones until it commits.
TOPIC_SQL = ("SELECT partitions, coalesce(paused_until > now(), false) FROM outbox_outboxtopic "
             "WHERE name = %s")


@dataclasses.dataclass
class RelayResult:
    # "acquired"; "busy": other runs hold every partition this one wanted; "paused": publishing is
    # paused (kafka_partitions_add); "unknown_topic": the partition count could not be learnt (Kafka down).
    lock: str = "acquired"
    partitions: list[int] = dataclasses.field(default_factory=list)  # the partitions this run held
    batches: int = 0
    published: int = 0
    retrying: int = 0  # failed this time, will be sent again after a back-off
    parked: int = 0  # given up on: failed_at set, shown in the admin
    # "empty"; "budget"; "send_errors"; "paused": publishing was paused, or the partition count changed.
    stopped: str = "empty"

    def add(self, other: "RelayResult") -> None:
        self.batches += other.batches
        self.published += other.published
        self.retrying += other.retrying
        self.parked += other.parked


@dataclasses.dataclass(frozen=True)
class ClaimedRow:
    id: int
    topic: str
    key: str
    partition: int  # of the relays' topic, by its partition count
    value: str
    event_id: str
    event_type: str
    schema_version: int
    attempts: int
    waiting: bool  # in back-off after a failed send


def backoff_ms(attempts: int) -> int:
    """Back-off before the next try of a row that has failed ``attempts`` times."""
    exponent = min(max(attempts - 1, 0), 20)
    return min(settings.OUTBOX_RETRY_BACKOFF_BASE_MS * 2**exponent, settings.OUTBOX_RETRY_BACKOFF_MAX_MS)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def relay_partitions_wanted(*, partitions: int, slot: int | None, slots: int | None) -> list[int]:
    """The partitions relay ``slot`` of ``slots`` publishes; all of them without a slot (the sweep)."""
    if slot is None or not slots:
        return list(range(partitions))
    return [p for p in range(partitions) if relay_slot_of(p, slots) == slot % slots]


def _topic_state(topic: str, *, share_lock: bool = False) -> tuple[int, bool] | None:
    """(partition count, paused) of the topic as the relays see it; None if not recorded yet."""
    with connection.cursor() as cursor:
        cursor.execute(TOPIC_SQL + (" FOR SHARE" if share_lock else ""), [topic])
        row = cursor.fetchone()
    return (row[0], row[1]) if row else None


class _PartitionLocks:
    """The session-level advisory locks of the partitions this run publishes: those of ``wanted``
    no other run holds (waiting up to ``wait_s`` in all for them)."""

    def __init__(self, wanted: list[int], *, wait_s: float):
        self.wanted = wanted
        self.wait_s = wait_s
        self.held: list[int] = []

    def __enter__(self) -> list[int]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT coalesce(array_agg(p ORDER BY p), '{}') FROM unnest(%s::int[]) AS p "
                           "WHERE pg_try_advisory_lock(%s, p)", [self.wanted, RELAY_LOCK_CLASS])
            self.held = list(cursor.fetchone()[0])
            deadline = time.monotonic() + self.wait_s
            for partition in self.wanted:
                remaining_ms = int((deadline - time.monotonic()) * 1000)
                if partition in self.held or remaining_ms <= 0:
                    continue
                cursor.execute("SELECT set_config('lock_timeout', %s, false)", [f"{remaining_ms}ms"])
                try:
                    cursor.execute("SELECT pg_advisory_lock(%s, %s)", [RELAY_LOCK_CLASS, partition])
                    self.held.append(partition)
                except OperationalError:  # lock_timeout: another run kept it
                    pass
                finally:
                    cursor.execute("RESET lock_timeout")
        self.held.sort()
        return self.held

    def __exit__(self, *exc_info) -> None:
        if self.held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, p) FROM unnest(%s::int[]) AS p",
                               [RELAY_LOCK_CLASS, self.held])


def _claim(*, batch_size: int, partitions: int, held: list[int]) -> list[ClaimedRow]:
    with connection.cursor() as cursor:
        cursor.execute(CLAIM_SQL, {"partitions": partitions, "held": held, "limit": batch_size})
        return [ClaimedRow(*row) for row in cursor.fetchall()]


def _eligible(window: list[ClaimedRow]) -> list[ClaimedRow]:
    """The rows of the (id-ordered) window that may be sent now.

    A row in back-off is skipped, and so is every later row of its key, so
    that a user's events never overtake each other. The window starts at the
    oldest pending row of the partitions held, and a key lives in one partition,
    so every earlier row of a key is in it.
    """
    held_keys: set[str] = set()
    eligible = []
    for row in window:
        if row.waiting:
            held_keys.add(row.key)
        elif row.key not in held_keys:
            eligible.append(row)
    return eligible


def _producer_knowing(topic: str, partitions: int):
    """The producer, once its metadata knows ``partitions`` partitions of ``topic`` (after
    ``kafka_partitions_add`` a producer made before has not seen the new ones: it is made again)."""
    producer = kafka_producer()
    if len(producer.partitions_for(topic) or ()) < partitions:
        kafka_producer_reset()
        producer = kafka_producer()
        known = len(producer.partitions_for(topic) or ())
        if known < partitions:
            raise KafkaTimeoutError(f"Kafka shows {known} partitions of {topic}, the relays publish to {partitions}")
    return producer


def _send(rows: list[ClaimedRow], *, topic: str, partitions: int
          ) -> tuple[list[int], list[tuple[ClaimedRow, BaseException]]]:
    """Send rows (those of ``topic`` to the partition their hash names for ``partitions``); return the
    ids Kafka acknowledged and the rows that failed, with why."""
    failures: list[tuple[ClaimedRow, BaseException]] = []
    try:
        producer = _producer_knowing(topic, partitions)
    except Exception as exc:  # broker unreachable: every row failed this time
        return [], [(row, exc) for row in rows]

    futures = []
    held_keys: set[str] = set()
    for row in rows:
        if row.key in held_keys:
            continue  # an earlier event of this key failed: this one waits, to keep the key's order
        try:
            headers = kafka_headers_encode(event_headers(event_id=row.event_id, event_type=row.event_type,
                                                         schema_version=row.schema_version))
            future = producer.send(row.topic, key=row.key.encode(), value=row.value.encode(), headers=headers,
                                   partition=row.partition if row.topic == topic else None)
        except Exception as exc:
            failures.append((row, exc))
            held_keys.add(row.key)
        else:
            futures.append((row, future))
    # Futures that did not complete in time count as failed below.
    with contextlib.suppress(KafkaTimeoutError):
        producer.flush(timeout=settings.OUTBOX_SEND_TIMEOUT_S)

    acked: list[int] = []
    for row, future in futures:
        if not future.is_done:
            failures.append((row, KafkaTimeoutError(f"no acknowledgement within {settings.OUTBOX_SEND_TIMEOUT_S}s")))
        elif future.failed():
            failures.append((row, future.exception))
        else:
            acked.append(row.id)
            sent = future.value
            logger.info("published event=%s user=%s %s[%d]@%d", row.event_id, row.key, sent.topic, sent.partition,
                        sent.offset)
    if any(not isinstance(exc, NON_RETRIABLE_ERRORS) for _, exc in failures):
        # Records may be stuck in the producer's buffer; start afresh so a resend keeps its order.
        kafka_producer_reset()
    return acked, failures


def _record_failures(failures: list[tuple[ClaimedRow, BaseException]], result: RelayResult) -> None:
    now = timezone.now()
    for row, exc in failures:
        attempts = row.attempts + 1
        fields = {"attempts": attempts, "last_error": _describe(exc)}
        if isinstance(exc, NON_RETRIABLE_ERRORS) and attempts >= settings.OUTBOX_FAILED_AFTER_ATTEMPTS:
            fields["failed_at"] = now
            result.parked += 1
            logger.error("outbox event %s parked after %d attempts: %s", row.id, attempts, fields["last_error"])
        else:
            fields["next_attempt_at"] = now + timedelta(milliseconds=backoff_ms(attempts))
            result.retrying += 1
            logger.warning("outbox event %s not sent (attempt %d): %s", row.id, attempts, fields["last_error"])
        OutboxEvent.objects.filter(id=row.id).update(**fields)


def _relay_batch(*, topic: str, partitions: int, held: list[int], batch_size: int) -> tuple[RelayResult, int]:
    """Claim, send and mark one batch in one short transaction. Returns (result, rows claimed);
    the result says "paused" if publishing was paused or the partition count changed meanwhile."""
    result = RelayResult(batches=1)
    started = time.monotonic()
    with transaction.atomic():
        if _topic_state(topic, share_lock=True) != (partitions, False):
            return RelayResult(stopped="paused"), 0
        window = _claim(batch_size=batch_size, partitions=partitions, held=held)
        rows = _eligible(window)
        if not rows:
            return RelayResult(), 0
        acked, failures = _send(rows, topic=topic, partitions=partitions)
        if acked:
            with connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE outbox_outboxevent SET published_at = now(), attempts = attempts + 1, "
                    "next_attempt_at = NULL WHERE id = ANY(%s)",
                    [acked],
                )
        result.published = len(acked)
        _record_failures(failures, result)
    metrics.RELAY_BATCH_DURATION.observe(time.monotonic() - started)
    metrics.PUBLISHED.inc(len(acked))
    return result, len(rows)


def outbox_relay_run(
    *, slot: int | None = None, slots: int | None = None, wait_for_lock: bool = True,
    time_budget_s: float | None = None, batch_size: int | None = None,
) -> RelayResult:
    """Publish the partitions of relay ``slot`` of ``slots`` (every partition no other run holds
    when no slot is given) until they are empty, sending fails, or the time budget is spent."""
    topic = settings.KAFKA_TOPIC_WALLET_EVENTS
    batch_size = batch_size or settings.OUTBOX_RELAY_BATCH_SIZE
    budget_s = settings.OUTBOX_RELAY_TIME_BUDGET_S if time_budget_s is None else time_budget_s
    deadline = time.monotonic() + budget_s
    try:
        state = _topic_state(topic)
        if state is None:  # the first run: the count recorded from Kafka
            outbox_topic_ensure(topic)
            state = _topic_state(topic)
        partitions, paused = state
    except Exception as exc:  # Kafka unreachable before the count was ever recorded: nothing can be sent
        logger.warning("outbox relay: partition count of %s unknown, nothing sent: %s", topic, _describe(exc))
        return RelayResult(lock="unknown_topic", stopped="send_errors")
    if paused:
        return RelayResult(lock="paused", stopped="paused")
    wanted = relay_partitions_wanted(partitions=partitions, slot=slot, slots=slots)
    total = RelayResult()
    with _PartitionLocks(wanted, wait_s=settings.OUTBOX_RELAY_LOCK_WAIT_S if wait_for_lock else 0) as held:
        if not held:
            return RelayResult(lock="busy")
        total.partitions = list(held)
        while True:
            batch, claimed = _relay_batch(topic=topic, partitions=partitions, held=held, batch_size=batch_size)
            total.add(batch)
            if batch.stopped == "paused":
                total.stopped = "paused"
                break
            if claimed == 0:
                total.stopped = "empty"
                break
            if batch.retrying:
                total.stopped = "send_errors"  # the back-off decides when rows are tried again
                break
            if time.monotonic() >= deadline:
                total.stopped = "budget"
                break
        metrics.RELAY_LAST_RUN.set_to_current_time()
    if total.published or total.retrying or total.parked:
        logger.info("outbox relay: %s", dataclasses.asdict(total))
    return total

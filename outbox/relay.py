"""The outbox relay: committed outbox rows to Kafka, at least once, in per-user order.

How it keeps its promises:

- Nothing lost: a row is marked published only after Kafka acknowledged it
  (acks=all). A crash before that leaves the row pending; the next run sends it
  again (a duplicate of the batch in flight, never a loss).
- Claims by state, not by position: rows are claimed as "unpublished, oldest
  first" with ``FOR UPDATE SKIP LOCKED``. Serial ids can commit out of order, so
  "id > last seen" could skip a row that committed late; a state claim cannot.
- Per-user order: one relay runs at a time (a PostgreSQL advisory lock, released
  by the server if the process dies); the producer is idempotent with at most
  5 requests in flight, so Kafka keeps the order of a partition across retries;
  and a row waiting out a back-off holds back the later rows of the same key.
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
from prepaid.events import event_headers
from prepaid.kafka import kafka_headers_encode, kafka_producer, kafka_producer_reset

logger = logging.getLogger(__name__)

# pg_advisory_lock key of the relay ("outbox" in ASCII).
RELAY_LOCK_KEY = 0x6F7574626F78

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
CLAIM_SQL = """
SELECT id, topic, key, (jsonb_build_object('eventId', event_id) || payload)::text,
       event_id::text, event_type, coalesce((payload->>'schemaVersion')::int, 1), attempts,
       coalesce(next_attempt_at > now(), false) AS waiting
FROM outbox_outboxevent
WHERE published_at IS NULL AND failed_at IS NULL
ORDER BY id
LIMIT %s
FOR UPDATE SKIP LOCKED
"""


@dataclasses.dataclass
class RelayResult:
    lock: str = "acquired"  # or "busy": another run holds the relay lock
    batches: int = 0
    published: int = 0
    retrying: int = 0  # failed this time, will be sent again after a back-off
    parked: int = 0  # given up on: failed_at set, shown in the admin
    stopped: str = "empty"  # "empty", "budget" or "send_errors"

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


class _RelayLock:
    """The session-level advisory lock that makes this the only running relay."""

    def __init__(self, *, wait_s: float):
        self.wait_s = wait_s
        self.acquired = False

    def __enter__(self) -> bool:
        with connection.cursor() as cursor:
            if self.wait_s <= 0:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [RELAY_LOCK_KEY])
                self.acquired = bool(cursor.fetchone()[0])
                return self.acquired
            cursor.execute("SELECT set_config('lock_timeout', %s, false)", [f"{int(self.wait_s * 1000)}ms"])
            try:
                cursor.execute("SELECT pg_advisory_lock(%s)", [RELAY_LOCK_KEY])
                self.acquired = True
            except OperationalError:  # lock_timeout: another run kept the lock
                self.acquired = False
            finally:
                cursor.execute("RESET lock_timeout")
        return self.acquired

    def __exit__(self, *exc_info) -> None:
        if self.acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [RELAY_LOCK_KEY])


def _claim(batch_size: int) -> list[ClaimedRow]:
    with connection.cursor() as cursor:
        cursor.execute(CLAIM_SQL, [batch_size])
        return [ClaimedRow(*row) for row in cursor.fetchall()]


def _eligible(window: list[ClaimedRow]) -> list[ClaimedRow]:
    """The rows of the (id-ordered) window that may be sent now.

    A row in back-off is skipped, and so is every later row of its key, so
    that a user's events never overtake each other. The window starts at the
    oldest pending row, so every earlier row of a key is in it.
    """
    held_keys: set[str] = set()
    eligible = []
    for row in window:
        if row.waiting:
            held_keys.add(row.key)
        elif row.key not in held_keys:
            eligible.append(row)
    return eligible


def _send(rows: list[ClaimedRow]) -> tuple[list[int], list[tuple[ClaimedRow, BaseException]]]:
    """Send rows; return the ids Kafka acknowledged and the rows that failed, with why."""
    failures: list[tuple[ClaimedRow, BaseException]] = []
    try:
        producer = kafka_producer()
    except Exception as exc:  # broker unreachable at start-up: every row failed this time
        return [], [(row, exc) for row in rows]

    futures = []
    held_keys: set[str] = set()
    for row in rows:
        if row.key in held_keys:
            continue  # an earlier event of this key failed: this one waits, to keep the key's order
        try:
            headers = kafka_headers_encode(event_headers(event_id=row.event_id, event_type=row.event_type,
                                                         schema_version=row.schema_version))
            future = producer.send(row.topic, key=row.key.encode(), value=row.value.encode(), headers=headers)
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


def _relay_batch(batch_size: int) -> tuple[RelayResult, int]:
    """Claim, send and mark one batch in one short transaction. Returns (result, rows claimed)."""
    result = RelayResult(batches=1)
    started = time.monotonic()
    with transaction.atomic():
        window = _claim(batch_size)
        rows = _eligible(window)
        if not rows:
            return RelayResult(), 0
        acked, failures = _send(rows)
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
    *, wait_for_lock: bool = True, time_budget_s: float | None = None, batch_size: int | None = None
) -> RelayResult:
    """Drain the outbox to Kafka until it is empty, sending fails, or the time budget is spent."""
    batch_size = batch_size or settings.OUTBOX_RELAY_BATCH_SIZE
    budget_s = settings.OUTBOX_RELAY_TIME_BUDGET_S if time_budget_s is None else time_budget_s
    deadline = time.monotonic() + budget_s
    wait_s = settings.OUTBOX_RELAY_LOCK_WAIT_S if wait_for_lock else 0
    total = RelayResult()
    with _RelayLock(wait_s=wait_s) as acquired:
        if not acquired:
            return RelayResult(lock="busy")
        while True:
            batch, claimed = _relay_batch(batch_size)
            total.add(batch)
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

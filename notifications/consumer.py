"""The Kafka consumers run by ``manage.py run_consumer``.

``WalletEventConsumer`` (group ``notification-service``) turns each wallet event
into a notification. A failure is retried ``NOTIFICATIONS_CONSUMER_RETRIES`` times,
``NOTIFICATIONS_CONSUMER_RETRY_INTERVAL_MS`` apart, then the record is parked on the DLT topic
(original key, value and headers, plus headers naming where it came from and
why it failed). A record that is not a valid event goes to the DLT at once.
Offsets are committed only after a record was handled or its DLT copy was
acknowledged, so a crash redelivers (and dedup absorbs) instead of losing.

``DeadLetterStore`` (group ``<group>.dlt-store``) reads the DLT topic into
DeadLetter rows for the admin.
"""

import contextlib
import logging
import signal
import threading
import traceback
from datetime import datetime

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone
from kafka import KafkaConsumer
from kafka.errors import CommitFailedError, KafkaError, RebalanceInProgressError
from kafka.structs import OffsetAndMetadata

from notifications import channels, metrics, services
from prepaid.errors import DATABASE_UNAVAILABLE
from prepaid.events import InvalidEvent, event_parse
from prepaid.kafka import kafka_consumer, kafka_producer, kafka_producer_reset

logger = logging.getLogger(__name__)

PARKED = object()  # with_retries' result for a record it parked on the DLT


def _where(record) -> str:
    return f"{record.topic}[{record.partition}]@{record.offset}"


def _log_handled(record, result: services.HandleResult, event: dict) -> None:
    logger.info("record %s event=%s user=%s %s", _where(record), result.event_id, result.user_id, result.outcome)
    metrics.RECORDS.labels(settings.NOTIFICATIONS_CONSUMER_GROUP, result.outcome).inc()
    if result.outcome == "notified":
        committed = datetime.fromisoformat(event["occurredAt"])
        metrics.EVENT_TO_NOTIFICATION.observe(max((timezone.now() - committed).total_seconds(), 0))


class _Loop:
    """poll -> handle each record -> commit what was handled; until ``stop`` is set."""

    topic: str
    group_id: str

    def __init__(self, stop: threading.Event):
        self.stop = stop

    def handle(self, record) -> bool:
        """Handle one record; False means "not done, do not commit past it" (only when stopping)."""
        raise NotImplementedError

    def dlt_headers(self) -> list[tuple[str, bytes]]:
        """Headers of this loop's own on a record it parks (a channel's name)."""
        return []

    def with_retries(self, record, work, *, unreachable: tuple[type[BaseException], ...] = ()):
        """Run ``work()`` for ``record``: ``(True, its result)``; or, after it failed
        ``NOTIFICATIONS_CONSUMER_RETRIES`` more times ``NOTIFICATIONS_CONSUMER_RETRY_INTERVAL_MS``
        apart, the record parked on the DLT: ``(parked, PARKED)``; or ``(False, None)`` when the loop
        is stopped meanwhile (not handled, not committed: read again after the restart).

        What is not the record's fault is waited out without spending its retries: the database
        out of reach (restarting, failing over: every record of the outage would otherwise go to
        the DLT, out of order) is asked again every retry interval, as it is ours and back soon;
        a third party out of reach (``unreachable``: the mail server, Slack) with a back-off doubling
        up to ``NOTIFICATIONS_CHANNEL_UNAVAILABLE_WAIT_MAX_S``; a 429 after its Retry-After.
        """
        where = _where(record)
        interval_s = settings.NOTIFICATIONS_CONSUMER_RETRY_INTERVAL_MS / 1000
        attempts, backoff_s = 0, interval_s
        while not self.stop.is_set():
            attempts += 1
            try:
                return True, work()
            except DATABASE_UNAVAILABLE as exc:
                attempts -= 1
                logger.warning("%s: record %s: the database is unavailable (%r); waiting for it", self.group_id,
                               where, exc)
                close_old_connections()
                self.stop.wait(interval_s)
            except unreachable as exc:
                attempts -= 1
                logger.warning("%s: record %s: %s; waiting %.0f s", self.group_id, where, exc, backoff_s)
                self.stop.wait(backoff_s)
                backoff_s = min(backoff_s * 2, settings.NOTIFICATIONS_CHANNEL_UNAVAILABLE_WAIT_MAX_S)
            except channels.ChannelRateLimited as exc:
                attempts -= 1
                logger.warning("%s: rate limited; record %s waits %.1f s (Retry-After)", self.group_id, where,
                               exc.retry_after_s)
                self.stop.wait(exc.retry_after_s)
            except Exception as exc:
                if attempts > settings.NOTIFICATIONS_CONSUMER_RETRIES:
                    logger.error("%s: record %s failed %d times (%r): to the DLT", self.group_id, where, attempts, exc)
                    return self.park(record, exc, attempts), PARKED
                logger.warning("%s: record %s failed (attempt %d of %d): %r; retrying in %.1f s", self.group_id,
                               where, attempts, settings.NOTIFICATIONS_CONSUMER_RETRIES + 1, exc, interval_s)
                # The connection is kept between records; after a failure it may be broken: start afresh.
                close_old_connections()
                self.stop.wait(interval_s)
        return False, None

    def park(self, record, exc: BaseException, attempts: int) -> bool:
        """Copy the record to the DLT and wait for the acknowledgement (retrying until stopped)."""
        headers = list(record.headers or []) + [
            (services.DLT_ORIGINAL_TOPIC, record.topic.encode()),
            (services.DLT_ORIGINAL_PARTITION, str(record.partition).encode()),
            (services.DLT_ORIGINAL_OFFSET, str(record.offset).encode()),
            (services.DLT_EXCEPTION_FQCN, f"{type(exc).__module__}.{type(exc).__qualname__}".encode()),
            (services.DLT_EXCEPTION_MESSAGE, str(exc)[:4000].encode()),
            (services.DLT_ATTEMPTS, str(attempts).encode()),
            (services.DLT_FAILED_AT, timezone.now().isoformat().encode()),
            *self.dlt_headers(),
        ]
        delay_s = 1.0
        while True:
            try:
                kafka_producer().send(settings.KAFKA_TOPIC_WALLET_EVENTS_DLT, key=record.key, value=record.value,
                                      headers=headers).get(timeout=settings.NOTIFICATIONS_DLT_SEND_TIMEOUT_S)
            except Exception as send_exc:
                logger.error("could not park %s on the DLT: %r\n%s", _where(record), send_exc,
                             traceback.format_exc(limit=3))
                kafka_producer_reset()
                if self.stop.wait(delay_s):
                    return False  # not parked, not committed: it will be read again
                delay_s = min(delay_s * 2, settings.NOTIFICATIONS_DLT_SEND_BACKOFF_MAX_S)
            else:
                logger.warning("record %s parked on %s after %d attempt(s)", _where(record),
                               settings.KAFKA_TOPIC_WALLET_EVENTS_DLT, attempts)
                metrics.RECORDS.labels(self.group_id, "parked").inc()
                return True

    def handle_polled(self, polled: dict) -> dict:
        """Handle what one poll returned, each partition's records in order.

        Returns, per partition, how many records from the first are done.
        """
        done: dict = {}
        for tp, records in polled.items():
            for record in records:
                if self.stop.is_set() or not self.handle(record):
                    return done  # the record in hand was finished; the rest are read again next time
                done[tp] = done.get(tp, 0) + 1
        return done

    fetch: dict = {}  # a loop's own fetch batching (kafka_consumer's fetch_min_bytes, fetch_max_wait_ms)
    max_poll_records: int | None = None  # a loop's own (default NOTIFICATIONS_CONSUMER_MAX_POLL_RECORDS)

    def run(self) -> None:
        consumer = None
        # Offsets of handled records not committed yet (a commit refused during a rebalance).
        pending: dict = {}
        unreachable_s = 0.0  # how long Kafka has been out of reach, for the back-off
        try:
            while not self.stop.is_set():
                try:
                    if consumer is None:
                        consumer = kafka_consumer(
                            topic=self.topic, group_id=self.group_id,
                            max_poll_records=self.max_poll_records or settings.NOTIFICATIONS_CONSUMER_MAX_POLL_RECORDS,
                            max_poll_interval_ms=settings.NOTIFICATIONS_CONSUMER_MAX_POLL_INTERVAL_MS, **self.fetch)
                        logger.info("%s: consuming %s", self.group_id, self.topic)
                    polled = consumer.poll(timeout_ms=settings.NOTIFICATIONS_CONSUMER_POLL_TIMEOUT_MS)
                    if polled:
                        for tp, done in self.handle_polled(polled).items():
                            if done:
                                pending[tp] = OffsetAndMetadata(polled[tp][done - 1].offset + 1, "", -1)
                    if pending:
                        pending = self.commit(consumer, pending)
                except KafkaError as exc:
                    if not exc.retriable:
                        raise
                    # The broker is restarting or out of reach: wait and ask again (the client reconnects
                    # by itself). Nothing handled is lost: its offset stays pending, or the record is read
                    # again and deduplicated.
                    delay_s = min(1.0 + unreachable_s, settings.NOTIFICATIONS_KAFKA_UNREACHABLE_WAIT_MAX_S)
                    logger.warning("%s: Kafka is unreachable (%r); trying again in %.0f s", self.group_id, exc,
                                   delay_s)
                    unreachable_s += delay_s
                    self.stop.wait(delay_s)
                else:
                    unreachable_s = 0.0
        finally:
            if consumer is not None:
                consumer.close(autocommit=False)
            connection.close()  # this thread's own
            logger.info("%s: closed", self.group_id)

    def commit(self, consumer: KafkaConsumer, offsets: dict) -> dict:
        """Commit ``offsets``; return what is left to commit.

        A consumer that took longer than ``NOTIFICATIONS_CONSUMER_MAX_POLL_INTERVAL_MS`` over
        a batch (a database outage: every record retried, then parked) has been
        put out of the group, and its commit is refused. The next poll rejoins;
        the offsets of partitions it still owns are committed then. A partition
        that moved is read again by its new owner from the last commit (dedup
        absorbs the repeats).
        """
        assigned = consumer.assignment()
        offsets = {tp: offset for tp, offset in offsets.items() if tp in assigned}
        if not offsets:
            return {}
        try:
            consumer.commit(offsets)
        except (CommitFailedError, RebalanceInProgressError) as exc:
            logger.warning("%s: the group is rebalancing, offsets not committed yet (%r)", self.group_id, exc)
            return offsets
        return {}


ConsumerLoop = _Loop  # for consumers of other apps (audit): the same retries, DLT and outage behaviour


def consumer_loops_run(loops) -> BaseException | None:
    """Run each loop (a callable taking the stop event) in a thread until SIGTERM or SIGINT, or until one
    crashes (which stops them all); return what it crashed with."""
    stop = threading.Event()

    def request_stop(signum, frame):
        logger.info("signal %s: finishing the current record, then stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    failures: list[BaseException] = []

    def run(loop_class):
        try:
            loop_class(stop).run()
        except BaseException as exc:  # a crashed loop stops the process, visibly
            logger.exception("%s crashed", getattr(loop_class, "__name__", "a consumer loop"))
            failures.append(exc)
            stop.set()

    threads = [threading.Thread(target=run, args=(cls,), name=getattr(cls, "__name__", "consumer"))
               for cls in loops]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        for thread in threads:
            thread.join(timeout=0.5)
    return failures[0] if failures else None


class WalletEventConsumer(_Loop):
    def __init__(self, stop: threading.Event):
        super().__init__(stop)
        self.topic = settings.KAFKA_TOPIC_WALLET_EVENTS
        self.group_id = settings.NOTIFICATIONS_CONSUMER_GROUP
        # A toast may wait a few milliseconds: a fetch gathers what arrives meanwhile into one poll (one
        # transaction, one publish, one offset commit for all of it).
        self.fetch = {"fetch_min_bytes": settings.NOTIFICATIONS_CONSUMER_FETCH_MIN_BYTES,
                      "fetch_max_wait_ms": settings.NOTIFICATIONS_CONSUMER_FETCH_MAX_WAIT_MS}

    def handle_polled(self, polled: dict) -> dict:
        """All the polled records in one transaction; one by one if that fails.

        One commit and one Redis round trip per poll instead of per record is
        what lets one consumer keep up with a busy topic. Any failure (a record
        that is not an event, a database error) rolls all of it back; then each
        record is handled alone, with its retries and its DLT move.
        """
        records = [record for batch in polled.values() for record in batch]
        if len(records) < 2:
            return super().handle_polled(polled)
        try:
            events = [event_parse(key=r.key, value=r.value) for r in records]
            results = services.notifications_from_events(events=events)
        except InvalidEvent:
            return super().handle_polled(polled)
        except Exception as exc:
            logger.warning("%d polled records failed together (%r): one by one", len(records), exc)
            close_old_connections()
            return super().handle_polled(polled)
        for record, result, event in zip(records, results, events, strict=True):
            _log_handled(record, result, event)
        return {tp: len(batch) for tp, batch in polled.items()}

    def handle(self, record) -> bool:
        try:
            event = event_parse(key=record.key, value=record.value)
        except InvalidEvent as exc:
            logger.warning("record %s is not a wallet event (%s): to the DLT", _where(record), exc)
            return self.park(record, exc, 1)
        done, result = self.with_retries(record, lambda: services.notification_from_event(event=event))
        if done and result is not PARKED:
            _log_handled(record, result, event)
        return done


class DeadLetterStore(_Loop):
    def __init__(self, stop: threading.Event):
        super().__init__(stop)
        self.topic = settings.KAFKA_TOPIC_WALLET_EVENTS_DLT
        self.group_id = settings.NOTIFICATIONS_DLT_STORE_GROUP

    def handle(self, record) -> bool:
        while True:
            try:
                dead_letter, created = services.dead_letter_store(
                    topic=record.topic, partition=record.partition, offset=record.offset, key=record.key,
                    value=record.value, headers=list(record.headers or []),
                )
            except Exception as exc:
                logger.error("could not store DLT record %s@%d: %r", record.topic, record.offset, exc)
                close_old_connections()
                if self.stop.wait(1.0):
                    return False
            else:
                if created:
                    logger.info("DLT record stored as DeadLetter %s", dead_letter.id)
                return True


class ChannelConsumer(_Loop):
    """One channel beyond the browser (email or Slack), on its own consumer group, so that an
    outage of one channel never delays another or the toast.

    The rules of the in-app path: dedup by eventId per channel (a ProcessedEvent under the
    channel's group, written once the channel took the message); offsets committed only after
    a record is delivered, skipped or parked; a failure of the record is retried
    ``NOTIFICATIONS_CONSUMER_RETRIES`` times ``..._RETRY_INTERVAL_MS`` apart, then parked on the
    DLT with a header naming the channel. A channel that is down (the mail server, Slack), or the
    database, is waited for instead, without spending the record's retries; a 429 waits its
    Retry-After.
    """

    def __init__(self, stop: threading.Event, channel: str):
        super().__init__(stop)
        self.channel = channel
        self.topic = settings.KAFKA_TOPIC_WALLET_EVENTS
        self.group_id = channels.channel_get(channel).group_id
        # A mail or a Slack message may wait a second: fetches gather records instead of one fetch
        # per record, which cost the broker and this process most of their CPU (bench/api_throughput.py).
        self.fetch = {"fetch_min_bytes": settings.NOTIFICATIONS_CHANNEL_FETCH_MIN_BYTES,
                      "fetch_max_wait_ms": settings.NOTIFICATIONS_CHANNEL_FETCH_MAX_WAIT_MS}
        self.subscribers: set[int] | None = None  # users of this channel among the records polled

    def handle_polled(self, polled: dict) -> dict:
        """Records of users who do not use this channel are done at once: one query per poll tells
        which of the polled users do (most events are for users who do not)."""
        user_ids = set()
        for records in polled.values():
            for record in records:
                with contextlib.suppress(ValueError, UnicodeDecodeError):
                    user_ids.add(int(record.key))
        try:
            self.subscribers = services.channel_subscribers(channel=self.channel, user_ids=user_ids)
        except DATABASE_UNAVAILABLE as exc:
            logger.warning("%s: the database is unavailable (%r); each record waits for it", self.group_id, exc)
            close_old_connections()
            self.subscribers = None  # each record's delivery asks (and waits for the database)
        return super().handle_polled(polled)

    def handle(self, record) -> bool:
        where = _where(record)
        try:
            if self.subscribers is not None and int(record.key) not in self.subscribers:
                metrics.RECORDS.labels(self.group_id, "skipped").inc()
                return True
        except (ValueError, UnicodeDecodeError):
            pass  # not a user's key: read it as any record
        try:
            event = event_parse(key=record.key, value=record.value)
        except InvalidEvent:
            return True  # not an event: the in-app consumer parks it on the DLT, once
        done, outcome = self.with_retries(
            record, lambda: services.channel_deliver(channel=self.channel, group_id=self.group_id, event=event),
            unreachable=(channels.ChannelUnavailable,))
        if done and outcome is not PARKED:
            logger.info("%s: record %s event=%s user=%s %s", self.group_id, where, event["eventId"],
                        event["userId"], outcome)
            metrics.RECORDS.labels(self.group_id, outcome).inc()
        return done

    def dlt_headers(self) -> list[tuple[str, bytes]]:
        return [(services.DLT_CHANNEL, self.channel.encode())]

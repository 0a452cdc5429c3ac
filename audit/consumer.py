"""The audit consumer (group ``AUDIT_CONSUMER_GROUP``): every wallet event into the audit store,
once, with its Kafka position and the time it came. The notification consumers' loop: a failure
is retried, then parked on the DLT; the database out of reach is waited for; offsets are committed
only after a record is stored (or found stored: dedup by event id)."""

import logging
import threading

from django.conf import settings
from django.db import close_old_connections

from audit import services
from notifications.consumer import PARKED, ConsumerLoop
from prepaid.events import InvalidEvent, event_parse

logger = logging.getLogger(__name__)


class AuditConsumer(ConsumerLoop):
    def __init__(self, stop: threading.Event):
        super().__init__(stop)
        self.topic = settings.KAFKA_TOPIC_WALLET_EVENTS
        self.group_id = settings.AUDIT_CONSUMER_GROUP
        # A record may wait a moment: bigger polls and fetches, fewer round trips per event.
        self.max_poll_records = settings.AUDIT_CONSUMER_MAX_POLL_RECORDS
        self.fetch = {"fetch_min_bytes": settings.NOTIFICATIONS_CHANNEL_FETCH_MIN_BYTES,
                      "fetch_max_wait_ms": settings.NOTIFICATIONS_CHANNEL_FETCH_MAX_WAIT_MS}

    def handle_polled(self, polled: dict) -> dict:
        """A poll's events in one transaction (``audit_events_record``); if that fails, one by one,
        each with its retries and its DLT move."""
        records = [record for batch in polled.values() for record in batch]
        try:
            batch = [services.Received(event=event_parse(key=r.key, value=r.value), topic=r.topic,
                                       partition=r.partition, offset=r.offset) for r in records]
            outcomes = services.audit_events_record(batch)
        except Exception as exc:  # not an event among them, the database: each record on its own
            if not isinstance(exc, InvalidEvent):
                logger.warning("%d polled records failed together (%r): one by one", len(records), exc)
                close_old_connections()
            return super().handle_polled(polled)
        # One line a poll (the store itself is the record of each event); each event's at DEBUG.
        logger.info("%s: %d stored, %d duplicate: %s", self.group_id, outcomes.count("stored"),
                    outcomes.count("duplicate"), ", ".join(f"{tp.topic}[{tp.partition}]@{part[0].offset}-"
                                                          f"{part[-1].offset}" for tp, part in polled.items()))
        if logger.isEnabledFor(logging.DEBUG):
            for received, outcome in zip(batch, outcomes, strict=True):
                logger.debug("%s: record %s[%d]@%d event=%s user=%s %s", self.group_id, received.topic,
                             received.partition, received.offset, received.event["eventId"],
                             received.event["userId"], outcome)
        return {tp: len(part) for tp, part in polled.items()}

    def handle(self, record) -> bool:
        try:
            event = event_parse(key=record.key, value=record.value)
        except InvalidEvent:
            return True  # not an event: the in-app consumer parks it on the DLT, once
        received = services.Received(event=event, topic=record.topic, partition=record.partition,
                                     offset=record.offset)
        done, outcome = self.with_retries(record, lambda: services.audit_event_record(received))
        if done and outcome is not PARKED:
            logger.info("%s: record %s[%d]@%d event=%s user=%s %s", self.group_id, record.topic, record.partition,
                        record.offset, event["eventId"], event["userId"], outcome)
        return done

    def dlt_headers(self) -> list[tuple[str, bytes]]:
        return [("x-consumer", b"audit")]

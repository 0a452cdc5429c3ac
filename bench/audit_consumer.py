"""The audit consumer catching up a backlog, against a bare kafka-python consumer reading the same records.

    .venv/bin/python bench/audit_consumer.py [--events 100000] [--users 1000]

1. Writes ``--events`` wallet events (``--users`` users, keyed by user) to a topic of their own.
2. A bare kafka-python consumer (the consumers' settings, no group) reads them all and parses each
   value as JSON: the ceiling.
3. The audit consumer (``audit.consumer.AuditConsumer``: a poll's events in one transaction,
   hash-chained per user) stores them all from the same topic, on a group of its own, into an
   empty store; timed until the last is stored.

Prints each rate and the ratio (the goal: at least 50 %), then checks the store: every event
once, ``audit_verify`` clean.
"""

import argparse
import json
import threading
import time
import uuid

from common import setup
from relay import synthetic_payload


def produce(topic: str, n: int, users: int) -> None:
    from kafka import KafkaProducer

    from prepaid.events import event_headers
    from prepaid.kafka import kafka_headers_encode, kafka_producer_config

    producer = KafkaProducer(**kafka_producer_config())
    for i in range(n):
        event = {"eventId": str(uuid.uuid4()), **synthetic_payload(i, users)}
        producer.send(topic, key=str(event["userId"]).encode(), value=json.dumps(event).encode(),
                      headers=kafka_headers_encode(event_headers(event_id=event["eventId"],
                                                                 event_type=event["eventType"])))
    producer.flush()
    producer.close()
    print(f"{n:,} events written to {topic}")


def bare(topic: str, n: int) -> float:
    from django.conf import settings
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(topic, bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, group_id=None,
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             max_poll_records=settings.AUDIT_CONSUMER_MAX_POLL_RECORDS)  # as the audit consumer polls
    read, started = 0, time.perf_counter()
    while read < n:
        for records in consumer.poll(timeout_ms=500).values():
            for record in records:
                json.loads(record.value)
                read += 1
    elapsed = time.perf_counter() - started
    consumer.close()
    print(f"bare consumer: {n:,} records in {elapsed:.2f}s = {n / elapsed:,.0f} records/s")
    return n / elapsed


def audit(topic: str, n: int) -> float:
    from django.conf import settings
    from django.db import connection

    from audit.consumer import AuditConsumer
    from audit.models import AuditEvent

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE audit_auditevent, audit_chainhead, audit_seal, audit_retentioncut")
    settings.KAFKA_TOPIC_WALLET_EVENTS = topic
    settings.AUDIT_CONSUMER_GROUP = f"bench.audit-{uuid.uuid4().hex[:8]}"
    stop = threading.Event()
    loop = AuditConsumer(stop)
    thread = threading.Thread(target=loop.run, daemon=True)
    started = time.perf_counter()
    thread.start()
    stored = 0
    while stored < n:
        time.sleep(0.2)
        stored = AuditEvent.objects.count()
    elapsed = time.perf_counter() - started
    stop.set()
    thread.join(timeout=30)
    print(f"audit consumer: {n:,} events stored in {elapsed:.2f}s = {n / elapsed:,.0f} events/s "
          "(from its first poll: group join included)")
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=1_000)
    args = parser.parse_args()
    setup()
    import logging

    from django.conf import settings
    from kafka.admin import NewTopic

    from audit.selectors import audit_verify
    from prepaid.kafka import kafka_admin

    logging.getLogger("audit").setLevel(logging.WARNING)
    topic = f"bench.audit-{uuid.uuid4().hex[:8]}"
    with kafka_admin() as admin:  # as many partitions as wallet-events
        admin.create_topics([NewTopic(topic, settings.KAFKA_WALLET_EVENTS_PARTITIONS, 1)])
    produce(topic, args.events, args.users)
    bare_rate = bare(topic, args.events)
    audit_rate = audit(topic, args.events)
    print(f"audit consumer / bare consumer = {audit_rate / bare_rate:.0%}")
    breaks = audit_verify()
    print(f"store: {args.events:,} events, audit_verify: {'clean' if not breaks else breaks[:3]}")


if __name__ == "__main__":
    main()

"""The audit consumer catching up a backlog, against a bare kafka-python consumer reading the same records.

    .venv/bin/python bench/audit_consumer.py [--events 100000] [--users 1000] [--rounds 3]

1. Writes ``--events`` wallet events (``--users`` users, keyed by user) to a topic of their own.
2. Each round: a bare kafka-python consumer (the audit consumer's poll and fetch settings, no group)
   reads them all and parses each value as JSON: the ceiling; then the same on a consumer group of
   its own, committing after each poll (the Kafka work the audit consumer cannot skip); then the
   audit consumer as the Procfile runs it (``manage.py run_audit_consumer``: a poll's events in one
   transaction, hash-chained per user), alone and as ``AUDIT_CONSUMER_PROCESSES`` members of its
   group, stores them all from the same topic, on a group of its own, into an empty store. The bare
   consumers are timed from their first record to their last; the audit consumer from its first
   event stored to its last. Each prints the CPU a record took in the consumer, PostgreSQL and Kafka.

Prints each rate and the ratios (the goal: at least 50 % of the bare consumer), the medians of the
rounds, then checks the store: every event once, ``audit_verify`` clean.
"""

import argparse
import json
import os
import statistics
import sys
import time
import uuid

from common import CpuMeter, in_session, setup, start, stop_all
from relay import synthetic_payload

CPU_GROUPS = {
    "consumer": lambda p: p.pid == os.getpid(),  # the bare consumer: this process
    "postgres": lambda p: p.info["name"] == "postgres",
    "kafka": lambda p: p.info["name"] == "java" and "kafka.Kafka" in " ".join(p.info["cmdline"] or []),
}


def cpu_per_record(meter: CpuMeter, n: int) -> str:
    used = meter.stop()
    return ", ".join(f"{group} {seconds / n * 1e6:.1f}" for group, seconds in used.items()) + " µs CPU a record"


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


def bare(topic: str, n: int, *, group: bool) -> float:
    """A bare kafka-python consumer reading all ``n`` records, parsing each value (orjson, as the
    consumers do); with ``group``, on a consumer group of its own committing after each poll, as the
    audit consumer does. Timed from its first record to its last."""
    import orjson
    from django.conf import settings
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS,
                             group_id=f"bench.bare-{uuid.uuid4().hex[:8]}" if group else None,
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             max_poll_records=settings.AUDIT_CONSUMER_MAX_POLL_RECORDS,  # as the audit consumer
                             fetch_min_bytes=settings.NOTIFICATIONS_CHANNEL_FETCH_MIN_BYTES,
                             fetch_max_wait_ms=settings.NOTIFICATIONS_CHANNEL_FETCH_MAX_WAIT_MS)
    consumer.subscribe([topic])
    meter = CpuMeter(CPU_GROUPS)
    meter.start()
    read, started = 0, None
    while read < n:
        polled = consumer.poll(timeout_ms=500)
        if polled and started is None:
            started = time.perf_counter()
        for records in polled.values():
            for record in records:
                orjson.loads(record.value)
                read += 1
        if polled and group:
            consumer.commit()
    elapsed = time.perf_counter() - started
    cpu = cpu_per_record(meter, n)
    consumer.close(autocommit=False)
    print(f"bare consumer{' in a group' if group else ''}: {n:,} records in {elapsed:.2f}s = "
          f"{n / elapsed:,.0f} records/s ({cpu})")
    return n / elapsed


def audit(topic: str, n: int, *, processes: int) -> float:
    """``manage.py run_audit_consumer --processes N`` (as the Procfile runs it) storing all ``n`` events
    into an empty store, on a group of its own; timed from the first event stored to the last (the
    store's chain heads read every 50 ms, not a count of the growing table)."""
    from django.db import connection
    from django.db.models import Sum
    from kafka.errors import KafkaError

    from audit.models import ChainHead
    from prepaid.kafka import kafka_admin

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE audit_auditevent, audit_chainhead, audit_seal, audit_retentioncut")

    def stored() -> int:
        return ChainHead.objects.aggregate(stored=Sum("seq"))["stored"] or 0

    group = f"bench.audit-{uuid.uuid4().hex[:8]}"
    command = start([sys.executable, "manage.py", "run_audit_consumer", "--processes", str(processes)],
                    f"audit-consumer-{processes}", DJANGO_SETTINGS_MODULE="bench.settings",
                    KAFKA_TOPIC_WALLET_EVENTS=topic, AUDIT_CONSUMER_GROUP=group)
    try:
        # Catching up is timed once every member holds its partitions: from the first event stored
        # after the group is stable (members that start one after the other rebalance it first).
        with kafka_admin() as admin:
            while True:
                try:
                    described = admin.describe_groups([group]).get(group, {})
                except KafkaError:  # not there yet
                    described = {}
                if described.get("group_state") == "Stable" and len(described.get("members", [])) == processes:
                    break
                time.sleep(0.05)
        meter = CpuMeter(CPU_GROUPS | {"consumer": in_session(command.pid)})
        meter.start()
        while not (before := stored()):
            time.sleep(0.01)
        started = time.perf_counter()
        while stored() < n:
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        cpu = cpu_per_record(meter, n - before)
    finally:
        stop_all([command])
    print(f"audit consumer, {processes} process{'es' if processes > 1 else ''}: {n - before:,} events stored in "
          f"{elapsed:.2f}s = {(n - before) / elapsed:,.0f} events/s ({cpu})")
    return (n - before) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=3, help="bare, bare in a group, audit: this many times")
    args = parser.parse_args()
    setup()

    from django.conf import settings
    from kafka.admin import NewTopic

    from audit.selectors import audit_verify
    from prepaid.kafka import kafka_admin

    topic = f"bench.audit-{uuid.uuid4().hex[:8]}"
    with kafka_admin() as admin:  # as many partitions as wallet-events
        admin.create_topics([NewTopic(topic, settings.KAFKA_WALLET_EVENTS_PARTITIONS, 1)])
    produce(topic, args.events, args.users)
    rounds = []
    many = settings.AUDIT_CONSUMER_PROCESSES
    for round_ in range(args.rounds):
        print(f"round {round_ + 1} of {args.rounds}:")
        rates = {"bare": bare(topic, args.events, group=False), "bare in a group": bare(topic, args.events, group=True),
                 "audit, 1 process": audit(topic, args.events, processes=1),
                 f"audit, {many} processes": audit(topic, args.events, processes=many)}
        rounds.append(rates)
        print("  " + ", ".join(f"{name} / bare = {rate / rates['bare']:.0%}" for name, rate in rates.items()
                               if name.startswith("audit")))
    median = {name: statistics.median(r[name] for r in rounds) for name in rounds[0]}
    print(f"medians of {args.rounds} rounds: " + ", ".join(f"{name} {rate:,.0f}/s" for name, rate in median.items()))
    print("  " + ", ".join(f"{name} / bare = {rate / median['bare']:.0%}" for name, rate in median.items()
                           if name.startswith("audit")))
    breaks = audit_verify()
    print(f"store: {args.events:,} events, audit_verify: {'clean' if not breaks else breaks[:3]}")


if __name__ == "__main__":
    main()

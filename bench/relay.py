"""Outbox relay throughput and commit-to-Kafka latency.

    .venv/bin/python bench/relay.py [--events 100000] [--rate 200] [--seconds 20] [--writers 4]
    .venv/bin/python bench/relay.py --events 100000 --relays 1 2   # drain with 1, then 2 relay processes

1. Fills the outbox with N events and times ``outbox_relay_run`` draining it.
2. In the same run, times a bare kafka-python producer (same producer settings)
   sending the same records: the ceiling the relay is compared with.
3. With a Celery worker and beat running, commits one outbox event per
   transaction at a steady rate from several writer threads (the outbox side
   of a wallet operation) and measures commit -> record readable in Kafka.
"""

import argparse
import json
import os
import signal
import threading
import time
import uuid

from common import ROOT, celery, setup, start, summary_ms


def synthetic_payload(i: int, users: int = 1000) -> dict:
    """A spend event's outbox payload (the event but its id, which the outbox row holds)."""
    from django.utils import timezone

    return {
        "schemaVersion": 1, "eventType": "SPEND_COMPLETED", "userId": 1 + i % users,
        "occurredAt": timezone.now().isoformat(), "metadata": {"transactionId": str(uuid.uuid4()), "currency": "KRW"},
        "amount": 1000, "newBalance": 50_000, "description": "bench spend at a coffee shop",
    }


def fill(n: int, users: int = 1000) -> list:
    from django.conf import settings

    from outbox.models import OutboxEvent

    rows = []
    for i in range(n):
        payload = synthetic_payload(i, users)
        rows.append(OutboxEvent(event_id=uuid.uuid4(), event_type=payload["eventType"],
                                topic=settings.KAFKA_TOPIC_WALLET_EVENTS, key=str(payload["userId"]),
                                payload=payload))
    OutboxEvent.objects.bulk_create(rows, batch_size=10_000)
    return rows


def bench_drain(n: int) -> float:
    from outbox.models import OutboxEvent
    from outbox.relay import outbox_relay_run

    OutboxEvent.objects.all().delete()
    fill(n)
    started = time.perf_counter()
    result = outbox_relay_run(time_budget_s=3600)
    elapsed = time.perf_counter() - started
    assert result.published == n, result
    print(f"relay drain: {n} events in {elapsed:.2f}s = {n / elapsed:,.0f} events/s ({result.batches} batches)")
    return n / elapsed


# A relay process of bench_relays: relay ``slot`` of ``slots`` drains its partitions, says so, and waits to be
# stopped (so that its CPU time is still there to be read).
RELAY_PROCESS = """
import sys, django; django.setup()
from outbox.relay import outbox_relay_run
slot, slots = int(sys.argv[1]), int(sys.argv[2])
result = outbox_relay_run(slot=slot, slots=slots, time_budget_s=3600)
print("DRAINED", result.published, flush=True)
sys.stdin.read()
"""


def bench_relays(n: int, relays: int) -> float:
    """``relays`` relay processes (slot k of ``relays`` each) draining n events; the CPU of each part."""
    import subprocess
    import sys

    from common import CpuMeter, in_session
    from django.db import connection

    from outbox.models import OutboxEvent
    from outbox.relay import outbox_relay_run

    OutboxEvent.objects.all().delete()
    outbox_relay_run()  # the topic's partition count recorded
    fill(n)
    connection.close()
    procs = [subprocess.Popen([sys.executable, "-c", RELAY_PROCESS, str(slot), str(relays)], cwd=ROOT,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True,
                              env={**os.environ, "DJANGO_SETTINGS_MODULE": "bench.settings"})
             for slot in range(relays)]
    groups = {f"relay {i}": in_session(p.pid) for i, p in enumerate(procs)}
    groups |= {"postgres": lambda p: p.info["name"] == "postgres",
               "kafka": lambda p: p.info["name"] == "java" and "kafka.Kafka" in " ".join(p.info["cmdline"] or [])}
    meter = CpuMeter(groups)
    meter.start()
    started = time.perf_counter()
    lines = [p.stdout.readline().split() for p in procs]  # each: DRAINED <published>
    elapsed = time.perf_counter() - started
    cpu = meter.stop()
    for p in procs:
        p.stdin.close()
        p.wait(timeout=30)
    published = sum(int(line[1]) for line in lines)
    assert published == n, lines
    rate = n / elapsed
    parts = ", ".join(f"{name} {seconds / n * 1e6:.0f} µs" for name, seconds in cpu.items())
    print(f"{relays} relay process(es): {n} events in {elapsed:.2f}s = {rate:,.0f} events/s (from process start, "
          f"Django's set-up included); CPU per event: {parts}")
    return rate


def bench_bare_producer(n: int) -> float:
    from kafka import KafkaProducer

    from outbox.models import OutboxEvent
    from prepaid.events import event_headers
    from prepaid.kafka import kafka_headers_encode, kafka_producer_config

    rows = [(r.topic, r.key.encode(), json.dumps(r.event).encode(),
             kafka_headers_encode(event_headers(event_id=r.event_id, event_type=r.event_type)))
            for r in OutboxEvent.objects.order_by("id")[:n]]
    producer = KafkaProducer(**kafka_producer_config())
    started = time.perf_counter()
    for topic, key, value, headers in rows:
        producer.send(topic, key=key, value=value, headers=headers)
    producer.flush()
    elapsed = time.perf_counter() - started
    producer.close()
    print(f"bare producer: {n} records in {elapsed:.2f}s = {n / elapsed:,.0f} records/s")
    return n / elapsed


def bench_bare_producer_fresh(n: int) -> float:
    from outbox.models import OutboxEvent

    OutboxEvent.objects.all().delete()
    fill(n)
    return bench_bare_producer(n)


def bench_latency(rate: float, seconds: float, writers: int) -> None:
    from django.conf import settings
    from kafka import KafkaConsumer

    worker = start(celery("worker", "--loglevel=WARNING", "--concurrency=2"), "relay-worker",
                   DATABASE_CONN_MAX_AGE_S="60")
    beat = start(celery("beat", "--loglevel=WARNING", "--schedule=.devstack/bench-logs/beat"), "relay-beat")
    received: dict[str, float] = {}
    stop = threading.Event()

    consumer = KafkaConsumer(settings.KAFKA_TOPIC_WALLET_EVENTS, bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS,
                             group_id=None, auto_offset_reset="latest", enable_auto_commit=False)
    while not consumer.assignment():
        consumer.poll(timeout_ms=100)
    for tp in consumer.assignment():
        consumer.position(tp)

    def consume():
        while not stop.is_set():
            for batch in consumer.poll(timeout_ms=50).values():
                now = time.perf_counter()
                for record in batch:
                    received[dict(record.headers)["eventId"].decode()] = now

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    try:
        # The relay's side of the write path: one committed transaction per event, each
        # recording its outbox row (what a wallet operation does, without its ~18 ms of
        # ledger work here, so that the asked rate is reached).
        from django.db import connection, transaction

        from outbox.services import outbox_event_record

        time.sleep(3)  # let the worker create its producer
        committed: dict[str, float] = {}
        started = time.perf_counter()
        total = int(rate * seconds)

        def write(first: int) -> None:
            # Writer k commits events k, k + writers, ... each at its slot of the steady schedule.
            try:
                for i in range(first, total, writers):
                    time.sleep(max(0.0, started + i / rate - time.perf_counter()))
                    payload, event_id = synthetic_payload(i), uuid.uuid4()
                    with transaction.atomic():
                        outbox_event_record(event_id=event_id, event_type=payload["eventType"],
                                            key=str(payload["userId"]), payload=payload)
                    committed[str(event_id)] = time.perf_counter()
            finally:
                connection.close()

        threads = [threading.Thread(target=write, args=(k,)) for k in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        achieved = len(committed) / (time.perf_counter() - started)
        time.sleep(3)
        latencies = [received[e] - c for e, c in committed.items() if e in received]
        lost = len(committed) - len(latencies)
        print(f"commit -> Kafka at {achieved:.0f} events/s (asked {rate:.0f}, {writers} writers) for {seconds:.0f}s: "
              f"{summary_ms(latencies)} (not received: {lost})")
    finally:
        stop.set()
        thread.join()
        consumer.close()
        for proc in (beat, worker):
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--writers", type=int, default=4, help="threads committing outbox events")
    parser.add_argument("--latency-only", action="store_true", help="skip the drain and bare-producer runs")
    parser.add_argument("--relays", type=int, nargs="*", default=[], metavar="N",
                        help="only: the bare producer, then a drain by N relay processes for each N (e.g. 1 2)")
    args = parser.parse_args()
    setup()
    if args.relays:
        bare_rate = bench_bare_producer_fresh(args.events)
        for relays in args.relays:
            rate = bench_relays(args.events, relays)
            print(f"{relays} relay process(es) / bare producer = {rate / bare_rate:.0%}")
        return
    if not args.latency_only:
        relay_rate = bench_drain(args.events)
        bare_rate = bench_bare_producer(args.events)
        print(f"relay / bare producer = {relay_rate / bare_rate:.0%}")
    bench_latency(args.rate, args.seconds, args.writers)


if __name__ == "__main__":
    main()

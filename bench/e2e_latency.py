"""End-to-end latency: API commit -> outbox -> Celery relay -> Kafka -> run_consumer -> SSE client.

    .venv/bin/python bench/e2e_latency.py [--rate 100] [--seconds 20] [--users 10] [--source api|outbox]

Starts the platform as ``make run`` does (Pushpin in front of the Procfile's
processes: web on gunicorn, Celery worker and beat, run_consumer) on the bench
database and topics, connects one SSE client per user through Pushpin, sends spends
through the HTTP API at a steady rate, and times each operation from its journal
entry's ``created_at`` (set inside the transaction, just before its commit; the
same clock, one machine) to the notification arriving on the stream, so a slow
HTTP response does not hide any of it. Prints the time per stage (relay,
consumer, push) and the CPU each group of processes spent per operation.
``--source outbox`` commits only each spend's outbox event instead (the event
path without the HTTP API), timed from just after its commit.
"""

import argparse
import json
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
from common import (
    CpuMeter,
    bench_api_token,
    bench_pushpin,
    cpu_report,
    platform_cpu_groups,
    procfile_start,
    pushpin_groups,
    setup,
    stop_all,
    summary_ms,
)


def sse_reader(url: str, cookies: dict, received: dict, ready: threading.Event, stop: threading.Event) -> None:
    with httpx.Client(cookies=cookies, timeout=httpx.Timeout(10, read=None)) as client, \
            client.stream("GET", url) as response:
        event = {}
        for line in response.iter_lines():
            if stop.is_set():
                return
            if line == "":
                if event.get("event") == "stream-open":
                    ready.set()
                elif event.get("event") == "notification":
                    received.setdefault(json.loads(event["data"])["eventId"], time.time())
                event = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                event[name] = value.lstrip(" ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--source", choices=["api", "outbox"], default="api",
                        help="api: spends through the HTTP API; outbox: commit the spend's outbox event only "
                             "(the event path without the API)")
    args = parser.parse_args()
    setup()

    from django.conf import settings
    from django.contrib.auth.models import User
    from django.db import transaction
    from django.test import Client
    from relay import synthetic_payload

    from notifications.sse import sse_stream_position
    from outbox.models import OutboxEvent
    from outbox.services import outbox_event_record
    from prepaid.events import event_validate
    from tests.support import kafka_group_skip_to_end
    from wallets import services

    # The relay benchmark leaves records for made-up users on the bench topic: skip them.
    for topic, group_id in ((settings.KAFKA_TOPIC_WALLET_EVENTS, settings.NOTIFICATIONS_CONSUMER_GROUP),
                            (settings.KAFKA_TOPIC_WALLET_EVENTS_DLT, settings.NOTIFICATIONS_DLT_STORE_GROUP)):
        kafka_group_skip_to_end(topic=topic, group_id=group_id)
    OutboxEvent.objects.filter(published_at__isnull=True).delete()
    pushpin = bench_pushpin(port=args.port, origin_port=args.port + 1)
    procs = procfile_start("e2e", DJANGO_SETTINGS_MODULE="bench.settings", WEB_BIND=f"127.0.0.1:{args.port + 1}",
                           GRIP_CONTROL_URLS=pushpin.control_url, LOG_LEVEL="WARNING")
    base = pushpin.base_url  # the browsers and the API client reach the platform through Pushpin
    stop = threading.Event()
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{base}/health/live", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        users, tokens, received = [], {}, {}
        for i in range(args.users):
            user, _ = User.objects.get_or_create(username=f"bench-e2e-{i}")
            services.wallet_charge(user_id=user.id, amount=10_000_000, payment_key="pk", order_id=uuid.uuid4().hex)
            tokens[user.id] = bench_api_token(user)
            client = Client()
            client.force_login(user)
            cookies = {settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value}
            ready = threading.Event()
            url = f"{base}/events/?lastEventId={sse_stream_position(user_id=user.id)}"
            thread = threading.Thread(target=sse_reader, args=(url, cookies, received, ready, stop), daemon=True)
            thread.start()
            ready.wait(30)
            users.append(user)
        time.sleep(5)  # warm-up: the relay and the consumer have connected

        meter = CpuMeter(platform_cpu_groups(procs, **pushpin_groups()))
        meter.start()
        sent: dict[str, float] = {}
        committed: dict[str, float] = {}
        http = httpx.Client(base_url=base, timeout=30, limits=httpx.Limits(max_connections=16))

        def spend(i: int) -> None:
            user = users[i % len(users)]
            response = http.post("/api/v1/wallet/spends", json={"amount": 1, "description": "bench"},
                                 headers={"Authorization": f"Token {tokens[user.id]}",
                                          "Idempotency-Key": str(uuid.uuid4())})
            if response.status_code == 201:
                sent[response.json()["transactionId"]] = time.perf_counter()

        def record_event(i: int) -> None:
            # The event path alone: the outbox row a spend commits, without the HTTP API and the ledger.
            # (Each pool thread keeps its database connection for the run.)
            user = users[i % len(users)]
            payload, event_id = {**synthetic_payload(i), "userId": user.id}, uuid.uuid4()
            event_validate({"eventId": str(event_id), **payload})
            with transaction.atomic():
                outbox_event_record(event_id=event_id, event_type=payload["eventType"], key=str(user.id),
                                    payload=payload)
            transaction_id = payload["metadata"]["transactionId"]
            committed[transaction_id] = time.time()
            sent[transaction_id] = time.perf_counter()

        operation = spend if args.source == "api" else record_event
        total = int(args.rate * args.seconds)
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=16) as pool:
            for i in range(total):
                time.sleep(max(0.0, t0 + i / args.rate - time.perf_counter()))
                pool.submit(operation, i)
        achieved = len(sent) / (max(sent.values(), default=t0 + 1) - t0)
        time.sleep(5)
        cpu = meter.stop()
        window = time.perf_counter() - t0
        from ledger.models import JournalEntry
        from notifications.models import Notification

        if args.source == "api":
            committed = {str(e_id): created.timestamp() for e_id, created in
                         JournalEntry.objects.filter(id__in=list(sent)).values_list("id", "created_at")}
        outbox = {t: (str(e_id), published.timestamp() if published else None) for t, e_id, published in
                  OutboxEvent.objects.filter(payload__metadata__transactionId__in=list(sent))
                  .values_list("payload__metadata__transactionId", "event_id", "published_at")}
        notified = {str(e_id): created.timestamp() for e_id, created in
                    Notification.objects.filter(event_id__in=[e for e, _ in outbox.values()])
                    .values_list("event_id", "created_at")}
        stages: dict[str, list[float]] = {"total": [], "relay": [], "consumer": [], "push": []}
        for t in sent:
            event_id, published = outbox.get(t, (None, None))
            if event_id not in received:
                continue
            stages["total"].append(received[event_id] - committed[t])
            if published and event_id in notified:
                stages["relay"].append(published - committed[t])
                stages["consumer"].append(notified[event_id] - published)
                stages["push"].append(received[event_id] - notified[event_id])
        print(f"{args.source}: commit -> SSE client, {len(users)} users, offered {args.rate:g} ops/s for "
              f"{args.seconds:.0f}s, committed {achieved:.0f} ops/s: {summary_ms(stages['total'])} "
              f"(sent {len(sent)} of {total}, not received {len(sent) - len(stages['total'])})")
        print(f"  commit -> Kafka acknowledged (relay):   {summary_ms(stages['relay'])}")
        print(f"  Kafka -> notification stored (consumer): {summary_ms(stages['consumer'])}")
        print(f"  stored -> SSE client (push, delivery):  {summary_ms(stages['push'])}")
        print(cpu_report(cpu, operations=len(sent), seconds=window, cores=os.cpu_count()))
    finally:
        stop.set()
        stop_all(procs.values())
        pushpin.stop()


if __name__ == "__main__":
    main()

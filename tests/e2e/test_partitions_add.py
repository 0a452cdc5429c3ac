"""``manage.py kafka_partitions_add``: 6 -> 12 partitions while operations commit, relays publish and
consumers read; every consumer keeps each user's order, including users whose partition changed.

On a topic of its own (partitions cannot be taken back), with consumer groups of its own."""

import io
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict

import pytest
from django.core.management import call_command
from django.db import connection
from kafka import KafkaConsumer, TopicPartition
from kafka.partitioner.default import murmur2

from audit.models import AuditEvent
from notifications.models import Notification
from outbox.models import OutboxEvent, OutboxTopic
from prepaid.kafka import kafka_admin, kafka_topic_partition_count
from tests.helpers import charge
from tests.support import ROOT, wait_until
from wallets import services

pytestmark = pytest.mark.django_db(transaction=True)

RELAY_LOOP = """
import django, time; django.setup()
from outbox.relay import outbox_relay_run
import sys
slot, slots = int(sys.argv[1]), int(sys.argv[2])
while True:
    outbox_relay_run(slot=slot, slots=slots, wait_for_lock=False, time_budget_s=0.2)
    outbox_relay_run(wait_for_lock=False, time_budget_s=0.2)  # the beat's sweep
    time.sleep(0.01)
"""


def partition(key: str, partitions: int) -> int:
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def read_all(topic: str, partitions: int, count: int, timeout_s: float = 60) -> list:
    from django.conf import settings

    consumer = KafkaConsumer(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, enable_auto_commit=False,
                             group_id=None)
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(partitions)])
        consumer.seek_to_beginning()
        records: list = []
        deadline = time.monotonic() + timeout_s
        while len(records) < count and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        return records
    finally:
        consumer.close()


def test_partitions_grow_from_6_to_12_while_events_flow_and_every_consumer_keeps_each_users_order(
    settings, process_factory, app_env, user_factory, pushpin
):
    run = uuid.uuid4().hex[:8]
    topic, own_groups = f"test.grow-{run}", {"notifications": f"grow-n-{run}", "audit": f"grow-a-{run}"}
    with kafka_admin() as admin:
        admin.create_topics({topic: {"num_partitions": 6, "replication_factor": 1}}, wait_for_metadata=True)
    settings.KAFKA_TOPIC_WALLET_EVENTS = topic
    settings.NOTIFICATIONS_CONSUMER_GROUP = own_groups["notifications"]
    settings.AUDIT_CONSUMER_GROUP = own_groups["audit"]
    settings.KAFKA_WALLET_EVENTS_OWN_GROUPS = list(own_groups.values())
    env = {"KAFKA_TOPIC_WALLET_EVENTS": topic, "KAFKA_TOPIC_WALLET_EVENTS_DLT": settings.KAFKA_TOPIC_WALLET_EVENTS_DLT,
           "NOTIFICATIONS_CONSUMER_GROUP": own_groups["notifications"], "AUDIT_CONSUMER_GROUP": own_groups["audit"],
           "NOTIFICATIONS_DLT_STORE_GROUP": f"grow-dlt-{run}", "KAFKA_CONSUMER_METADATA_MAX_AGE_MS": "2000"}

    users = [user_factory() for _ in range(30)]
    keys = [str(u.id) for u in users]
    moving = [k for k in keys if partition(k, 6) != partition(k, 12)]
    assert len(moving) >= 8, "too few users change partition for the test to prove anything"
    for u in users:
        charge(u, 10_000_000)

    relays = [subprocess.Popen([sys.executable, "-c", RELAY_LOOP, str(slot), "2"], cwd=ROOT,
                               env={**app_env, **env}, stdout=subprocess.DEVNULL) for slot in range(2)]
    consumer = process_factory("grow-consumer", [sys.executable, "manage.py", "run_consumer"], **env)
    audit = process_factory("grow-audit", [sys.executable, "manage.py", "run_audit_consumer", "--processes", "1"],
                            **env)
    stop_writing = threading.Event()

    def write(offset: int) -> None:
        i = 0
        while not stop_writing.is_set():
            for u in users[offset::3]:
                services.wallet_spend(user_id=u.id, amount=1 + i % 50, description=f"grow {i}")
            i += 1
            time.sleep(0.05)
        connection.close()

    writers = [threading.Thread(target=write, args=(k,)) for k in range(3)]
    output = io.StringIO()
    command = threading.Thread(target=lambda: (call_command("kafka_partitions_add", "12", stdout=output),
                                               connection.close()))
    try:
        for w in writers:
            w.start()
        wait_until(lambda: AuditEvent.objects.filter(kafka_topic=topic).count() >= 100,
                   timeout_s=90, what="both consumers to work")
        # The audit consumer stops while events flow: its group is the platform's and falls behind.
        assert audit.stop() == 0
        time.sleep(3)
        command.start()
        wait_until(lambda: "waiting for" in output.getvalue(), timeout_s=30, what="the command to wait")
        assert f"grow-a-{run} (Empty" in output.getvalue(), output.getvalue()
        time.sleep(2)
        assert kafka_topic_partition_count(topic) == 6, "partitions added while a group was behind"
        assert OutboxTopic.objects.get(name=topic).partitions == 6
        # Back with two members: after the growth, a moved user's old partition (p < 6) and new one
        # (p + 6) go to different members, which read them at once; only the wait kept their order.
        # Small polls: its backlog takes many, while the other member reads the new partitions.
        audit = process_factory("grow-audit-again",
                                [sys.executable, "manage.py", "run_audit_consumer", "--processes", "2"],
                                **env, AUDIT_CONSUMER_MAX_POLL_RECORDS="5")
        command.join(timeout=120)
        assert not command.is_alive(), output.getvalue()
        assert "6 -> 12 partitions" in output.getvalue(), output.getvalue()
        time.sleep(3)  # and the writers go on, now to 12 partitions
    finally:
        stop_writing.set()
        for w in writers:
            w.join()
        try:
            wait_until(lambda: not OutboxEvent.objects.filter(topic=topic, published_at__isnull=True).exists(),
                       timeout_s=60, what="the relays to publish everything")
        finally:
            for relay in relays:
                relay.terminate()
                relay.wait(timeout=30)

    assert kafka_topic_partition_count(topic) == 12
    assert OutboxTopic.objects.get(name=topic).partitions == 12
    committed: dict[str, list[str]] = defaultdict(list)
    for key, event_id in OutboxEvent.objects.filter(topic=topic).order_by("id").values_list("key", "event_id"):
        committed[key].append(str(event_id))
    total = sum(map(len, committed.values()))
    records = read_all(topic, 12, total)
    assert len({dict(r.headers)["eventId"] for r in records}) == total
    partitions_of: dict[str, set[int]] = defaultdict(set)
    for record in records:
        partitions_of[record.key.decode()].add(record.partition)
    moved = [k for k in moving if partitions_of[k] == {partition(k, 6), partition(k, 12)}]
    assert len(moved) >= 8, f"users with events on both sides of the growth: {len(moved)}"

    user_ids = {str(u.id): u.id for u in users}
    wait_until(lambda: AuditEvent.objects.filter(user_id__in=user_ids.values(), kafka_topic=topic).count() == total
               and Notification.objects.filter(user_id__in=user_ids.values()).count() == total,
               timeout_s=120, what="both consumers to read every event")
    consumer.stop()
    audit.stop()
    for key, expected in committed.items():
        in_audit = [str(e) for e in AuditEvent.objects.filter(user_id=user_ids[key], kafka_topic=topic).order_by("seq")
                    .values_list("event_id", flat=True)]
        assert in_audit == expected, f"user {key}: the audit store's order differs from commit order"
        notified = [str(e) for e in Notification.objects.filter(user_id=user_ids[key]).order_by("id")
                    .values_list("event_id", flat=True)]
        assert notified == expected, f"user {key}: the notifications' order differs from commit order"

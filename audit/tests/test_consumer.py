"""The audit consumer against the real broker and database: each event once, in its chain in Kafka's
order, offsets committed only for what is stored, a record the database refuses parked on the DLT
while the rest of its poll is stored."""

import json
import sys
import threading
import uuid

import pytest
from django.db import connection
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.structs import TopicPartition

from audit.consumer import AuditConsumer
from audit.models import AuditEvent
from audit.selectors import audit_verify
from prepaid.kafka import kafka_admin
from tests.helpers import wallet_event
from tests.support import wait_until

pytestmark = pytest.mark.django_db(transaction=True)  # the loop's thread has a connection of its own


@pytest.fixture
def store():
    """An empty audit store, emptied again after (an unmanaged table: the test database's flush skips it)."""
    def empty():
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE audit_auditevent, audit_chainhead, audit_seal, audit_retentioncut")
    empty()
    yield
    empty()


@pytest.fixture
def topic(settings):
    name = f"test.audit-{uuid.uuid4().hex[:8]}"
    with kafka_admin() as admin:
        admin.create_topics([NewTopic(name, num_partitions=2, replication_factor=1)], wait_for_metadata=True)
    settings.KAFKA_TOPIC_WALLET_EVENTS = name
    settings.AUDIT_CONSUMER_GROUP = f"test.audit-{uuid.uuid4().hex[:8]}"
    settings.AUDIT_CONSUMER_MAX_POLL_RECORDS = 7  # many polls
    settings.NOTIFICATIONS_CONSUMER_RETRY_INTERVAL_MS = 100
    yield name
    with kafka_admin() as admin:
        admin.delete_topics([name])


def _send(topic: str, events: list) -> None:
    producer = KafkaProducer(bootstrap_servers=_bootstrap())
    for event in events:
        value = event if isinstance(event, bytes) else json.dumps(event).encode()
        key = str(event["userId"]).encode() if isinstance(event, dict) else b"1"
        producer.send(topic, key=key, value=value).get(timeout=30)
    producer.close()


def _bootstrap() -> str:
    from django.conf import settings

    return settings.KAFKA_BOOTSTRAP_SERVERS


def _committed(group: str, topic: str) -> int:
    with kafka_admin() as admin:
        offsets = admin.list_group_offsets(group)[group]
    return sum(meta.offset for tp, meta in offsets.items() if tp.topic == topic)


def _dlt_end() -> dict:
    from django.conf import settings

    consumer = KafkaConsumer(bootstrap_servers=_bootstrap())
    partitions = [TopicPartition(settings.KAFKA_TOPIC_WALLET_EVENTS_DLT, p) for p in
                  consumer.partitions_for_topic(settings.KAFKA_TOPIC_WALLET_EVENTS_DLT)]
    ends = consumer.end_offsets(partitions)
    consumer.close()
    return ends


def _dlt_since(ends: dict) -> list:
    consumer = KafkaConsumer(bootstrap_servers=_bootstrap(), enable_auto_commit=False, consumer_timeout_ms=2_000)
    consumer.assign(list(ends))
    for tp, offset in ends.items():
        consumer.seek(tp, offset)
    records = list(consumer)
    consumer.close()
    return records


def _run(loop: AuditConsumer) -> threading.Thread:
    thread = threading.Thread(target=loop.run)
    thread.start()
    return thread


def test_every_event_is_stored_once_in_order_and_committed(store, topic, user_factory):
    users = [user_factory() for _ in range(3)]
    events = [wallet_event(users[i % 3].id, amount=1_000 + i) for i in range(40)]
    # A redelivery of events already sent (the relay published again), and a record that is not an event.
    _send(topic, events[:20] + events[3:6] + [b"not json"] + events[20:])
    stop = threading.Event()
    loop = AuditConsumer(stop)
    thread = _run(loop)
    try:
        wait_until(lambda: AuditEvent.objects.count() == 40 and _committed(loop.group_id, topic) == 44,
                   timeout_s=60, what="every event stored and every record committed")
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    for user in users:  # each chain holds its user's events in the order they were sent
        stored = list(AuditEvent.objects.filter(user_id=user.id).order_by("seq").values_list("event_id", flat=True))
        assert [str(e) for e in stored] == [e["eventId"] for e in events if e["userId"] == user.id]
    assert audit_verify() == []


def test_an_event_the_database_refuses_is_parked_and_the_rest_of_its_poll_stored(store, topic, user_factory):
    user = user_factory()
    # Valid against the schema; PostgreSQL's jsonb refuses the NUL character.
    refused = wallet_event(user.id, orderId="order\u0000nul")
    events = [wallet_event(user.id) for _ in range(3)] + [refused] + [wallet_event(user.id) for _ in range(3)]
    dlt = _dlt_end()
    _send(topic, events)
    stop = threading.Event()
    loop = AuditConsumer(stop)
    thread = _run(loop)
    try:
        wait_until(lambda: _committed(loop.group_id, topic) == 7, timeout_s=60, what="every record committed")
    finally:
        stop.set()
        thread.join(timeout=30)
    stored = [str(e) for e in AuditEvent.objects.order_by("seq").values_list("event_id", flat=True)]
    assert stored == [e["eventId"] for e in events if e is not refused]
    parked = [r for r in _dlt_since(dlt) if json.loads(r.value)["eventId"] == refused["eventId"]]
    assert len(parked) == 1
    assert ("x-consumer", b"audit") in parked[0].headers
    assert audit_verify() == []


def test_several_processes_share_the_partitions_and_stop_together(store, topic, user_factory, process_factory,
                                                                   settings):
    """run_audit_consumer --processes 2: two members of the group, each a process of its own (a core and
    a GIL each), every event once; one that dies stops the other and the supervisor (which its own
    supervisor restarts), and none outlives it."""
    import psutil

    users = [user_factory() for _ in range(4)]
    events = [wallet_event(users[i % 4].id, amount=1_000 + i) for i in range(60)]
    _send(topic, events)
    audit = process_factory("audit-2", [sys.executable, "manage.py", "run_audit_consumer", "--processes", "2"],
                            KAFKA_TOPIC_WALLET_EVENTS=topic, AUDIT_CONSUMER_GROUP=settings.AUDIT_CONSUMER_GROUP,
                            AUDIT_CONSUMER_MAX_POLL_RECORDS="7")
    wait_until(lambda: _committed(settings.AUDIT_CONSUMER_GROUP, topic) == 60, timeout_s=90, interval_s=0.5,
               what="every record stored and committed")
    assert AuditEvent.objects.count() == 60
    with kafka_admin() as admin:
        group = admin.describe_groups([settings.AUDIT_CONSUMER_GROUP])[settings.AUDIT_CONSUMER_GROUP]
    assert len(group["members"]) == 2, group
    assert audit_verify() == []

    members = psutil.Process(audit.pid).children()
    members = [m for m in members if "spawn_main" in " ".join(m.cmdline()) and "resource_tracker" not in " ".join(
        m.cmdline())]
    assert len(members) == 2
    members[0].kill()
    wait_until(lambda: not audit.alive(), timeout_s=60, what="the supervisor to stop")
    assert audit.popen.returncode != 0
    assert not members[1].is_running() or members[1].status() == psutil.STATUS_ZOMBIE
    assert "exited with -9: stopping the others" in audit.log()

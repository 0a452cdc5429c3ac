"""The outbox relay against real PostgreSQL, Redis and Kafka (and real Celery processes)."""

import json
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from datetime import timedelta

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from outbox.models import OutboxEvent
from outbox.relay import CLAIM_SQL, backoff_ms, outbox_relay_run
from outbox.selectors import outbox_stats
from outbox.services import (
    outbox_event_record,
    outbox_purge_published,
    outbox_relay_flag_clear,
    outbox_relay_slots,
)
from prepaid.errors import ApplicationError
from prepaid.events import event_validate
from prepaid.invariants import InvariantViolation
from tests.helpers import charge, new_order_id
from tests.support import ROOT, database_client_ports, terminate_database_connections, wait_until
from wallets import services

pytestmark = pytest.mark.django_db(transaction=True)


def pending_count() -> int:
    return OutboxEvent.objects.filter(published_at__isnull=True, failed_at__isnull=True).count()


def fill_outbox(n: int, users: int) -> list[str]:
    """n synthetic (schema-valid) events for ``users`` users, committed in one go. Returns event ids."""
    now = timezone.now()
    rows = []
    for i in range(n):
        event_id = uuid.uuid4()
        user_id = 1_000_000 + i % users
        payload = {
            "schemaVersion": 1, "eventType": "SPEND_COMPLETED", "userId": user_id,
            "occurredAt": now.isoformat(), "metadata": {"transactionId": str(uuid.uuid4()), "currency": "KRW"},
            "amount": 100, "newBalance": i, "description": f"bulk {i}",
        }
        rows.append(OutboxEvent(event_id=event_id, event_type="SPEND_COMPLETED",
                                topic=django_settings.KAFKA_TOPIC_WALLET_EVENTS, key=str(user_id),
                                payload=payload))
    OutboxEvent.objects.bulk_create(rows, batch_size=5000)
    return [str(r.event_id) for r in rows]


def test_every_committed_event_arrives_with_key_headers_and_payload(user_factory, kafka_tail):
    tail = kafka_tail()
    alice, bob = user_factory(), user_factory()
    charge(alice)
    services.wallet_spend(user_id=alice.id, amount=1_500, description="books")
    charge(bob, 3_000)
    # Refused and rolled-back operations leave nothing to publish.
    with pytest.raises(ApplicationError):
        services.wallet_spend(user_id=bob.id, amount=999_999, description="too much")

    assert outbox_relay_run().published == 3
    expected = {str(e.event_id): e for e in OutboxEvent.objects.all()}
    assert len(expected) == 3
    records = list(tail.collect(lambda got: len(got) >= 3, timeout_s=30))
    for record in records:
        headers = {k: v.decode() for k, v in record.headers}
        event = expected[headers["eventId"]]
        value = json.loads(record.value)
        assert value == event.event
        event_validate(value)
        assert record.key.decode() == event.key == str(value["userId"])
        assert headers == {"eventId": str(event.event_id), "eventType": event.event_type, "schemaVersion": "1",
                           "contentType": "application/json"}
    assert all(e.published_at is not None for e in OutboxEvent.objects.all())
    assert outbox_relay_run().published == 0  # nothing is sent twice

    # A later event of each user lands behind the first ones in their partitions: once
    # it has arrived, a duplicate of an earlier event would have arrived too.
    later = {str(charge(u).id) for u in (alice, bob)}
    assert outbox_relay_run().published == 2
    later_ids = {str(e) for e in OutboxEvent.objects.filter(payload__metadata__transactionId__in=later)
                 .values_list("event_id", flat=True)}
    tail.collect(lambda got: later_ids <= set(tail.event_ids()), timeout_s=30)
    assert len(tail.records) - len(later_ids) == 3


def queued_relay_slots(r: redis.Redis, since: int) -> list[int]:
    """The slots of the relay tasks queued in Celery's Redis list after its first ``since`` messages."""
    import base64

    messages = r.lrange("celery", 0, -1)[: len(r.lrange("celery", 0, -1)) - since]  # LPUSH: newest first
    return sorted(json.loads(base64.b64decode(json.loads(m)["body"]))[0][0] for m in messages)


def test_a_burst_of_commits_queues_one_task_for_the_relay_of_the_users_partition(user, user_factory):
    r = redis.Redis.from_url(django_settings.REDIS_URL)
    outbox_relay_flag_clear()
    queue_before = r.llen("celery")
    charge(user, 100_000)
    for i in range(20):
        services.wallet_spend(user_id=user.id, amount=100, description=f"burst {i}")
    assert OutboxEvent.objects.count() == 21
    assert queued_relay_slots(r, queue_before) == sorted(outbox_relay_slots([str(user.id)]))
    # A transfer has two users' events: every relay that has no run queued gets one.
    queue_before = r.llen("celery")
    services.wallet_transfer(user_id=user.id, to=user_factory().username, amount=100, message="")
    assert len(queued_relay_slots(r, queue_before)) == django_settings.OUTBOX_RELAYS - 1


def test_api_commit_reaches_kafka_quickly_through_the_worker(celery_worker, api, kafka_tail):
    tail = kafka_tail()
    # Warm up: the worker's first relay creates its producer.
    api.post("/api/v1/wallet/charges", {"amount": 1_000, "paymentKey": "pk", "orderId": new_order_id()},
             format="json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))
    tail.collect(lambda got: len(got) >= 1, timeout_s=30)

    response = api.post("/api/v1/wallet/spends", {"amount": 500, "description": "timed"}, format="json",
                        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))
    committed = time.monotonic()
    assert response.status_code == 201
    event_id = str(OutboxEvent.objects.get(payload__metadata__transactionId=response.json()["transactionId"])
                   .event_id)
    tail.collect(lambda got: event_id in tail.event_ids(), timeout_s=10)
    latency_s = time.monotonic() - committed
    assert latency_s < 1.0, f"commit to Kafka took {latency_s:.3f}s"


def test_the_worker_keeps_its_database_connection_and_replaces_a_broken_one(celery_worker, user, kafka_tail):
    tail = kafka_tail()

    def relayed(entry) -> bool:
        event = OutboxEvent.objects.get(payload__metadata__transactionId=str(entry.id))
        return event.published_at is not None

    first = charge(user)
    wait_until(lambda: relayed(first), timeout_s=30, what="the first relay")
    ports = database_client_ports(celery_worker.pid)
    assert ports, "the worker holds no database connection between tasks"
    for i in range(3):
        entry = charge(user, amount=1_000 + i)
        wait_until(lambda entry=entry: relayed(entry), timeout_s=30, what="a relay")
    assert database_client_ports(celery_worker.pid) & ports, "the connection was not kept"

    # A failover or a network cut ends the connection; the next task notices and reconnects.
    assert terminate_database_connections(celery_worker.pid) >= 1
    after = charge(user, amount=2_000)
    wait_until(lambda: relayed(after), timeout_s=10, what="the relay after the connection was cut")
    tail.collect(lambda got: str(OutboxEvent.objects.get(payload__metadata__transactionId=str(after.id)).event_id)
                 in tail.event_ids(), timeout_s=30)


def test_kill_9_during_a_drain_loses_nothing(start_celery_worker, kafka_tail):
    tail = kafka_tail()
    event_ids = fill_outbox(20_000, users=50)
    worker = start_celery_worker("relay-crash", OUTBOX_RELAY_TIME_BUDGET_S="600")
    from outbox.tasks import outbox_relay

    outbox_relay.delay()
    wait_until(lambda: OutboxEvent.objects.filter(published_at__isnull=False).count() >= 1_000, timeout_s=60,
               what="the drain to start")
    worker.kill_group()
    published_at_crash = OutboxEvent.objects.filter(published_at__isnull=False).count()
    assert published_at_crash < len(event_ids), "the drain finished before the crash; the test proves nothing"

    start_celery_worker("relay-restarted", OUTBOX_RELAY_TIME_BUDGET_S="600")
    outbox_relay.delay()
    wait_until(lambda: pending_count() == 0, timeout_s=120, what="the outbox to drain")

    wanted = set(event_ids)
    records = tail.collect(lambda got: len(got) >= len(event_ids) and wanted <= set(tail.event_ids()),
                           timeout_s=60)
    seen = Counter(tail.event_ids())
    missing = set(event_ids) - set(seen)
    assert not missing, f"{len(missing)} committed event(s) never reached Kafka"
    duplicates = sum(count - 1 for count in seen.values())
    assert duplicates <= django_settings.OUTBOX_RELAY_BATCH_SIZE, duplicates
    assert len(records) == len(event_ids) + duplicates


# A relay process as a worker runs them: its slot's runs, and (with ``sweep``) the beat's sweep
# over every partition no other run holds. Prints each run's result as a JSON line.
RELAY_PROCESS = """
import django, json, signal, sys, time; django.setup()
from outbox.relay import outbox_relay_run
slot, slots, sweep, batch = (int(a) for a in sys.argv[1:5])
# SIGTERM ends the loop after the run in hand has printed what it published (a run that committed and was
# killed before printing would look, to the test, like one that published nothing).
stopping = []
signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
while not stopping:
    runs = [outbox_relay_run(slot=slot, slots=slots, wait_for_lock=False, time_budget_s=0.2, batch_size=batch)]
    if sweep:
        runs.append(outbox_relay_run(wait_for_lock=False, time_budget_s=0.2, batch_size=batch))
    for r in runs:
        if r.published:
            print(json.dumps({"partitions": r.partitions, "published": r.published}), flush=True)
    time.sleep(0.002)
"""


def start_relays(app_env, slots: int, *, sweep: bool = False, batch_size: int = 37) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", RELAY_PROCESS, str(slot), str(slots), str(int(sweep)),
                              str(batch_size)], cwd=ROOT, env=app_env, stdout=subprocess.PIPE, text=True)
            for slot in range(slots)]


def stop_relays(relays: list[subprocess.Popen]) -> list[list[dict]]:
    """Stop the relay processes; each one's printed results."""
    for relay in relays:
        relay.terminate()
    return [[json.loads(line) for line in relay.communicate(timeout=30)[0].splitlines()] for relay in relays]


def first_occurrences_by_user(records) -> dict[str, list[str]]:
    """Each user's event ids in the order Kafka holds them (one user lives on one partition), a
    resent event counted where it first appeared."""
    by_user: dict[str, list[str]] = defaultdict(list)
    seen: set[str] = set()
    for record in records:
        event_id = dict(record.headers)["eventId"].decode()
        if event_id not in seen:
            seen.add(event_id)
            by_user[record.key.decode()].append(event_id)
    return by_user


def committed_order(keys) -> dict[str, list[str]]:
    order: dict[str, list[str]] = defaultdict(list)
    for key, event_id in OutboxEvent.objects.filter(key__in=keys).order_by("id").values_list("key", "event_id"):
        order[key].append(str(event_id))
    return order


def test_the_sql_partitioner_is_kafkas():
    """outbox_key_hash (SQL) against kafka-python's DefaultPartitioner hash, on keys of every length
    and byte pattern a key can have (ids, Korean, emoji, punctuation)."""
    import random
    import string

    from kafka.partitioner.default import murmur2

    rnd = random.Random(23)
    alphabet = string.printable.replace("\x00", "") + "가나다라마바사아자차카타파하🙂"
    keys = [str(i) for i in range(0, 100_000, 97)] + ["", "a", "ab", "abc", "abcd", "사용자-42", "🙂x"]
    keys += ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 40))) for _ in range(500)]
    with connection.cursor() as cursor:
        cursor.execute("SELECT k, outbox_key_hash(k) FROM unnest(%s::text[]) AS k", [keys])
        hashes = dict(cursor.fetchall())
    wrong = [k for k in keys if hashes[k] != murmur2(k.encode()) & 0x7FFFFFFF]
    assert not wrong, wrong[:5]


@pytest.mark.parametrize("relays", [1, 2, 4])
def test_relays_by_partition_keep_each_users_order(relays, app_env, kafka_tail, user_factory):
    """N relays publish at once, each its own partitions (none shared), while users' operations
    commit: each user's events reach Kafka once each, on the partition Kafka's partitioner names,
    in commit order."""
    from kafka.partitioner.default import murmur2

    tail = kafka_tail()
    users = [user_factory() for _ in range(40)]
    for u in users:
        charge(u, 1_000_000)
    processes = start_relays(app_env, relays)
    try:
        def write(offset):
            for i in range(8):
                for u in users[offset::4]:
                    services.wallet_spend(user_id=u.id, amount=10 + i, description=f"op {i}")
            connection.close()

        writers = [threading.Thread(target=write, args=(k,)) for k in range(4)]
        for w in writers:
            w.start()
        for w in writers:
            w.join()
        wait_until(lambda: pending_count() == 0, timeout_s=60, what="the relays to drain")
    finally:
        results = stop_relays(processes)

    partitions_of = [set().union(*(r["partitions"] for r in runs)) if runs else set() for runs in results]
    for i, mine in enumerate(partitions_of):
        assert mine, f"relay {i} of {relays} published nothing"
        for j, theirs in enumerate(partitions_of[i + 1:], start=i + 1):
            assert not mine & theirs, f"relays {i} and {j} both published partitions {mine & theirs}"
    keys = [str(u.id) for u in users]
    expected = committed_order(keys)
    assert sum(map(len, expected.values())) == 40 * 9
    tail.collect(lambda got: len(got) >= 40 * 9, timeout_s=60)
    partition_count = len(tail.partitions)
    for record in tail.records:
        assert record.partition == (murmur2(record.key) & 0x7FFFFFFF) % partition_count
    assert len(tail.records) == 40 * 9, "an event was published twice"
    in_kafka = first_occurrences_by_user(tail.records)
    for key in keys:
        assert in_kafka[key] == expected[key], f"user {key}: Kafka order differs from commit order"


def test_a_relay_killed_mid_run_loses_nothing_and_the_others_take_its_partitions(app_env, kafka_tail):
    """Two relays drain a backlog; one is killed (SIGKILL) mid-run. The other, with the sweep a worker
    runs, publishes the dead one's partitions: every event reaches Kafka, each user's in commit
    order (a resent event counted where it first appeared), duplicates no more than a batch."""
    tail = kafka_tail()
    event_ids = fill_outbox(12_000, users=60)
    keys = [str(1_000_000 + i) for i in range(60)]
    processes = start_relays(app_env, 2, sweep=True, batch_size=200)
    survivor_results = []
    try:
        wait_until(lambda: OutboxEvent.objects.filter(published_at__isnull=False).count() >= 1_000, timeout_s=60,
                   what="the drain to start")
        processes[0].kill()
        processes[0].wait(timeout=30)
        published_at_crash = OutboxEvent.objects.filter(published_at__isnull=False).count()
        assert published_at_crash < len(event_ids), "the drain finished before the crash; the test proves nothing"
        wait_until(lambda: pending_count() == 0, timeout_s=120, what="the survivor to drain everything")
    finally:
        survivor_results = stop_relays(processes[1:])[0]
    assert {0, 2, 4} <= set().union(*(r["partitions"] for r in survivor_results)), \
        "the survivor (slot 1: partitions 1, 3, 5) never published the dead relay's partitions"

    wanted = set(event_ids)
    tail.collect(lambda got: wanted <= set(tail.event_ids()), timeout_s=60)
    seen = Counter(tail.event_ids())
    assert not wanted - set(seen)
    assert sum(count - 1 for count in seen.values()) <= 200
    expected = committed_order(keys)
    in_kafka = first_occurrences_by_user(tail.records)
    for key in keys:
        assert in_kafka[key] == expected[key], f"user {key}: Kafka order differs from commit order"


def test_publishing_paused_publishes_nothing_until_the_lease_ends(user, kafka_tail):
    """The topic's partition count is recorded from Kafka by the first run; while publishing is paused
    (what kafka_partitions_add does, as a lease) no relay publishes; once the lease has run out (the
    command died) everything goes out without anyone's help."""
    from outbox.models import OutboxTopic

    tail = kafka_tail()
    charge(user)
    assert outbox_relay_run().published == 1
    topic = OutboxTopic.objects.get(name=django_settings.KAFKA_TOPIC_WALLET_EVENTS)
    assert topic.partitions == len(tail.partitions)
    OutboxTopic.objects.filter(pk=topic.pk).update(paused_until=timezone.now() + timedelta(minutes=1))
    charge(user)
    paused = outbox_relay_run()
    assert (paused.lock, paused.published) == ("paused", 0)
    assert pending_count() == 1
    OutboxTopic.objects.filter(pk=topic.pk).update(paused_until=timezone.now() - timedelta(seconds=1))
    assert outbox_relay_run().published == 1
    tail.collect(lambda got: len(got) >= 2, timeout_s=30)


@pytest.fixture
def kafka_broker():
    """Stop and start the devstack's Kafka broker (always started again at the end)."""
    pid_file = ROOT / ".devstack" / "kafka" / "kafka.pid"
    if not pid_file.exists():
        pytest.fail("this test stops and starts the devstack Kafka broker; start it with `make services`")

    class Broker:
        def stop(self):
            subprocess.run(["scripts/devstack.sh", "stop", "kafka"], cwd=ROOT, check=True, capture_output=True)

        def start(self):
            subprocess.run(["scripts/devstack.sh", "start", "kafka"], cwd=ROOT, check=True, capture_output=True)

    broker = Broker()
    yield broker
    broker.start()


def test_kafka_down_for_10_seconds_then_everything_arrives_without_operator_action(
    celery_worker, celery_beat, kafka_broker, user, kafka_tail
):
    tail = kafka_tail()
    charge(user, 100_000)
    wait_until(lambda: pending_count() == 0, timeout_s=30, what="the first event to go out")
    kafka_broker.stop()
    try:
        for i in range(30):
            services.wallet_spend(user_id=user.id, amount=100, description=f"while down {i}")
        wait_until(lambda: OutboxEvent.objects.filter(attempts__gt=0, published_at__isnull=True).exists(),
                   timeout_s=30, what="a failed attempt to be recorded")
        time.sleep(10)
        stuck = OutboxEvent.objects.filter(published_at__isnull=True)
        assert stuck.count() == 30
        assert all(e.last_error for e in stuck if e.attempts)
        assert not OutboxEvent.objects.filter(failed_at__isnull=False).exists()
    finally:
        kafka_broker.start()
    wait_until(lambda: pending_count() == 0, timeout_s=120, what="the relay to resume by itself")
    assert OutboxEvent.objects.filter(published_at__isnull=False).count() == 31
    expected = [str(e) for e in OutboxEvent.objects.order_by("id").values_list("event_id", flat=True)]
    tail.collect(lambda got: set(expected) <= set(tail.event_ids()), timeout_s=60)
    in_order = [event_id for event_id in dict.fromkeys(tail.event_ids()) if event_id in expected]
    assert in_order == expected


def test_an_unsendable_row_is_parked_and_does_not_block_other_users(settings, user_factory, kafka_tail):
    settings.OUTBOX_RETRY_BACKOFF_BASE_MS = 1
    settings.OUTBOX_RETRY_BACKOFF_MAX_MS = 5
    tail = kafka_tail()
    alice, bob = user_factory(), user_factory()
    charge(alice)
    outbox_relay_run()
    huge = OutboxEvent.objects.filter(key=str(alice.id)).get()
    # An event too large for the broker (over KAFKA_PRODUCER_MAX_REQUEST_SIZE_BYTES), then more events.
    OutboxEvent.objects.filter(id=huge.id).update(published_at=None)
    too_large = OutboxEvent.objects.create(event_id=uuid.uuid4(), event_type="SPEND_COMPLETED", topic=huge.topic,
                                           key=str(alice.id), payload={"blob": "x" * 2_000_000})
    services.wallet_spend(user_id=alice.id, amount=1, description="after the huge one")
    charge(bob)

    first = outbox_relay_run()
    assert first.retrying == 1
    # Bob is not held back; Alice's later event waits behind her failing one (her order is kept).
    assert OutboxEvent.objects.get(key=str(bob.id)).published_at is not None
    later = OutboxEvent.objects.filter(key=str(alice.id), event_type="SPEND_COMPLETED",
                                       payload__description="after the huge one").get()
    assert later.published_at is None

    for _ in range(10):
        time.sleep(0.02)
        outbox_relay_run()
    parked = OutboxEvent.objects.get(id=too_large.id)
    assert parked.failed_at is not None
    assert parked.attempts == settings.OUTBOX_FAILED_AFTER_ATTEMPTS
    assert "MessageSizeTooLarge" in parked.last_error
    later.refresh_from_db()
    assert later.published_at is not None
    assert outbox_stats()["failed"] == 1
    tail.collect(lambda got: len(got) >= 3, timeout_s=30)


def test_backoff_grows_and_is_capped(settings):
    settings.OUTBOX_RETRY_BACKOFF_BASE_MS = 500
    settings.OUTBOX_RETRY_BACKOFF_MAX_MS = 30_000
    assert [backoff_ms(a) for a in (1, 2, 3, 4)] == [500, 1_000, 2_000, 4_000]
    assert backoff_ms(100) == 30_000


def test_after_a_kafka_outage_no_row_waits_more_than_5_s_for_its_next_try():
    """Every row fails while the broker is away; the cap is how long events may wait once it is back."""
    assert max(backoff_ms(a) for a in range(1, 100)) == 5_000


def test_published_rows_are_kept_for_the_retention_then_purged(settings, user):
    settings.OUTBOX_RETENTION_DAYS = 7
    charge(user, 100_000)
    for i in range(9):
        services.wallet_spend(user_id=user.id, amount=100, description=f"{i}")
    outbox_relay_run()
    ids = list(OutboxEvent.objects.order_by("id").values_list("id", flat=True))
    OutboxEvent.objects.filter(id__in=ids[:6]).update(published_at=timezone.now() - timedelta(days=8))
    OutboxEvent.objects.filter(id=ids[6]).update(published_at=None)  # pending: never purged
    OutboxEvent.objects.filter(id=ids[6]).update(created_at=timezone.now() - timedelta(days=30))
    assert outbox_purge_published(batch_size=4) == 6
    assert sorted(OutboxEvent.objects.values_list("id", flat=True)) == ids[6:]


def test_stats_report_backlog_age_and_totals(user):
    charge(user, 100_000)
    services.wallet_spend(user_id=user.id, amount=100, description="x")
    OutboxEvent.objects.filter(id=OutboxEvent.objects.order_by("id").first().id).update(
        created_at=timezone.now() - timedelta(seconds=90))
    stats = outbox_stats()
    assert stats["pending"] == 2
    assert 89 <= stats["oldestPendingAgeSeconds"] < 200
    outbox_relay_run()
    assert outbox_stats() == {"pending": 0, "oldestPendingAgeSeconds": 0.0, "published": 2, "failed": 0}


def test_claim_query_uses_the_partial_index_with_many_published_rows():
    fill_outbox(30_000, users=100)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE outbox_outboxevent SET published_at = now()")
    fill_outbox(10, users=5)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE outbox_outboxevent")
        cursor.execute("BEGIN")
        cursor.execute("EXPLAIN " + CLAIM_SQL, {"partitions": 6, "held": [0, 1, 2], "limit": 500})
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("ROLLBACK")
    assert "outbox_pending_idx" in plan, plan
    assert "Seq Scan on outbox_outboxevent o" not in plan, plan


@pytest.mark.django_db(transaction=True)
def test_outbox_record_refuses_to_run_outside_a_transaction():
    with pytest.raises(InvariantViolation):
        outbox_event_record(event_id=uuid.uuid4(), event_type="X", key="1", payload={})

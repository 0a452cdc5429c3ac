"""End to end, with real processes as users reach them: the front proxy and Pushpin before the web process, Celery
worker and beat, run_consumer; PostgreSQL, Redis, Kafka."""

import json
import sys
import threading
import time
import uuid
from collections import Counter

import httpx
import jwt
import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from kafka import KafkaProducer

from notifications.models import DeadLetter, Notification, ProcessedEvent
from notifications.sse import sse_stream_position, user_channel
from outbox.models import OutboxEvent
from prepaid.events import event_headers
from prepaid.kafka import kafka_admin, kafka_headers_encode
from tests.helpers import api_token, new_order_id, staff_sign_in
from tests.support import SSEClient, free_port, terminate_database_connections, wait_until
from wallets import services

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def session_cookies(user) -> dict:
    client = Client()
    client.force_login(user)
    return {settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value}


def api(platform, user) -> httpx.Client:
    return httpx.Client(base_url=platform.base_url, headers={"Authorization": f"Token {api_token(user)}"},
                        timeout=30)


def stream(platform, user) -> SSEClient:
    # As the wallet page does: start from the current event id, so nothing sent from now on is missed.
    return SSEClient(f"{platform.base_url}/events/", cookies=session_cookies(user),
                     last_event_id=sse_stream_position(user_id=user.id)).start()


def api_charge(platform, user, amount: int) -> None:
    with api(platform, user) as client:
        response = client.post("/api/v1/wallet/charges", headers={"Idempotency-Key": str(uuid.uuid4())},
                               json={"amount": amount, "paymentKey": "pk_e2e", "orderId": new_order_id()})
        assert response.status_code == 201, response.text


def test_a_charge_reaches_only_its_users_browser(platform, user_factory):
    alice, bob = user_factory(), user_factory()
    alice_stream, bob_stream = stream(platform, alice), stream(platform, bob)
    try:
        for amount in (40_000, 10_000):
            api_charge(platform, alice, amount)
        first, second = alice_stream.wait_for_notifications(2)
        assert (second["title"], second["message"], second["type"]) == (
            "충전 완료", "₩10,000가 충전되었습니다. 현재 잔액: ₩50,000", "success")
        assert second["balance"] == 50_000
        assert first["message"] == "₩40,000가 충전되었습니다. 현재 잔액: ₩40,000"
        # No fixed wait before "nothing else arrived": a later event of each user is the signal.
        # One web process delivers the pub/sub messages in order, so anything of Alice's sent
        # to Bob's stream would reach it before Bob's own charge, and the reverse.
        api_charge(platform, bob, 5_000)
        (bobs,) = bob_stream.wait_for_notifications(1)
        assert bobs["message"] == "₩5,000가 충전되었습니다. 현재 잔액: ₩5,000"
        api_charge(platform, alice, 1_000)
        alice_stream.wait_for_notifications(3)
        assert bob_stream.notifications() == [bobs]
        assert [n["balance"] for n in alice_stream.notifications()] == [40_000, 50_000, 51_000]
    finally:
        alice_stream.close()
        bob_stream.close()


def test_sse_refuses_strangers_and_other_users_channels(platform, user_factory):
    alice, bob = user_factory(), user_factory()
    response = httpx.get(f"{platform.base_url}/events/", timeout=10)
    assert response.status_code == 401
    response = httpx.get(f"{platform.base_url}/events/?channel={user_channel(bob.id)}", timeout=10,
                         cookies=session_cookies(alice))
    assert response.status_code == 403
    response = httpx.get(f"{platform.base_url}/events/?es-meta=forged.token.value", timeout=10)
    assert response.status_code == 401
    response = httpx.get(f"{platform.base_url}/events/", headers={"Authorization": "Token not-a-token"}, timeout=10)
    assert response.status_code == 401
    # Django never holds a stream itself: only what comes through Pushpin (signed) opens one.
    response = httpx.get(f"http://127.0.0.1:{settings.TEST_WEB_PORT}/events/", cookies=session_cookies(alice),
                         timeout=10)
    assert (response.status_code, response.json()["code"]) == (400, "proxy_required")
    forged = jwt.encode({"iss": "pushpin", "exp": 2**31}, "not-the-key-though-long-enough-for-hs256")
    response = httpx.get(f"http://127.0.0.1:{settings.TEST_WEB_PORT}/events/", cookies=session_cookies(alice),
                         headers={"Grip-Sig": forged}, timeout=10)
    assert (response.status_code, response.json()["code"]) == (400, "proxy_required")


def test_server_side_clients_stream_with_the_api_authorization_header(platform, user):
    sse = SSEClient(f"{platform.base_url}/events/", headers={"Authorization": f"Token {api_token(user)}"},
                    last_event_id=sse_stream_position(user_id=user.id)).start()
    try:
        services.wallet_charge(user_id=user.id, amount=4_000, payment_key="pk", order_id=new_order_id())
        (note,) = sse.wait_for_notifications(1)
        assert note["message"] == "₩4,000가 충전되었습니다. 현재 잔액: ₩4,000"
    finally:
        sse.close()


def test_api_clients_stream_with_a_short_lived_token(platform, user):
    with api(platform, user) as client:
        grant = client.post("/api/v1/notifications/stream-token").json()
        sse = SSEClient(grant["url"].replace("http://testserver", platform.base_url)).start()
        try:
            client.post("/api/v1/wallet/charges", headers={"Idempotency-Key": str(uuid.uuid4())},
                        json={"amount": 7_000, "paymentKey": "pk", "orderId": new_order_id()})
            (note,) = sse.wait_for_notifications(1)
            assert note["message"] == "₩7,000가 충전되었습니다. 현재 잔액: ₩7,000"
        finally:
            sse.close()


def test_kill_9_of_the_consumer_during_a_burst_loses_and_duplicates_nothing(platform, user_factory):
    users = [user_factory() for _ in range(5)]
    for u in users:
        services.wallet_charge(user_id=u.id, amount=1_000_000, payment_key="pk", order_id=new_order_id())
    wait_until(lambda: Notification.objects.count() == 5, timeout_s=60, what="the opening charges' notifications")
    streams = {u.id: stream(platform, u) for u in users}

    def burst():
        try:
            for i in range(100):
                for u in users:
                    services.wallet_spend(user_id=u.id, amount=1 + i, description=f"burst {i}")
        finally:
            connection.close()  # a thread's connection is not closed for it

    writer = threading.Thread(target=burst)
    writer.start()
    wait_until(lambda: Notification.objects.count() >= 60, timeout_s=60, what="the consumer to get going")
    platform.consumer.kill_group()
    # The browsers drop too, and reconnect later with Last-Event-ID.
    resume_from = {}
    for u in users:
        streams[u.id].close()
        resume_from[u.id] = (streams[u.id].last_event_id, streams[u.id].notifications())
    platform.start_consumer("consumer-restarted")
    writer.join()

    wait_until(lambda: Notification.objects.count() == 5 + 500, timeout_s=180,
               what="every operation's notification")
    # One more spend per user, behind the burst in each user's partition: once its notification
    # exists, everything redelivered after the restart has been handled.
    for u in users:
        services.wallet_spend(user_id=u.id, amount=1, description="after the restart")
    total = 5 + 500 + 5
    wait_until(lambda: Notification.objects.count() == total, timeout_s=60, what="the later spends' notifications")
    assert Notification.objects.count() == total
    assert ProcessedEvent.objects.count() == total
    assert set(Notification.objects.values_list("event_id", flat=True)) == set(
        OutboxEvent.objects.values_list("event_id", flat=True))

    for u in users:
        last_event_id, before = resume_from[u.id]
        resumed = SSEClient(f"{platform.base_url}/events/", cookies=session_cookies(u),
                            last_event_id=last_event_id).start()
        try:
            expected = [str(e) for e in OutboxEvent.objects.filter(key=str(u.id), event_type="SPEND_COMPLETED")
                        .order_by("id").values_list("event_id", flat=True)]
            resumed.wait_for_notifications(len(expected) - len(before), timeout_s=60)
            got = [n["eventId"] for n in before + resumed.notifications()]
            assert Counter(got).most_common(1)[0][1] == 1, "an event reached the browser twice"
            assert got == expected, f"user {u.id}: events missing or out of order"
        finally:
            resumed.close()


def test_an_event_published_again_after_a_consumer_crash_reaches_each_browser_once(platform, user):
    """run_consumer dies between the live push and recording it: the redelivery publishes the event again."""
    start_id = sse_stream_position(user_id=user.id)
    live, late = stream(platform, user), None
    try:
        services.wallet_charge(user_id=user.id, amount=1_000, payment_key="pk", order_id=new_order_id())
        (first,) = live.wait_for_notifications(1)
        # A browser that connects now reads the event from storage.
        late = SSEClient(f"{platform.base_url}/events/", cookies=session_cookies(user),
                         last_event_id=start_id).start()
        late.wait_for_notifications(1)

        # The crash window: the push happened, its record did not; Kafka redelivers the record.
        notification = Notification.objects.get(event_id=first["eventId"])
        Notification.objects.filter(id=notification.id).update(pushed_at=None)
        row = OutboxEvent.objects.get(event_id=first["eventId"])
        producer = KafkaProducer(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS)
        headers = kafka_headers_encode(event_headers(event_id=row.event_id, event_type=row.event_type))
        producer.send(row.topic, key=row.key.encode(), value=json.dumps(row.event).encode(),
                      headers=headers).get(timeout=30)
        producer.close()
        wait_until(lambda: Notification.objects.get(id=notification.id).pushed_at is not None, timeout_s=30,
                   what="the consumer to publish the redelivered event again")

        # The next event is the signal: a second copy of the first would reach each stream before it.
        services.wallet_charge(user_id=user.id, amount=2_000, payment_key="pk", order_id=new_order_id())
        for client in (live, late):
            wait_until(lambda c=client: any(n["balance"] == 3_000 for n in c.notifications()), timeout_s=30,
                       what="the next event on the stream")
            notes = client.notifications()
            got = [n["eventId"] for n in notes]
            assert len(got) == 2 and got[0] == first["eventId"], f"delivered: {got}"
        assert Notification.objects.filter(user=user).count() == 2
        assert notes[1]["message"] == "₩2,000가 충전되었습니다. 현재 잔액: ₩3,000"
    finally:
        live.close()
        if late is not None:
            late.close()


def test_a_browser_that_stays_connected_gets_an_event_whose_publish_was_lost_without_a_next_one(web, user):
    """The last event before a quiet spell was stored but never reached Pushpin (its publish was lost).
    No later event reveals the gap, and the browser stays connected: Pushpin, holding the stream's next
    link, asks Django for what the stream missed once it has been quiet a while."""
    from django.db import transaction

    from notifications.sse import sse_events_store

    platform = web()
    client = stream(platform, user)
    try:
        event_id = str(uuid.uuid4())
        with transaction.atomic():
            sse_events_store([(user.id, {"eventId": event_id, "title": "t", "message": "m", "balance": 1})])
        # Stored, never published: the stream learns of it only by asking.
        wait_until(lambda: [n["eventId"] for n in client.notifications()] == [event_id], timeout_s=30,
                   what="the unpublished event on the open stream")
    finally:
        client.close()


def test_a_poison_record_is_retried_then_parked_and_replayed_from_the_admin(platform, user, django_user_model):
    missing_user_id = 987_654_321
    event = {
        "schemaVersion": 1, "eventId": str(uuid.uuid4()), "eventType": "CHARGE_COMPLETED", "userId": missing_user_id,
        "occurredAt": "2026-01-20T10:00:00+09:00", "metadata": {"transactionId": str(uuid.uuid4()),
                                                                 "currency": "KRW"},
        "amount": 10_000, "newBalance": 10_000, "paymentKey": "pk_poison", "orderId": "order-poison",
    }
    producer = KafkaProducer(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, acks="all")
    sent_at = time.monotonic()
    producer.send(settings.KAFKA_TOPIC_WALLET_EVENTS, key=str(missing_user_id).encode(),
                  value=json.dumps(event).encode(), headers=[("eventId", event["eventId"].encode())]).get(30)
    producer.send(settings.KAFKA_TOPIC_WALLET_EVENTS, key=b"1", value=b"{not json").get(30)
    producer.close()
    # Meanwhile and after it, real events keep flowing.
    services.wallet_charge(user_id=user.id, amount=3_000, payment_key="pk", order_id=new_order_id())

    wait_until(lambda: DeadLetter.objects.count() == 2, timeout_s=60, what="both records on the DLT")
    parked_after_s = time.monotonic() - sent_at
    poison = DeadLetter.objects.get(key=str(missing_user_id))
    assert poison.attempts == settings.NOTIFICATIONS_CONSUMER_RETRIES + 1 == 4
    assert poison.original_topic == settings.KAFKA_TOPIC_WALLET_EVENTS
    assert poison.original_offset is not None
    assert "IntegrityError" in poison.exception_type
    assert json.loads(poison.value) == event
    assert parked_after_s >= 2.5, "3 retries 1 s apart take about 3 s"
    log = platform.consumer.log()
    assert log.count(f"event={event['eventId']}") == 0
    assert "attempt 3 of 4" in log
    malformed = DeadLetter.objects.get(key="1")
    assert malformed.attempts == 1  # not retried
    assert "InvalidEvent" in malformed.exception_type
    wait_until(lambda: Notification.objects.filter(user=user).count() == 1, timeout_s=30,
               what="the consumer to keep going after the poison")

    # The operator fixes the cause (the user exists now) and replays from the admin.
    django_user_model.objects.create_user(id=missing_user_id, username="late-user", password="pw")
    admin = Client()
    staff_sign_in(admin, django_user_model.objects.create_superuser("ops", "ops@example.com", "pw"))
    for _ in range(2):  # a second replay of a handled event is deduplicated
        response = admin.post("/admin/notifications/deadletter/",
                              {"action": "replay", "_selected_action": [poison.id]}, follow=True)
        assert response.status_code == 200
        assert "레코드 1건을 재처리했습니다" in response.content.decode()
        wait_until(lambda: Notification.objects.filter(event_id=event["eventId"]).count() == 1, timeout_s=30,
                   what="the replayed event's notification")
    # The user's next event lands behind the second replay in the same partition: once it
    # is notified, the replay has been handled.
    services.wallet_charge(user_id=missing_user_id, amount=1_000, payment_key="pk", order_id=new_order_id())
    wait_until(lambda: Notification.objects.filter(user_id=missing_user_id).count() == 2, timeout_s=30,
               what="the late user's next notification")
    assert Notification.objects.filter(event_id=event["eventId"]).count() == 1
    poison.refresh_from_db()
    assert poison.replay_count == 2
    assert poison.replayed_at is not None


def test_a_lost_database_connection_is_retried_and_the_event_is_not_parked(platform, user):
    services.wallet_charge(user_id=user.id, amount=1_000, payment_key="pk", order_id=new_order_id())
    wait_until(lambda: Notification.objects.filter(user=user).count() == 1, timeout_s=60,
               what="the first notification (the consumer holds a database connection)")
    assert terminate_database_connections(platform.consumer.pid) >= 1

    services.wallet_charge(user_id=user.id, amount=2_000, payment_key="pk", order_id=new_order_id())
    wait_until(lambda: Notification.objects.filter(user=user).count() == 2, timeout_s=60,
               what="the second notification, after a retry")
    log = platform.consumer.log()
    assert "the database is unavailable" in log, log[-3000:]
    assert "to the DLT" not in log
    assert Notification.objects.get(user=user, balance=3_000).message == "₩2,000가 충전되었습니다. 현재 잔액: ₩3,000"
    assert DeadLetter.objects.count() == 0


def test_several_consumers_share_the_partitions(platform, user_factory):
    one = platform.consumer
    two = platform.start_consumer("consumer-2")
    users = [user_factory() for _ in range(12)]  # keyed by user id: spread over the 6 partitions
    handled_by = {}
    rounds = 0

    def both_working() -> bool:
        nonlocal rounds
        rounds += 1
        for u in users:
            services.wallet_charge(user_id=u.id, amount=1_000, payment_key="pk", order_id=new_order_id())
        handled_by.update({name: proc.log().count(" notified") for name, proc in (("one", one), ("two", two))})
        return all(handled_by.values())

    wait_until(both_working, timeout_s=120, interval_s=2, what="both consumers to handle records")
    with kafka_admin() as admin:
        group = admin.describe_groups([settings.NOTIFICATIONS_CONSUMER_GROUP])[settings.NOTIFICATIONS_CONSUMER_GROUP]
    assignments = [sorted(p for a in m["member_assignment"]["assigned_partitions"] for p in a["partitions"])
                   for m in group["members"]]
    assert len(assignments) == 2 and all(assignments), group
    assert sorted(assignments[0] + assignments[1]) == list(range(settings.KAFKA_WALLET_EVENTS_PARTITIONS)), group
    wait_until(lambda: Notification.objects.count() == rounds * len(users), timeout_s=60, what="every notification")
    # One more round, behind the others in every partition: once it is notified, anything
    # read twice around the rebalance has been handled.
    for u in users:
        services.wallet_charge(user_id=u.id, amount=1_000, payment_key="pk", order_id=new_order_id())
    total = (rounds + 1) * len(users)
    wait_until(lambda: Notification.objects.count() == total, timeout_s=60, what="the last round's notifications")
    assert Notification.objects.count() == ProcessedEvent.objects.count() == total
    assert handled_by["one"] > 0 and handled_by["two"] > 0


def test_consumer_stops_cleanly_on_sigterm(platform):
    wait_until(lambda: "consuming" in platform.consumer.log(), timeout_s=30, what="the consumer to start")
    assert platform.consumer.stop(timeout_s=30) == 0
    assert "closed" in platform.consumer.log()


def test_pushpin_down_loses_nothing_and_a_reconnecting_client_reads_what_it_missed(platform, user):
    live = stream(platform, user)
    try:
        services.wallet_charge(user_id=user.id, amount=1_000, payment_key="pk", order_id=new_order_id())
        (first,) = live.wait_for_notifications(1)
    finally:
        live.close()
    resume_from = live.last_event_id

    platform.pushpin.stop()
    try:
        # Meanwhile an operation: its notification is stored, its publish fails, the consumer goes on.
        services.wallet_charge(user_id=user.id, amount=2_000, payment_key="pk", order_id=new_order_id())
        wait_until(lambda: Notification.objects.filter(user=user).count() == 2, timeout_s=60,
                   what="the notification made while Pushpin was down")
        wait_until(lambda: "not published" in platform.consumer.log(), timeout_s=30, what="the failed publish")
        assert platform.consumer.alive()
        assert Notification.objects.get(user=user, balance=3_000).pushed_at is None
    finally:
        platform.pushpin.start()

    # The browser reconnects with Last-Event-ID and reads the missed one from storage; the next arrives live.
    resumed = SSEClient(f"{platform.base_url}/events/", cookies=session_cookies(user),
                        last_event_id=resume_from).start()
    try:
        resumed.wait_for_notifications(1)
        services.wallet_charge(user_id=user.id, amount=3_000, payment_key="pk", order_id=new_order_id())
        notes = resumed.wait_for_notifications(2)
        assert [n["balance"] for n in [first, *notes]] == [1_000, 3_000, 6_000]
        assert not DeadLetter.objects.exists()
    finally:
        resumed.close()


def test_two_pushpins_each_reach_their_clients(platform, user, pushpin):
    from tests.support import Pushpin

    other = Pushpin("test-pushpin-2", port=free_port(), origin_port=settings.TEST_WEB_PORT,
                    port_offset=settings.TEST_PUSHPIN_PORT_OFFSET + 100).start()
    try:
        # The consumer publishes to both (GRIP_CONTROL_URLS); a browser is on each.
        platform.consumer.stop()
        platform.start_consumer("consumer-two-pushpins",
                                GRIP_CONTROL_URLS=f"{pushpin.control_url},{other.control_url}")
        position = sse_stream_position(user_id=user.id)
        on_first = SSEClient(f"{pushpin.base_url}/events/", cookies=session_cookies(user),
                             last_event_id=position).start()
        on_second = SSEClient(f"{other.base_url}/events/", cookies=session_cookies(user),
                              last_event_id=position).start()
        try:
            services.wallet_charge(user_id=user.id, amount=5_000, payment_key="pk", order_id=new_order_id())
            for client in (on_first, on_second):
                (note,) = client.wait_for_notifications(1)
                assert note["message"] == "₩5,000가 충전되었습니다. 현재 잔액: ₩5,000"
            # Both took the publish; it is recorded once the publish has returned, which may be after the
            # browsers have the event (they are that fast).
            wait_until(lambda: Notification.objects.get(user=user).pushed_at is not None, timeout_s=10,
                       what="the publish to be recorded")
        finally:
            on_first.close()
            on_second.close()
    finally:
        other.stop()


def test_publishes_in_quick_succession_are_delivered_while_they_flow(platform, user):
    # Pushpin's delivery limiter (message_rate) restarts its batch timer on every publish:
    # with publishes closer together than its 25 ms batch, nothing was delivered until they
    # paused (seconds at 100 events/s). deploy/pushpin/pushpin.conf leaves it unset.
    from notifications import sse as sse_module

    client = stream(platform, user)
    try:
        delivered_while_publishing = 0
        for n in range(400):
            (seq,) = sse_module.sse_events_store([(user.id, {"eventId": str(uuid.uuid4()), "n": n})])
            assert sse_module.sse_events_publish([(user.id, seq, json.dumps({"eventId": str(uuid.uuid4()), "n": n}))])
            delivered_while_publishing = len(client.notifications())
            if delivered_while_publishing >= 10:
                break
        assert delivered_while_publishing >= 10, "deliveries waited for the publishes to pause"
        assert [note["n"] for note in client.wait_for_notifications(n + 1)] == list(range(n + 1))  # in order, once
    finally:
        client.close()


def _produce(event: dict) -> None:
    producer = KafkaProducer(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, acks="all")
    producer.send(settings.KAFKA_TOPIC_WALLET_EVENTS, key=str(event["userId"]).encode(),
                  value=json.dumps(event).encode(),
                  headers=kafka_headers_encode(event_headers(event_id=event["eventId"],
                                                             event_type=event["eventType"]))).get(30)
    producer.close()


def test_a_database_outage_parks_nothing_its_records_wait_and_are_notified_after_it(process_factory, user,
                                                                                    kafka_tail):
    """The DLT is for records that fail, not for an outage: a consumer without its database waits, however
    long, spending none of a record's retries; the record is notified once the database is back."""
    from tests.support import kafka_group_skip_to_end

    for topic, group_id in ((settings.KAFKA_TOPIC_WALLET_EVENTS, settings.NOTIFICATIONS_CONSUMER_GROUP),
                            (settings.KAFKA_TOPIC_WALLET_EVENTS_DLT, settings.NOTIFICATIONS_DLT_STORE_GROUP)):
        kafka_group_skip_to_end(topic=topic, group_id=group_id)
    dlt = kafka_tail(settings.KAFKA_TOPIC_WALLET_EVENTS_DLT)
    # The database is down: nothing listens at its address.
    cut_off = process_factory("consumer-without-database", [sys.executable, "manage.py", "run_consumer"],
                              DATABASE_URL=f"postgres://prepaid@127.0.0.1:{free_port()}/prepaid")
    event = {
        "schemaVersion": 1, "eventId": str(uuid.uuid4()), "eventType": "CHARGE_COMPLETED", "userId": user.id,
        "occurredAt": "2026-11-29T10:00:00+09:00", "metadata": {"transactionId": str(uuid.uuid4()),
                                                                 "currency": "KRW"},
        "amount": 10_000, "newBalance": 10_000, "paymentKey": "pk_outage", "orderId": "order-outage",
    }
    _produce(event)
    # Longer than a record's retries (3, 1 s apart) would have lasted before parking it.
    retries = settings.NOTIFICATIONS_CONSUMER_RETRIES
    wait_until(lambda: cut_off.log().count("the database is unavailable") > retries + 2, timeout_s=60,
               what="the consumer to wait for its database")
    try:
        assert cut_off.alive()
        assert "to the DLT" not in cut_off.log()
    finally:
        assert cut_off.stop() == 0  # and it stops cleanly, the record not committed
    assert not dlt.consumer.poll(timeout_ms=3000), "a record was parked on the DLT"

    healthy = process_factory("consumer", [sys.executable, "manage.py", "run_consumer"])
    try:
        wait_until(lambda: Notification.objects.filter(event_id=event["eventId"]).count() == 1, timeout_s=60,
                   what="the waiting record's notification, once the database is back")
        assert DeadLetter.objects.count() == 0
    finally:
        healthy.stop()  # it leaves the group: the next test's platform starts with its own


def test_a_consumer_started_while_kafka_is_unreachable_waits_for_it_instead_of_exiting(process_factory):
    """Started before the broker (a reboot, a deploy, a broker restart), run_consumer waits and says so;
    it used to exit with KafkaTimeoutError, taking ``make run`` (honcho) down with it."""
    consumer = process_factory("consumer-without-kafka", [sys.executable, "manage.py", "run_consumer"],
                               KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{free_port()}")
    try:
        wait_until(lambda: "Kafka is unreachable" in consumer.log(), timeout_s=90,
                   what="the consumer to report the broker unreachable")
        assert consumer.alive(), consumer.log()[-3000:]
    finally:
        assert consumer.stop() == 0

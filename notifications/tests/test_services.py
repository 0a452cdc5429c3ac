"""Notification texts, dedup, DLT bookkeeping and SSE access, without the running platform."""

import json
import uuid

import pytest
import redis
from django.conf import settings
from django.test import Client

from notifications import services, sse
from notifications.models import DeadLetter, Notification, ProcessedEvent
from notifications.texts import render, won
from tests.support import free_port
from wallets import services as wallet_services
from wallets.tests.helpers import new_order_id

pytestmark = pytest.mark.django_db


def event_for(user_id, **overrides):
    event = {
        "schemaVersion": 1, "eventId": str(uuid.uuid4()), "eventType": "CHARGE_COMPLETED", "userId": user_id,
        "occurredAt": "2026-01-20T10:00:00+09:00",
        "metadata": {"transactionId": str(uuid.uuid4()), "currency": "KRW"},
        "amount": 10_000, "newBalance": 50_000, "paymentKey": "pk", "orderId": "order-123456",
    }
    return {**event, **overrides}


def test_texts_follow_the_design_note():
    assert won(10_000) == "₩10,000"
    charge = render(event_for(1))
    assert (charge.title, charge.message, charge.type) == ("충전 완료", "₩10,000가 충전되었습니다. 현재 잔액: ₩50,000",
                                                           "success")
    spend = render({"eventType": "SPEND_COMPLETED", "amount": 3_000, "newBalance": 47_000, "description": "커피"})
    assert (spend.title, spend.message) == ("사용 완료", "₩3,000가 사용되었습니다 (커피). 현재 잔액: ₩47,000")
    reversal = render({"eventType": "REVERSAL_COMPLETED", "reversedAmount": 1_234_567, "newBalance": 1_300_000,
                       "reason": ""})
    assert (reversal.title, reversal.message) == ("취소 완료",
                                                  "₩1,234,567가 취소되었습니다. 현재 잔액: ₩1,300,000")


def test_the_events_the_write_path_produces_render(user):
    wallet_services.wallet_charge(user_id=user.id, amount=5_000, payment_key="pk", order_id=new_order_id())
    from outbox.models import OutboxEvent

    event = OutboxEvent.objects.get().payload
    parsed = services.wallet_event_parse(key=str(user.id).encode(), value=json.dumps(event).encode())
    assert render(parsed).message == "₩5,000가 충전되었습니다. 현재 잔액: ₩5,000"


@pytest.mark.parametrize("value", [b"{oops", b"[1, 2]", json.dumps({"eventType": "CHARGE_COMPLETED"}).encode(),
                                   json.dumps({**event_for(1), "eventType": "GIFT_COMPLETED"}).encode()])
def test_malformed_records_are_poison(value):
    with pytest.raises(services.PoisonRecord):
        services.wallet_event_parse(key=b"1", value=value)


def test_a_record_keyed_to_another_user_is_poison():
    with pytest.raises(services.PoisonRecord, match="key"):
        services.wallet_event_parse(key=b"2", value=json.dumps(event_for(1)).encode())


def test_an_event_makes_one_notification_however_often_it_arrives(user):
    pubsub = redis.Redis(**settings.EVENTSTREAM_REDIS).pubsub()
    pubsub.subscribe(sse.LIBRARY_REDIS_CHANNEL)
    pubsub.get_message(timeout=1)
    event = event_for(user.id)
    first = services.notification_from_event(event=event)
    again = services.notification_from_event(event=event)
    assert (first.outcome, again.outcome) == ("notified", "duplicate")
    assert Notification.objects.count() == ProcessedEvent.objects.count() == 1
    notification = Notification.objects.get()
    assert notification.pushed_at is not None
    assert notification.sse_event_id is not None
    # The pub/sub channel is shared by every environment on this Redis: keep only this user's messages.
    mine = [m for m in _drain(pubsub, seconds=2) if m["channel"] == sse.user_channel(user.id)]
    assert len(mine) == 1  # the duplicate was not pushed again
    assert json.loads(mine[0]["data"])["eventId"] == event["eventId"]


def _drain(pubsub, *, seconds: float) -> list[dict]:
    import time

    messages, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.2)
        if message and message["type"] == "message":
            messages.append(json.loads(message["data"]))
    return messages


def test_a_failed_push_is_pushed_on_redelivery(user, monkeypatch):
    from django_eventstream import eventstream

    event = event_for(user.id)
    # The publishing client pointed at a port where no Redis listens: a real connection failure.
    monkeypatch.setattr(eventstream, "redis_client", redis.Redis(port=free_port(), socket_connect_timeout=1))
    with pytest.raises(redis.ConnectionError):
        services.notification_from_event(event=event)
    assert Notification.objects.get().pushed_at is None
    monkeypatch.undo()
    assert services.notification_from_event(event=event).outcome == "duplicate"
    assert Notification.objects.get().pushed_at is not None


def test_a_batch_is_stored_in_one_transaction_and_pushed_once_in_order(user_factory):
    alice, bob = user_factory(), user_factory()
    pubsub = redis.Redis(**settings.EVENTSTREAM_REDIS).pubsub()
    pubsub.subscribe(sse.LIBRARY_REDIS_CHANNEL)
    pubsub.get_message(timeout=1)
    a1, b1, a2 = event_for(alice.id, newBalance=1), event_for(bob.id, newBalance=2), event_for(alice.id, newBalance=3)
    results = services.notifications_from_events(events=[a1, b1, a2, a1])  # a1 twice: a redelivery in one batch
    assert [r.outcome for r in results] == ["notified", "notified", "notified", "duplicate"]
    assert Notification.objects.count() == ProcessedEvent.objects.count() == 3
    assert not Notification.objects.filter(pushed_at=None).exists()
    ours = {sse.user_channel(alice.id), sse.user_channel(bob.id)}
    pushed = [(m["channel"], json.loads(m["data"])["eventId"], int(m["pub_id"]))
              for m in _drain(pubsub, seconds=2) if m["channel"] in ours]
    assert [(c, e) for c, e, _ in pushed] == [(sse.user_channel(alice.id), a1["eventId"]),
                                              (sse.user_channel(bob.id), b1["eventId"]),
                                              (sse.user_channel(alice.id), a2["eventId"])]
    assert pushed[0][2] < pushed[2][2]  # a user's stored ids follow the batch's order


@pytest.mark.django_db(transaction=True)
def test_a_batch_that_fails_stores_nothing_and_its_records_are_handled_one_by_one(user, settings):
    import threading

    from kafka import TopicPartition
    from kafka.consumer.fetcher import ConsumerRecord

    from notifications.consumer import WalletEventConsumer

    settings.CONSUMER_RETRY_INTERVAL_MS = 10
    good, orphan = event_for(user.id, newBalance=1), event_for(user.id + 10_000)  # no such user: FK violation
    events = [good, orphan]
    with pytest.raises(Exception, match="foreign key"):
        services.notifications_from_events(events=events)
    assert not Notification.objects.exists() and not ProcessedEvent.objects.exists()

    records = [ConsumerRecord(topic=settings.KAFKA_TOPIC_WALLET_EVENTS, partition=0, leader_epoch=None, offset=i,
                              timestamp=0, timestamp_type=0, key=str(e["userId"]).encode(),
                              value=json.dumps(e).encode(), headers=[], checksum=None, serialized_key_size=-1,
                              serialized_value_size=-1, serialized_header_size=-1)
               for i, e in enumerate(events)]
    consumer = WalletEventConsumer(threading.Event())
    tp = TopicPartition(settings.KAFKA_TOPIC_WALLET_EVENTS, 0)
    assert consumer.handle_polled({tp: records}) == {tp: 2}  # the good one stored, the orphan retried, then parked
    assert list(Notification.objects.values_list("event_id", flat=True)) == [uuid.UUID(good["eventId"])]


def test_dead_letters_are_stored_once_per_dlt_position():
    headers = [(services.DLT_ORIGINAL_TOPIC, b"wallet-events"), (services.DLT_ORIGINAL_PARTITION, b"3"),
               (services.DLT_ORIGINAL_OFFSET, b"42"), (services.DLT_EXCEPTION_FQCN, b"x.Boom"),
               (services.DLT_EXCEPTION_MESSAGE, b"boom"), (services.DLT_ATTEMPTS, b"4"),
               (services.DLT_FAILED_AT, b"2026-11-29T00:00:00+00:00"), ("eventId", b"e-1")]
    for _ in range(2):
        services.dead_letter_store(topic="wallet-events.DLT", partition=0, offset=7, key=b"1", value=b"{}",
                                   headers=headers)
    letter = DeadLetter.objects.get()
    assert (letter.original_partition, letter.original_offset, letter.attempts) == (3, 42, 4)
    assert (letter.exception_type, letter.exception_message) == ("x.Boom", "boom")
    assert letter.headers["eventId"] == "e-1"


def test_sse_refusals_are_http_errors(client, user_factory):
    alice, bob = user_factory(), user_factory()
    assert Client().get("/events/").status_code == 401
    client.force_login(alice)
    response = client.get(f"/events/?channel={sse.user_channel(bob.id)}")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert Client().get("/events/?es-meta=not-a-token").status_code == 401


def test_stream_tokens_expire_and_name_their_user(api, user, settings):
    grant = api.post("/api/v1/notifications/stream-token").json()
    assert sse.sse_stream_token_user_id(grant["token"]) == user.id
    assert grant["expiresInSeconds"] == settings.SSE_TOKEN_MAX_AGE_S
    assert "lastEventId=" in grant["url"]
    settings.SSE_TOKEN_MAX_AGE_S = -10
    expired, _ = sse.sse_stream_token(user_id=user.id)
    assert sse.sse_stream_token_user_id(expired) is None
    assert Client().get(f"/events/?es-meta={expired}").status_code == 401


def test_channel_manager_lets_users_read_only_their_channel(user_factory):
    alice, bob = user_factory(), user_factory()
    manager = sse.UserChannelManager()
    assert manager.can_read_channel(alice, sse.user_channel(alice.id))
    assert not manager.can_read_channel(alice, sse.user_channel(bob.id))
    assert not manager.can_read_channel(None, sse.user_channel(alice.id))


def test_notifications_list_api(api, user):
    services.notification_from_event(event=event_for(user.id))
    body = api.get("/api/v1/notifications").json()
    assert [n["title"] for n in body["results"]] == ["충전 완료"]


def test_the_sse_redis_listener_reconnects_and_makes_streams_reread_storage(monkeypatch, settings):
    """django-eventstream 5.3's listener dies with its connection; ours reconnects and rescans."""
    import asyncio

    from django_eventstream import views as eventstream_views

    settings.SSE_REDIS_RECONNECT_MAX_S = 0
    starts = []

    class FlakyListener:
        async def start(self):
            starts.append(1)
            if len(starts) < 3:
                raise ConnectionError("connection reset")
            raise asyncio.CancelledError  # ends the test's loop

    monkeypatch.setattr(eventstream_views, "RedisListener", FlakyListener)
    monkeypatch.setattr(asyncio, "sleep", _no_sleep)
    manager = eventstream_views.ListenerManager.__new__(eventstream_views.ListenerManager)
    manager.lock = __import__("threading").Lock()
    listener = eventstream_views.Listener()
    woken = []
    listener.loop = object()
    listener.wake_threadsafe = lambda: woken.append(1)
    manager.listeners_by_channel = {"test-user-1": {listener}}
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(eventstream_views.ListenerManager.start_redis_listener(manager))
    assert len(starts) == 3
    assert listener.overflow is True  # the stream re-reads storage from its last id
    assert len(woken) == 2


async def _no_sleep(_seconds):
    return None


def test_old_dedup_rows_are_purged_in_batches(user):
    from datetime import timedelta

    from django.utils import timezone

    for _ in range(3):
        services.notification_from_event(event=event_for(user.id))
    old = list(ProcessedEvent.objects.values_list("id", flat=True)[:2])
    ProcessedEvent.objects.filter(id__in=old).update(processed_at=timezone.now() - timedelta(days=31))
    assert services.processed_events_purge(batch_size=1) == 2
    assert ProcessedEvent.objects.count() == 1


def test_stored_sse_events_number_each_channel_from_one_and_resume_from_any_id(user_factory):
    from django_eventstream.storage import EventDoesNotExist
    from django_eventstream.utils import get_storage

    alice, bob = user_factory(), user_factory()
    storage = get_storage()
    channel = sse.user_channel(alice.id)
    ids = [sse.sse_event_store(user_id=alice.id, data={"n": n}) for n in range(3)]
    assert ids == [1, 2, 3]
    assert sse.sse_event_store(user_id=bob.id, data={"n": 0}) == 1  # channels count separately
    assert storage.get_current_id(channel) == 3
    assert [json.loads(e.data)["n"] for e in storage.get_events(channel, 0)] == [0, 1, 2]  # from the start
    assert [json.loads(e.data)["n"] for e in storage.get_events(channel, 2)] == [2]
    with pytest.raises(EventDoesNotExist):
        storage.get_events(channel, 99)


def test_old_stored_sse_events_are_trimmed(user, settings):
    from datetime import timedelta

    from django.utils import timezone
    from django_eventstream.models import Event as StoredEvent

    sse.sse_event_store(user_id=user.id, data={"n": 1})
    StoredEvent.objects.update(created=timezone.now() - timedelta(seconds=settings.SSE_EVENT_RETENTION_S + 1))
    sse.sse_event_store(user_id=user.id, data={"n": 2})
    assert services.sse_events_trim() == 2  # the placeholder and the old event
    assert StoredEvent.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_sse_reads_do_not_keep_a_database_connection(user):
    """An SSE stream lives for minutes; its reads must not pin a connection each."""
    from django.db import connection
    from django_eventstream.utils import get_storage

    get_storage().get_current_id(sse.user_channel(user.id))
    assert connection.connection is None
    get_storage().get_events(sse.user_channel(user.id), 0)
    assert connection.connection is None


def test_each_web_process_delivers_an_event_id_once_per_channel_and_forgets_the_oldest_channels(settings):
    import threading

    from django_eventstream.event import Event
    from django_eventstream.views import Listener, ListenerManager

    settings.SSE_DEDUP_MAX_CHANNELS = 2
    manager = ListenerManager.__new__(ListenerManager)
    manager.lock = threading.Lock()
    listener = Listener()
    listener.wake_threadsafe = lambda: None
    manager.listeners_by_channel = {"c1": {listener}, "c2": {listener}, "c3": {listener}}

    def deliver(channel, event_id):
        manager.add_to_queues(channel, Event(channel, "notification", "{}", id=str(event_id)))

    for channel, event_id in [("c1", 1), ("c1", 2), ("c1", 2), ("c1", 1), ("c2", 1), ("c1", 3)]:
        deliver(channel, event_id)
    assert [e.id for e in listener.channel_items["c1"]] == ["1", "2", "3"]
    assert [e.id for e in listener.channel_items["c2"]] == ["1"]
    deliver("c3", 1)  # c2 is now the least recently used channel: forgotten
    deliver("c1", 3)
    deliver("c2", 1)
    assert [e.id for e in listener.channel_items["c1"]] == ["1", "2", "3"]
    assert [e.id for e in listener.channel_items["c2"]] == ["1", "1"]

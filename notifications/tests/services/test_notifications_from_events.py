"""Events become notifications once, stored in one transaction per batch, pushed after commit."""

import json
import uuid

import pytest
import redis
from django.conf import settings

from notifications import services, sse
from notifications.models import Notification, ProcessedEvent
from tests.helpers import wallet_event
from tests.support import free_port

pytestmark = pytest.mark.django_db


def _drain(pubsub, *, seconds: float) -> list[dict]:
    import time

    messages, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.2)
        if message and message["type"] == "message":
            messages.append(json.loads(message["data"]))
    return messages


def test_an_event_makes_one_notification_however_often_it_arrives(user):
    pubsub = redis.Redis(**settings.EVENTSTREAM_REDIS).pubsub()
    pubsub.subscribe(sse.LIBRARY_REDIS_CHANNEL)
    pubsub.get_message(timeout=1)
    event = wallet_event(user.id)
    first = services.notification_from_event(event=event)
    again = services.notification_from_event(event=event)
    assert (first.outcome, again.outcome) == ("notified", "duplicate")
    assert Notification.objects.count() == ProcessedEvent.objects.count() == 1
    notification = Notification.objects.get()
    assert notification.pushed_at is not None
    assert notification.stream_seq is not None
    # The pub/sub channel is shared by every environment on this Redis: keep only this user's messages.
    mine = [m for m in _drain(pubsub, seconds=2) if m["channel"] == sse.user_channel(user.id)]
    assert len(mine) == 1  # the duplicate was not pushed again
    assert json.loads(mine[0]["data"])["eventId"] == event["eventId"]


def test_a_failed_push_is_pushed_on_redelivery(user, monkeypatch):
    from django_eventstream import eventstream

    event = wallet_event(user.id)
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
    a1, b1 = wallet_event(alice.id, newBalance=1), wallet_event(bob.id, newBalance=2)
    a2 = wallet_event(alice.id, newBalance=3)
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

    settings.NOTIFICATIONS_CONSUMER_RETRY_INTERVAL_MS = 10
    good, orphan = wallet_event(user.id, newBalance=1), wallet_event(user.id + 10_000)  # no such user: FK violation
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

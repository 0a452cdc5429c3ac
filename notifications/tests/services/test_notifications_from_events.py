"""Events become notifications once, stored in one transaction per batch, pushed after commit."""

import json
import uuid

import pytest

from notifications import services
from notifications.models import Notification, ProcessedEvent
from tests.helpers import wallet_event
from tests.support import free_port

pytestmark = pytest.mark.django_db


def test_an_event_makes_one_notification_however_often_it_arrives(user, pushpin):
    event = wallet_event(user.id)
    first = services.notification_from_event(event=event)
    notification = Notification.objects.get()
    again = services.notification_from_event(event=event)
    assert (first.outcome, again.outcome) == ("notified", "duplicate")
    assert Notification.objects.count() == ProcessedEvent.objects.count() == 1
    assert notification.pushed_at is not None  # Pushpin took it
    assert notification.stream_seq == 1
    # The duplicate was not pushed again: its push time is the first one's.
    assert Notification.objects.get().pushed_at == notification.pushed_at


def test_a_failed_push_is_pushed_on_redelivery(user, settings, pushpin):
    event = wallet_event(user.id)
    working = settings.GRIP_PROXIES
    settings.GRIP_PROXIES = [{"control_uri": f"http://127.0.0.1:{free_port()}", "key": "k"}]  # nothing listens
    assert services.notification_from_event(event=event).outcome == "notified"  # stored; the push failed
    assert Notification.objects.get().pushed_at is None
    settings.GRIP_PROXIES = working
    assert services.notification_from_event(event=event).outcome == "duplicate"
    assert Notification.objects.get().pushed_at is not None


def test_a_batch_is_stored_in_one_transaction_and_pushed_once_in_order(user_factory, pushpin):
    alice, bob = user_factory(), user_factory()
    a1, b1 = wallet_event(alice.id, newBalance=1), wallet_event(bob.id, newBalance=2)
    a2 = wallet_event(alice.id, newBalance=3)
    results = services.notifications_from_events(events=[a1, b1, a2, a1])  # a1 twice: a redelivery in one batch
    assert [r.outcome for r in results] == ["notified", "notified", "notified", "duplicate"]
    assert Notification.objects.count() == ProcessedEvent.objects.count() == 3
    assert not Notification.objects.filter(pushed_at=None).exists()
    # Each user's stream numbers their events in the batch's order (what Pushpin orders them by).
    seqs = {n.event_id: n.stream_seq for n in Notification.objects.all()}
    assert [seqs[uuid.UUID(e["eventId"])] for e in (a1, b1, a2)] == [1, 1, 2]


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


def test_a_transfer_notifies_its_sender_and_its_recipient_each_in_their_words(user_factory, pushpin):
    """The events a transfer writes (one per side, keyed by each user) make one notification each."""
    from outbox.models import OutboxEvent
    from prepaid.events import event_parse
    from tests.helpers import charge
    from wallets import services as wallet_services

    sender, recipient = user_factory(), user_factory()
    charge(sender, 10_000)
    wallet_services.wallet_transfer(user_id=sender.id, to=recipient.username, amount=4_000, message="밥값")
    for row in OutboxEvent.objects.order_by("id"):
        event = event_parse(key=row.key.encode(), value=json.dumps(row.event).encode())
        assert services.notification_from_event(event=event).outcome == "notified"
    sent = Notification.objects.get(user=sender, event_type="TRANSFER_SENT")
    received = Notification.objects.get(user=recipient, event_type="TRANSFER_RECEIVED")
    assert (sent.title, sent.message) == ("송금 완료", f"{recipient.username}님에게 ₩4,000을 보냈습니다 (밥값). "
                                                     "현재 잔액: ₩6,000")
    assert (received.title, received.message) == ("입금", f"{sender.username}님에게서 ₩4,000을 받았습니다 (밥값). "
                                                          "현재 잔액: ₩4,000")

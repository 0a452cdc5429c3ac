"""SSE channels, storage and delivery (django-eventstream and what we add to it)."""

import json

import pytest

from notifications import sse

pytestmark = pytest.mark.django_db


async def _no_sleep(_seconds):
    return None


def test_channel_manager_lets_users_read_only_their_channel(user_factory):
    alice, bob = user_factory(), user_factory()
    manager = sse.UserChannelManager()
    assert manager.can_read_channel(alice, sse.user_channel(alice.id))
    assert not manager.can_read_channel(alice, sse.user_channel(bob.id))
    assert not manager.can_read_channel(None, sse.user_channel(alice.id))


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


def test_stored_sse_events_number_each_channel_from_one_and_resume_from_any_id(user_factory):
    from django_eventstream.storage import EventDoesNotExist
    from django_eventstream.utils import get_storage

    alice, bob = user_factory(), user_factory()
    storage = get_storage()
    channel = sse.user_channel(alice.id)
    ids = sse.sse_events_store([(alice.id, {"n": 0}), (alice.id, {"n": 1})]) + sse.sse_events_store(
        [(alice.id, {"n": 2})])
    assert ids == [1, 2, 3]
    assert sse.sse_events_store([(bob.id, {"n": 0})]) == [1]  # channels count separately
    # One statement for many channels: each channel's events numbered in the order given.
    assert sse.sse_events_store([(alice.id, {"n": 3}), (bob.id, {"n": 1}), (alice.id, {"n": 4})]) == [4, 2, 5]
    assert storage.get_current_id(channel) == 5
    assert [json.loads(e.data)["n"] for e in storage.get_events(channel, 0)] == [0, 1, 2, 3, 4]  # from the start
    assert [json.loads(e.data)["n"] for e in storage.get_events(channel, 4)] == [4]
    with pytest.raises(EventDoesNotExist):
        storage.get_events(channel, 99)


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

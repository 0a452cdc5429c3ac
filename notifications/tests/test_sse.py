"""SSE channels, storage, publishing to Pushpin, stream tokens."""

import json

import jwt
import pytest

from notifications import sse
from tests.support import free_port

pytestmark = pytest.mark.django_db


def test_channel_manager_lets_users_read_only_their_channel(user_factory):
    alice, bob = user_factory(), user_factory()
    manager = sse.UserChannelManager()
    assert manager.can_read_channel(alice, sse.user_channel(alice.id))
    assert not manager.can_read_channel(alice, sse.user_channel(bob.id))
    assert not manager.can_read_channel(None, sse.user_channel(alice.id))


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


def test_publishing_reaches_every_pushpin_and_reports_one_that_does_not_answer(settings, pushpin, caplog):
    events = [(7, 1, json.dumps({"n": 1})), (7, 2, json.dumps({"n": 2})), (8, 1, json.dumps({"n": 1}))]
    assert sse.sse_events_publish(events) is True
    settings.GRIP_PROXIES = [*settings.GRIP_PROXIES, {"control_uri": f"http://127.0.0.1:{free_port()}", "key": "k"}]
    assert sse.sse_events_publish(events) is False  # taken by the one, not the other: not raised
    assert "not published" in caplog.text


def test_published_items_carry_their_id_the_previous_one_and_the_librarys_channel():
    (item,) = [sse._publish_item(7, 3, json.dumps({"message": "100% 완료"}))]
    assert (item["channel"], item["id"], item["prev-id"]) == (f"events-{sse.user_channel(7)}", "3", "2")
    stream = item["http-stream"]
    assert stream["content-filters"] == ["build-id"]  # Pushpin writes each subscriber's full SSE id
    assert stream["content"] == 'event: notification\nid: %I\ndata: {"message": "100%% \\uc644\\ub8cc"}\n\n'


def test_stream_tokens_are_the_librarys_es_meta(user):
    token, _ = sse.sse_stream_token(user_id=user.id)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (claims["iss"], claims["user"], claims["channels"]) == ("es", str(user.id), [sse.user_channel(user.id)])
    assert sse.sse_stream_token_user_id(token) == user.id
    forged = jwt.encode({"user": str(user.id), "exp": 2**31}, "another-key-of-at-least-thirty-two-bytes")
    assert sse.sse_stream_token_user_id(forged) is None


def test_a_channel_name_proves_whose_it_is(user_factory):
    alice, bob = user_factory(), user_factory()
    channel = sse.user_channel(alice.id)
    assert sse.channel_user_id(channel) == alice.id
    assert sse.channel_user_id(channel.replace(f"user-{alice.id}-", f"user-{bob.id}-")) is None  # a MAC is per user
    assert sse.channel_user_id(f"user-{alice.id}") is None
    assert sse.channel_user_id("events-x") is None

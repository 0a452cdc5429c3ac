"""Server-Sent Events through django-eventstream: channels, access, delivery.

- One channel per user, ``<SSE_CHANNEL_PREFIX>user-<id>``; a user reads only
  their own (``UserChannelManager``; the library's default lets anyone read any
  channel).
- Events are stored (``EventStorage``: the library's PostgreSQL tables, appended
  a poll's events in one statement) in the consumer's transaction, then published on Redis
  pub/sub after commit; every web process
  delivers them to its connected clients. A client that reconnects with
  ``Last-Event-ID`` gets what it missed from storage.
- Ids: each channel numbers its events 1, 2, ... (``stream_seq``); the SSE
  ``id:`` a browser sees and sends back as ``Last-Event-ID`` is
  ``<channel>:<stream_seq>`` (the "stream position"). Neither is the wallet
  event's ``eventId``, which travels inside the data.
- Gaps of django-eventstream 5.3 handled here: its Redis listener never
  reconnects (patched: it reconnects with back-off and makes clients re-read
  storage, so nothing published meanwhile is missed); its Redis pub/sub channel
  name is fixed (channel names carry an environment prefix); a first connect
  without an id has no backlog (the page renders the current stream position);
  its storage holds a database connection per open stream (ours hands it back
  after each read) and trims on every append (ours trims from a periodic task);
  it delivers an event published twice twice (ours delivers a stream_seq once
  per channel and process).
"""

import asyncio
import json
import logging
import time
from collections import OrderedDict

import jwt
from django.conf import settings
from django.db import connection
from django_eventstream import get_current_event_id
from django_eventstream import views as eventstream_views
from django_eventstream.channelmanager import ChannelManagerBase
from django_eventstream.event import Event
from django_eventstream.storage import DjangoModelStorage

logger = logging.getLogger(__name__)

EVENT_TYPE = "notification"
# The pub/sub channel and message shape django-eventstream's RedisListener reads.
LIBRARY_REDIS_CHANNEL = "events_channel"


def user_channel(user_id: int) -> str:
    return f"{settings.SSE_CHANNEL_PREFIX}user-{user_id}"


class EventStorage(DjangoModelStorage):
    """django-eventstream's PostgreSQL storage, read by the library's views.

    The platform appends with ``sse_events_store`` (a batch in one statement), not
    through the library's ``send_event`` (six round trips per event and a trim on
    every append); old events are trimmed by a periodic task (``sse_events_trim``).
    """

    # Reads come from the web process's SSE streams, which live for minutes: hand the
    # connection back after each read instead of holding one per connected client.
    def get_events(self, channel, last_id, limit=100):
        try:
            return super().get_events(channel, last_id, limit=limit)
        finally:
            _release_connection()

    def get_current_id(self, channel):
        try:
            return super().get_current_id(channel)
        finally:
            _release_connection()


def _release_connection() -> None:
    if not connection.in_atomic_block:
        connection.close()


class UserChannelManager(ChannelManagerBase):
    def get_channels_for_request(self, request, view_kwargs):
        requested = set(request.GET.getlist("channel"))
        if requested:
            return requested  # each checked by can_read_channel
        user = getattr(request, "user", None)
        return {user_channel(user.pk)} if user is not None and user.is_authenticated else set()

    def can_read_channel(self, user, channel):
        return user is not None and channel == user_channel(user.pk)

    def is_channel_reliable(self, channel):
        return True


# Many events, many channels, one statement: bump each channel's counter by its number
# of events (the row lock orders a channel's events), add the id-0 placeholder on a
# channel's first events, add the events numbered in input order.
APPEND_MANY_SQL = """
WITH input AS (
  SELECT channel, data, ord
  FROM unnest(%(channels)s::text[], %(datas)s::text[]) WITH ORDINALITY AS t(channel, data, ord)
), counts AS (
  SELECT channel, count(*) AS n FROM input GROUP BY channel ORDER BY channel
), counters AS (
  INSERT INTO django_eventstream_eventcounter (name, value, updated)
  SELECT channel, n, now() FROM counts
  ON CONFLICT (name) DO UPDATE SET value = django_eventstream_eventcounter.value + EXCLUDED.value, updated = now()
  RETURNING name, value
), numbered AS (
  SELECT i.channel, i.data, c.value - k.n + row_number() OVER (PARTITION BY i.channel ORDER BY i.ord) AS eid,
         c.value = k.n AS first_events
  FROM input i JOIN counters c ON c.name = i.channel JOIN counts k ON k.channel = i.channel
), placeholders AS (
  INSERT INTO django_eventstream_event (channel, type, data, eid, created)
  SELECT DISTINCT channel, '', '', 0, now() FROM numbered WHERE first_events
  ON CONFLICT (channel, eid) DO NOTHING
)
INSERT INTO django_eventstream_event (channel, type, data, eid, created)
SELECT channel, %(type)s, data, eid, now() FROM numbered
RETURNING channel, eid
"""


def sse_events_store(events: list[tuple[int, dict]]) -> list[int]:
    """Store events (user id, data) on their users' channels, in one statement, in the caller's
    transaction; return their stream_seq, in the order given (a channel's in increasing order)."""
    if not events:
        return []
    channels = [user_channel(user_id) for user_id, _ in events]
    with connection.cursor() as cursor:
        cursor.execute(APPEND_MANY_SQL, {
            "channels": channels, "type": EVENT_TYPE,
            # Stored as the library stores what send_event is given: the JSON text, JSON-encoded.
            "datas": [json.dumps(json.dumps(data, ensure_ascii=False)) for _, data in events],
        })
        assigned: dict[str, list[int]] = {}
        for channel, eid in cursor.fetchall():
            assigned.setdefault(channel, []).append(eid)
    for seqs in assigned.values():
        seqs.sort(reverse=True)
    return [assigned[channel].pop() for channel in channels]


def sse_events_publish(events: list[tuple[int, int, str]]) -> None:
    """Wake the web processes' listeners for stored events (after commit): (user id, stream_seq, encoded data).

    One round trip to Redis however many events. Raises if Redis fails.
    """
    from django_eventstream.eventstream import redis_client

    pipeline = redis_client.pipeline(transaction=False)
    for user_id, stream_seq, encoded in events:
        message = {"channel": user_channel(user_id), "event_type": EVENT_TYPE, "data": encoded,
                   "pub_id": str(stream_seq)}
        pipeline.publish(LIBRARY_REDIS_CHANNEL, json.dumps(message))
    pipeline.execute()


def sse_stream_position(*, user_id: int) -> str:
    """The SSE id to start a stream from (as ``Last-Event-ID``), so a client misses nothing sent from now on."""
    return get_current_event_id([user_channel(user_id)])


def sse_stream_token(*, user_id: int) -> tuple[str, int]:
    """A short-lived signed token (django-eventstream's ``es-meta``) for clients that cannot send headers."""
    max_age_s = settings.SSE_TOKEN_MAX_AGE_S
    claims = {"user": user_id, "channels": [user_channel(user_id)], "exp": int(time.time()) + max_age_s}
    return jwt.encode(claims, settings.SECRET_KEY, algorithm="HS256"), max_age_s


def sse_stream_token_user_id(token: str) -> int | None:
    """The user a stream token was made for, or None if it is invalid or expired."""
    try:
        claims = jwt.decode(token, settings.SECRET_KEY, algorithms=["HS256"], options={"require": ["exp"]})
    except jwt.PyJWTError:
        return None
    user = claims.get("user")
    return user if isinstance(user, int) else None


async def _start_redis_listener_forever(self) -> None:
    """Replaces ListenerManager.start_redis_listener: reconnect instead of dying with the connection."""
    delay_s = 0.5
    while True:
        started = time.monotonic()
        try:
            self.redis_listener = eventstream_views.RedisListener()
            await self.redis_listener.start()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.warning("SSE Redis listener lost its connection: %r; reconnecting in %.1fs", exc, delay_s)
        if time.monotonic() - started > 30:
            delay_s = 0.5
        _rescan_storage(self)
        await asyncio.sleep(delay_s)
        delay_s = min(delay_s * 2, settings.SSE_REDIS_RECONNECT_MAX_S)


def _rescan_storage(manager) -> None:
    """Events published while the listener was down were missed: make every stream re-read storage."""
    with manager.lock:
        for listeners in manager.listeners_by_channel.values():
            for listener in listeners:
                listener.overflow = True
                if listener.loop is not None:
                    listener.wake_threadsafe()


_library_add_to_queues = eventstream_views.ListenerManager.add_to_queues


def _add_to_queues_once(self, channel: str, event: Event) -> None:
    """Replaces ListenerManager.add_to_queues: a stored event published again is not delivered again.

    run_consumer publishes a stored event after commit and then records the
    push; if it dies in between, the redelivered record publishes the same
    event (same channel, same stream_seq) once more. A channel's stream_seq only
    grows, and its events are published in order (one consumer owns a user's
    partition), so a stream_seq at or below the last one this process delivered
    on that channel has been delivered already.
    """
    if event.id is not None:
        stream_seq = int(event.id)
        with self.lock:
            delivered = self.__dict__.setdefault("sse_last_delivered", OrderedDict())
            last = delivered.get(channel)
            if last is not None:
                delivered.move_to_end(channel)
                if stream_seq <= last:
                    logger.info("SSE: %s on %s was published again; not delivered twice", stream_seq, channel)
                    return
            delivered[channel] = stream_seq
            while len(delivered) > settings.SSE_DEDUP_MAX_CHANNELS:
                delivered.popitem(last=False)
    _library_add_to_queues(self, channel, event)


def install_listener_patch() -> None:
    eventstream_views.ListenerManager.start_redis_listener = _start_redis_listener_forever
    eventstream_views.ListenerManager.add_to_queues = _add_to_queues_once

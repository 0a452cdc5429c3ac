"""Server-Sent Events: django-eventstream behind Pushpin (GRIP).

- One channel per user, ``user-<id>``; a user reads only their own
  (``UserChannelManager``; the library's default lets anyone read any channel).
- Pushpin holds the browsers' streams. A subscribe (``GET /events/``) reaches
  Django once: django-eventstream answers with what the client missed (from
  storage, after its ``Last-Event-ID``) and GRIP instructions to hold the stream
  on the user's channel, with a link for Pushpin to fetch more later.
- Ids: each channel numbers its events 1, 2, ... (``stream_seq``); the SSE
  ``id:`` a browser sees and sends back as ``Last-Event-ID`` is
  ``<channel>:<stream_seq>`` (the "stream position"). Neither is the wallet
  event's ``eventId``, which travels inside the data.
- The consumer stores a poll's events in one statement (``sse_events_store``, the
  library's tables) in its transaction and, after commit, publishes them to every
  Pushpin in one request each (``sse_events_publish``), each with its id and the
  previous one. Pushpin delivers an id once (it drops an id it has seen, and an
  item whose previous id is not the stream's last makes it fetch the gap from
  Django instead), so an event published twice reaches a browser once, and one
  that was never published (Pushpin was down) reaches it from storage.
"""

import hashlib
import hmac
import json
import logging
import time
from urllib.parse import quote, unquote

import httpx
import jwt
from django.conf import settings
from django.db import connection
from django_eventstream import get_current_event_id
from django_eventstream.channelmanager import ChannelManagerBase
from django_eventstream.event import Event
from django_eventstream.storage import DjangoModelStorage, EventDoesNotExist
from django_eventstream.utils import sse_encode_event
from gripcontrol import HttpStreamFormat
from pubcontrol import Item

logger = logging.getLogger(__name__)

EVENT_TYPE = "notification"


# The link Pushpin fetches to recover a stream (what it missed): the same for every stream,
# so that Pushpin batches the recoveries of many streams (it asks at most 10 distinct links a
# second). Whose stream it is comes from the channels Pushpin sends along (Grip-Last).
NEXT_LINK = "/events/?link=next&recover=true"


def _channel_mac(user_id: int) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), f"sse-channel:{user_id}".encode(), hashlib.sha256).hexdigest()[:20]


def user_channel(user_id: int) -> str:
    """The user's channel: its name carries a MAC, so that a channel named in a request (by Pushpin,
    when it recovers a stream) proves whose it is."""
    return f"user-{user_id}-{_channel_mac(user_id)}"


def channel_user_id(channel: str) -> int | None:
    """The user whose channel this is, or None if the name is not one ``user_channel`` made."""
    _, _, rest = channel.partition("user-")
    user_id, _, mac = rest.partition("-")
    if not channel.startswith("user-") or not user_id.isdigit():
        return None
    return int(user_id) if hmac.compare_digest(mac, _channel_mac(int(user_id))) else None


def recovering_user_id(request) -> int | None:
    """On Pushpin's recovery of a stream (its next link, signed by Pushpin): the stream's user."""
    if request.GET.get("link") != "next" or not request.grip.proxied:
        return None
    users = {channel_user_id(unquote(name.removeprefix("events-"))) for name in request.grip.last}
    return users.pop() if len(users) == 1 and None not in users else None


# django-eventstream opens every stream with 2 KiB of padding (a comment) that only
# browsers older than any we support needed; Pushpin keeps each stream's first response.
_PADDING = (":" + " " * 2048 + "\n\n").encode()


def last_event_id_problem(request, *, user_id: int) -> tuple[str, str] | None:
    """What is wrong with the position a subscribe resumes from (``Last-Event-ID``, else the last
    non-empty ``lastEventId``), as (the name it came by, the problem); None if nothing is.

    The form is ``<channel>:<stream_seq>`` (django-eventstream's, several joined by commas);
    the user's own channel's position must be a whole number (the library crashes on
    anything else), other channels' are ignored, as the library does.
    """
    name, value = "Last-Event-ID", request.META.get("HTTP_LAST_EVENT_ID")
    if not value:
        name, value = "lastEventId", next((v for v in reversed(request.GET.getlist("lastEventId")) if v), None)
    if not value or value == "error":
        return None
    own = user_channel(user_id)
    for part in value.split(","):
        channel, *rest = part.split(":")
        if len(rest) != 1:
            return name, "Must be <channel>:<position>, as the stream's event ids are."
        if unquote(channel) == own and not (rest[0].isascii() and rest[0].isdigit() and len(rest[0]) <= 18):
            return name, "The position must be a whole number."
    return None


def grip_drop_padding(response) -> None:
    if response.content.startswith(_PADDING):
        response.content = response.content[len(_PADDING):]


def grip_instruct_adjust(request) -> None:
    """Adjust the GRIP instruction django-eventstream wrote (the GRIP middleware turns it into
    headers after the view): the next link is ``NEXT_LINK`` (the library writes one per user),
    and the stream holds its user's events channel only. The library also subscribes every
    stream to a ``user-<id>`` channel, through which it could kick a user off a channel; we
    never do, and each subscription costs Pushpin memory for as long as the stream is open."""
    instruct = getattr(request.grip, "instruct", None)
    if instruct is None:
        return
    if instruct.next_link:
        instruct.set_next_link(NEXT_LINK)
    instruct.channels = [channel for channel in instruct.channels if channel.name.startswith("events-")]


def _grip_channel(channel: str) -> str:
    """The GRIP channel django-eventstream holds a stream of ``channel`` on."""
    return f"events-{quote(channel)}"


class EventStorage(DjangoModelStorage):
    """django-eventstream's PostgreSQL storage, its reads in one statement each.

    Every subscribe and every recovery of a stream reads it: the library's ORM reads
    (up to three queries) were most of what a subscribe cost. Same tables, same
    answers. Appends go through ``sse_events_store``; old events are trimmed by
    ``sse_events_trim`` (beat), not on every append.
    """

    def get_events(self, channel, last_id, limit=100):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT c.value, e.eid, e.type, e.data FROM django_eventstream_eventcounter c "
                "LEFT JOIN LATERAL (SELECT eid, type, data FROM django_eventstream_event "
                "  WHERE channel = c.name AND eid >= %(last)s AND %(last)s < c.value ORDER BY eid LIMIT %(rows)s) e "
                "ON true WHERE c.name = %(channel)s",
                {"channel": channel, "last": last_id, "rows": limit + 1})
            rows = cursor.fetchall()
        current = rows[0][0] if rows else 0
        if last_id == current:
            return []
        # The referenced event must still be stored (not trimmed): else the client starts afresh.
        if not rows or rows[0][1] != last_id:
            raise EventDoesNotExist(f"No such event {last_id}", current)
        return [Event(channel, event_type, json.loads(data), id=eid) for _, eid, event_type, data in rows[1:]]

    def get_current_id(self, channel):
        with connection.cursor() as cursor:
            cursor.execute("SELECT value FROM django_eventstream_eventcounter WHERE name = %s", [channel])
            row = cursor.fetchone()
        return row[0] if row else 0


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
# of events (the row lock orders a channel's events), add the id-0 placeholder the
# library reads from on a channel's first events, add the events numbered in input order.
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


def _publish_item(user_id: int, stream_seq: int, encoded: str) -> dict:
    """The GRIP item django-eventstream publishes for a stored event (its publish_event, as data)."""
    content = sse_encode_event(EVENT_TYPE, encoded, event_id="%I", escape=True)
    item = Item(HttpStreamFormat(content, content_filters=["build-id"]), id=str(stream_seq),
                prev_id=str(stream_seq - 1)).export()
    item["channel"] = _grip_channel(user_channel(user_id))
    return item


def sse_events_publish(events: list[tuple[int, int, str]]) -> bool:
    """Publish stored events (user id, stream_seq, encoded data) to every Pushpin, after commit.

    One request per Pushpin, however many events. Returns whether every Pushpin took
    them; a failure is logged, not raised: the events are stored, and a stream reads
    what it missed from storage (when its client reconnects, or when Pushpin sees the
    next event's previous id and fetches the gap).
    """
    if not events:
        return True
    body = {"items": [_publish_item(*event) for event in events]}
    delivered = True
    for proxy in settings.GRIP_PROXIES:
        url = proxy["control_uri"].rstrip("/") + "/publish/"
        try:
            response = _http().post(url, json=body, timeout=settings.SSE_PUBLISH_TIMEOUT_S)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            delivered = False
            logger.warning("SSE: %d event(s) not published to %s (%r); clients read them from storage",
                           len(events), url, exc)
    return delivered


_client: httpx.Client | None = None


def _http() -> httpx.Client:
    global _client
    if _client is None:
        _client = httpx.Client()
    return _client


def sse_stream_position(*, user_id: int) -> str:
    """The SSE id to start a stream from (as ``Last-Event-ID``), so a client misses nothing sent from now on."""
    return get_current_event_id([user_channel(user_id)])


def sse_stream_token(*, user_id: int) -> tuple[str, int]:
    """A short-lived signed token (django-eventstream's ``es-meta``) for clients that cannot send headers."""
    max_age_s = settings.SSE_TOKEN_MAX_AGE_S
    claims = {"iss": "es", "user": str(user_id), "channels": [user_channel(user_id)],
              "exp": int(time.time()) + max_age_s}
    return jwt.encode(claims, settings.SECRET_KEY, algorithm="HS256"), max_age_s


def sse_stream_token_user_id(token: str) -> int | None:
    """The user an ``es-meta`` token was made for (ours, or the library's in the links it gives
    Pushpin), or None if it is invalid or expired."""
    try:
        claims = jwt.decode(token, settings.SECRET_KEY, algorithms=["HS256"], options={"require": ["exp"]})
    except jwt.PyJWTError:
        return None
    user = claims.get("user")
    return int(user) if isinstance(user, str) and user.isdigit() else None

"""The notifications API and the SSE endpoint's refusals."""


import time

import jwt
import pytest
from django.conf import settings
from django.test import Client

from notifications import services, sse
from notifications.models import Notification
from tests.helpers import wallet_event

pytestmark = pytest.mark.django_db


def via_pushpin() -> dict:
    """The signature Pushpin puts on what it proxies (its sig_key is GRIP_KEY)."""
    return {"HTTP_GRIP_SIG": jwt.encode({"iss": "pushpin", "exp": int(time.time()) + 60}, settings.GRIP_KEY)}


def test_sse_refusals_are_http_errors(client, user_factory):
    alice, bob = user_factory(), user_factory()
    assert Client().get("/events/", **via_pushpin()).status_code == 401
    client.force_login(alice)
    response = client.get(f"/events/?channel={sse.user_channel(bob.id)}", **via_pushpin())
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert Client().get("/events/?es-meta=not-a-token", **via_pushpin()).status_code == 401
    response = client.get("/events/")  # not through Pushpin
    assert (response.status_code, response.json()["code"]) == (400, "proxy_required")


def test_a_subscribe_through_pushpin_is_answered_with_grip_instructions(client, user):
    client.force_login(user)
    services.notification_from_event(event=wallet_event(user.id))
    response = client.get("/events/?lastEventId=" + f"{sse.user_channel(user.id)}:0", **via_pushpin())
    assert response.status_code == 200
    assert response["Grip-Hold"] == "stream"
    assert response["Grip-Channel"].startswith(f"events-{sse.user_channel(user.id)}; prev-id=1")
    assert response["Grip-Channel"].count("events-") == 1 and "require-sub" not in response["Grip-Channel"]
    body = response.content.decode()
    assert "event: stream-open" in body and "event: notification" in body  # what it missed since 0


def test_stream_tokens_expire_and_name_their_user(api, user, settings):
    grant = api.post("/api/v1/notifications/stream-token").json()
    assert sse.sse_stream_token_user_id(grant["token"]) == user.id
    assert grant["expiresInSeconds"] == settings.SSE_TOKEN_MAX_AGE_S
    assert "lastEventId=" in grant["url"]
    settings.SSE_TOKEN_MAX_AGE_S = -10
    expired, _ = sse.sse_stream_token(user_id=user.id)
    assert sse.sse_stream_token_user_id(expired) is None
    assert Client().get(f"/events/?es-meta={expired}", **via_pushpin()).status_code == 401


def test_a_stream_token_stops_working_when_its_user_is_deactivated(user):
    token, _ = sse.sse_stream_token(user_id=user.id)
    assert Client().get(f"/events/?es-meta={token}", **via_pushpin()).status_code == 200
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert Client().get(f"/events/?es-meta={token}", **via_pushpin()).status_code == 401
    assert Client().get(f"/events/?es-meta={sse.sse_stream_token(user_id=10**9)[0]}", **via_pushpin()).status_code \
        == 401  # no such user


def test_notifications_list_api(api, user):
    services.notification_from_event(event=wallet_event(user.id))
    body = api.get("/api/v1/notifications").json()
    assert [n["title"] for n in body["results"]] == ["충전 완료"]


def test_notifications_are_unread_until_marked_read_by_their_owner(api_client_for, user_factory):
    alice, bob = user_factory(), user_factory()
    alice_api = api_client_for(alice)
    mine = [wallet_event(alice.id) for _ in range(3)]
    for event in mine:
        services.notification_from_event(event=event)
    bobs = wallet_event(bob.id)
    services.notification_from_event(event=bobs)
    assert [n["readAt"] for n in alice_api.get("/api/v1/notifications").json()["results"]] == [None] * 3

    first_two = [mine[0]["eventId"], mine[1]["eventId"]]
    response = alice_api.post("/api/v1/notifications/read", {"eventIds": [*first_two, bobs["eventId"]]},
                              format="json")
    assert response.status_code == 200
    assert response.json() == {"marked": 2, "unreadCount": 1}  # Bob's is not hers to mark
    read = {n["eventId"]: n["readAt"] for n in alice_api.get("/api/v1/notifications").json()["results"]}
    assert all(read[e] for e in first_two) and read[mine[2]["eventId"]] is None
    assert Notification.objects.get(event_id=bobs["eventId"]).read_at is None

    # Marking again changes nothing (the first read time stays).
    again = alice_api.post("/api/v1/notifications/read", {"eventIds": first_two}, format="json")
    assert again.json() == {"marked": 0, "unreadCount": 1}
    assert {n["eventId"]: n["readAt"] for n in alice_api.get("/api/v1/notifications").json()["results"]} == read


@pytest.mark.parametrize(("body", "field"), [
    ({}, "eventIds"), ({"eventIds": []}, "eventIds"), ({"eventIds": ["nope"]}, "eventIds[0]"),
    ({"eventIds": "x"}, "eventIds"),
])
def test_mark_read_refuses_bad_input_naming_the_field(api, body, field):
    response = api.post("/api/v1/notifications/read", body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_input"
    assert field in response.json()["fields"], response.json()


def test_pushpin_recovers_a_stream_through_one_shared_link_and_only_the_channels_own_user(client, user_factory):
    alice, bob = user_factory(), user_factory()
    for _ in range(2):
        services.notification_from_event(event=wallet_event(alice.id))
    client.force_login(alice)
    first = client.get(f"/events/?lastEventId={sse.user_channel(alice.id)}:0", **via_pushpin())
    assert first["Grip-Link"] == f"<{sse.NEXT_LINK}>; rel=next"  # the same for every stream

    # Pushpin asks the link (no cookie, no token): the channel it names, with its last id, says whose.
    recover = Client().get(sse.NEXT_LINK, HTTP_GRIP_LAST=f"events-{sse.user_channel(alice.id)}; last-id=1",
                           **via_pushpin())
    assert recover.status_code == 200
    assert recover.content.decode().count("event: notification") == 1  # what came after id 1
    forged = Client().get(sse.NEXT_LINK, HTTP_GRIP_LAST=f"events-user-{bob.id}-0000; last-id=0", **via_pushpin())
    assert forged.status_code == 401
    unsigned = Client().get(sse.NEXT_LINK, HTTP_GRIP_LAST=f"events-{sse.user_channel(alice.id)}; last-id=0")
    assert unsigned.status_code == 400

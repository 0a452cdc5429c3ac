"""The staff API of the audit store: filtered cursor pages, and a streamed JSON Lines export."""

import datetime
import json

import pytest

from audit import services
from tests.helpers import staff_sign_in, wallet_event

pytestmark = pytest.mark.django_db

EVENTS = "/api/v1/ops/audit-events"


@pytest.fixture
def staff(client, django_user_model):
    admin = django_user_model.objects.create_superuser("auditor", "auditor@example.com", "pw")
    staff_sign_in(client, admin)
    return client


def _store(user_id: int, count: int, start: datetime.datetime, event_type: str = "CHARGE_COMPLETED") -> list[dict]:
    events = []
    for i in range(count):
        event = wallet_event(user_id, occurredAt=(start + datetime.timedelta(hours=i)).isoformat())
        if event_type != "CHARGE_COMPLETED":
            event = {**{k: v for k, v in event.items() if k not in ("amount", "paymentKey", "orderId")},
                     "eventType": event_type, "amount": 100, "description": "d"}
        services.audit_event_record(services.Received(event=event, topic="wallet-events", partition=0, offset=i))
        events.append(event)
    return events


def test_filter_page_and_export(staff, user_factory):
    first, second = user_factory(), user_factory()
    start = datetime.datetime(2026, 11, 3, tzinfo=datetime.UTC)
    mine = _store(first.id, 3, start) + _store(first.id, 2, start + datetime.timedelta(days=1), "SPEND_COMPLETED")
    _store(second.id, 2, start)

    page = staff.get(EVENTS, {"user": first.id, "pageSize": 2}).json()
    assert [e["eventId"] for e in page["results"]] == [mine[4]["eventId"], mine[3]["eventId"]]  # newest first
    rest = staff.get(page["next"]).json()
    assert len(rest["results"]) == 2 and rest["next"]
    assert len(staff.get(EVENTS, {"user": first.id, "type": "SPEND_COMPLETED"}).json()["results"]) == 2
    period = {"from": start.isoformat(), "to": (start + datetime.timedelta(hours=2)).isoformat()}
    assert {e["userId"] for e in staff.get(EVENTS, period).json()["results"]} == {first.id, second.id}
    assert len(staff.get(EVENTS, period).json()["results"]) == 4

    exported = staff.get(f"{EVENTS}/export", {"user": first.id})
    assert exported["Content-Type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in b"".join(exported.streaming_content).decode().splitlines()]
    assert [line["seq"] for line in lines] == [1, 2, 3, 4, 5]
    assert [line["previousHash"] for line in lines[1:]] == [line["hash"] for line in lines[:-1]]
    assert lines[0]["event"] == mine[0] and lines[0]["kafka"] == {"topic": "wallet-events", "partition": 0,
                                                                   "offset": 0}


def test_bad_filters_and_non_staff_are_refused(staff, client, user_factory):
    for query, field in (({"user": "x"}, "user"), ({"type": "GIFT"}, "type"), ({"from": "yesterday"}, "from"),
                         ({"from": "2026-12-02T00:00:00Z", "to": "2026-12-01T00:00:00Z"}, "to"),
                         ({"color": "red"}, "color")):
        for path in (EVENTS, f"{EVENTS}/export"):
            r = staff.get(path, query)
            assert (r.status_code, r.json()["code"]) == (400, "invalid_input"), (path, query)
            assert field in r.json()["message"]
    client.force_login(user_factory())
    assert client.get(EVENTS).status_code == 403

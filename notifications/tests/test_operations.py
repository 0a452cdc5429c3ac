"""Operators act without SQL: dead letters (staff API and admin: list, show, replay, discard with a
reason), parked outbox rows (retry), the operations page; every action is recorded."""

import pytest
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import OperatorAction
from notifications import services
from notifications.models import DeadLetter
from outbox.models import OutboxEvent
from tests.helpers import SPENDS, api_post, api_token, charge, staff_sign_in

pytestmark = pytest.mark.django_db

DEAD_LETTERS = "/api/v1/ops/dead-letters"


@pytest.fixture
def ops(staff_user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(staff_user)}")
    return client


@pytest.fixture
def staff_browser(staff_user):
    client = Client()
    staff_sign_in(client, staff_user)
    return client


def parked(offset: int, value: bytes = b"{not json", exception: str = "prepaid.events.InvalidEvent") -> DeadLetter:
    return services.dead_letter_store(
        topic="test.wallet-events.DLT", partition=0, offset=offset, key=b"1", value=value,
        headers=[(services.DLT_EXCEPTION_FQCN, exception.encode()),
                 (services.DLT_ORIGINAL_TOPIC, settings.KAFKA_TOPIC_WALLET_EVENTS.encode())])[0]


def test_the_dead_letter_api_is_for_staff_only(api, client):
    dead_letter = parked(1)
    for method, path in (("get", DEAD_LETTERS), ("get", f"{DEAD_LETTERS}/{dead_letter.id}"),
                         ("post", f"{DEAD_LETTERS}/{dead_letter.id}/replay"),
                         ("post", f"{DEAD_LETTERS}/{dead_letter.id}/discard")):
        assert getattr(api, method)(path).status_code == 403, path  # a user, not staff
        assert getattr(client, method)(path).status_code == 401, path
    assert DeadLetter.objects.get().status == "open"


def test_operators_list_filter_show_and_discard_with_a_reason(ops, staff_user):
    first, second = parked(1), parked(2, value=b"{}", exception="django.db.utils.IntegrityError")
    listed = ops.get(DEAD_LETTERS).json()["results"]
    assert [d["id"] for d in listed] == [second.id, first.id]
    assert [d["id"] for d in ops.get(DEAD_LETTERS, {"exceptionType": "prepaid.events.InvalidEvent"}).json()[
        "results"]] == [first.id]
    assert ops.get(DEAD_LETTERS, {"status": "nonsense"}).json()["fields"] == {"status": [
        "open, replayed, discarded 중 하나여야 합니다."]}
    assert ops.get(f"{DEAD_LETTERS}/{first.id}").json()["value"] == "{not json"
    assert ops.get(f"{DEAD_LETTERS}/999999").json()["code"] == "dead_letter_not_found"

    no_reason = ops.post(f"{DEAD_LETTERS}/{first.id}/discard", {}, format="json")
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["fields"]
    discarded = ops.post(f"{DEAD_LETTERS}/{first.id}/discard", {"reason": "malformed test record"}, format="json")
    assert discarded.status_code == 200 and discarded.json()["status"] == "discarded"
    assert discarded.json()["discardReason"] == "malformed test record"
    again = ops.post(f"{DEAD_LETTERS}/{first.id}/discard", {"reason": "twice"}, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "dead_letter_not_open")
    replay = ops.post(f"{DEAD_LETTERS}/{first.id}/replay")
    assert (replay.status_code, replay.json()["code"]) == (409, "dead_letter_discarded")
    assert [d["id"] for d in ops.get(DEAD_LETTERS, {"status": "open"}).json()["results"]] == [second.id]

    (action,) = OperatorAction.objects.all()
    assert (action.username, action.action, action.target, action.detail) == (
        staff_user.username, "dead_letter_discard", f"dead_letter:{first.id}", "malformed test record")


def test_operators_replay_a_dead_letter_to_its_topic(ops, staff_user, kafka_tail):
    tail = kafka_tail()
    dead_letter = parked(3, value=b'{"replayed": true}')
    answer = ops.post(f"{DEAD_LETTERS}/{dead_letter.id}/replay")
    assert answer.status_code == 200 and answer.json()["status"] == "replayed" and answer.json()["replayCount"] == 1
    (record,) = tail.collect(lambda records: len(records) >= 1, timeout_s=30)
    assert record.value == b'{"replayed": true}'
    assert OperatorAction.objects.get(action="dead_letter_replay").target == f"dead_letter:{dead_letter.id}"


def test_the_admin_discards_with_a_reason(staff_browser, staff_user):
    dead_letter = parked(4)
    url = "/admin/notifications/deadletter/"
    asked = staff_browser.post(url, {"action": "discard", "_selected_action": [dead_letter.id], "index": 0})
    assert asked.status_code == 200 and 'name="reason"' in asked.content.decode()  # says why first
    assert DeadLetter.objects.get().status == "open"
    done = staff_browser.post(url, {"action": "discard", "_selected_action": [dead_letter.id], "confirm": "yes",
                                    "reason": "a duplicate of #3"}, follow=True)
    assert "레코드 1건을 폐기했습니다" in done.content.decode()
    assert (DeadLetter.objects.get().discard_reason, DeadLetter.objects.get().discarded_by) == (
        "a duplicate of #3", staff_user)
    assert "a duplicate of #3" in staff_browser.get("/admin/accounts/operatoraction/").content.decode()


def test_the_admin_retries_a_parked_outbox_row(api, user, staff_browser, django_user_model):
    charge(user, 1_000)
    api_post(api, SPENDS, {"amount": 1, "description": "parked"})
    row = OutboxEvent.objects.filter(event_type="SPEND_COMPLETED").get()
    OutboxEvent.objects.filter(id=row.id).update(failed_at="2026-11-29T00:00:00Z", attempts=10)
    url = "/admin/outbox/outboxevent/"

    viewer = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    from django.contrib.auth.models import Permission
    viewer.user_permissions.add(Permission.objects.get(codename="view_outboxevent"))
    looking = Client()
    staff_sign_in(looking, viewer)
    refused = looking.post(url, {"action": "retry", "_selected_action": [row.id], "index": 0}, follow=True)
    assert "변경 권한이 필요합니다" in refused.content.decode()
    assert OutboxEvent.objects.get(id=row.id).failed_at is not None

    done = staff_browser.post(url, {"action": "retry", "_selected_action": [row.id], "index": 0}, follow=True)
    assert "보류된 행 1건을 다시 시도합니다" in done.content.decode()
    retried = OutboxEvent.objects.get(id=row.id)
    assert (retried.failed_at, retried.attempts) == (None, 0)
    assert OperatorAction.objects.get(action="outbox_retry").target == f"outbox_event:{row.id}"


def test_the_operations_page_shows_the_headline_figures(staff_browser, client):
    parked(5)
    page = staff_browser.get("/admin/operations/").content.decode()
    for figure in ("prepaid_outbox_pending_events", "prepaid_dead_letters", "prepaid_payments"):
        assert figure in page, figure
    assert "운영 현황" in staff_browser.get("/admin/").content.decode()
    assert client.get("/admin/operations/").status_code == 302  # to the login

"""Operators can find records in the admin, and cannot change the ledger or the outbox there."""

import pytest

from ledger.models import JournalEntry
from outbox.models import OutboxEvent
from tests.helpers import new_order_id, staff_sign_in
from wallets import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, django_user_model):
    admin = django_user_model.objects.create_superuser("ops", "ops@example.com", "pw")
    staff_sign_in(client, admin)
    return client


def test_admin_lists_and_searches(staff_client, user):
    entry = services.wallet_charge(user_id=user.id, amount=10_000, payment_key="pk_find_me",
                                   order_id="order-find-me").transaction
    event = OutboxEvent.objects.get()
    pages = {
        "/admin/wallets/operation/?q=order-find-me": str(entry.id),
        "/admin/wallets/operation/?q=pk_find_me": str(entry.id),
        f"/admin/wallets/operation/?q={user.username}": str(entry.id),
        f"/admin/ledger/journalentry/?q={entry.id}": str(entry.id),
        "/admin/wallets/payment/?q=order-find-me": "order-find-me",
        "/admin/wallets/wallet/?q=" + user.username: "10000",
        f"/admin/outbox/outboxevent/?q={event.event_id}": str(event.event_id),
        "/admin/outbox/outboxevent/?status=pending": str(event.event_id),
        "/admin/outbox/outboxevent/?q=order-find-me": str(event.event_id),
        f"/admin/ledger/journalentry/{entry.id}/change/": "system:payment-clearing",
    }
    for url, needle in pages.items():
        response = staff_client.get(url)
        assert response.status_code == 200, url
        assert needle in response.content.decode(), url
    assert staff_client.get("/admin/outbox/outboxevent/?q=no-such-thing").content.decode().count(
        str(event.event_id)) == 0


def test_ledger_and_outbox_are_read_only_in_the_admin(staff_client, user):
    entry = services.wallet_charge(user_id=user.id, amount=1_000, payment_key="pk", order_id=new_order_id()).transaction
    event = OutboxEvent.objects.get()
    assert staff_client.get("/admin/ledger/journalentry/add/").status_code == 403
    assert staff_client.get("/admin/wallets/operation/add/").status_code == 403
    response = staff_client.post(f"/admin/wallets/operation/{entry.id}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert staff_client.get("/admin/outbox/outboxevent/add/").status_code == 403
    response = staff_client.post(f"/admin/ledger/journalentry/{entry.id}/delete/", {"post": "yes"})
    assert response.status_code == 403
    response = staff_client.post(f"/admin/outbox/outboxevent/{event.id}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert JournalEntry.objects.filter(id=entry.id).exists()
    assert OutboxEvent.objects.filter(id=event.id).exists()

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


def test_an_operator_returns_a_transfer_from_the_admin_with_a_reason(staff_client, user_factory):
    from accounts.models import OperatorAction
    from tests.helpers import balance_of, charge

    sender, recipient = user_factory(), user_factory()
    charge(sender, 10_000)
    sent = services.wallet_transfer(user_id=sender.id, to=recipient.username, amount=6_000, message="").transaction
    page = staff_client.get(f"/admin/wallets/operation/?q={recipient.username}")
    assert str(sent.id) in page.content.decode()
    asked = staff_client.post("/admin/wallets/operation/", {"action": "return_transfers",
                                                           "_selected_action": [str(sent.id)]})
    assert asked.status_code == 200 and "사유" in asked.content.decode()  # asks for one first
    assert balance_of(recipient.id) == 6_000
    done = staff_client.post("/admin/wallets/operation/", {"action": "return_transfers", "confirm": "yes",
                                                          "reason": "오송금 신고", "_selected_action": [str(sent.id)]},
                             follow=True)
    assert "₩6,000" in done.content.decode()
    assert (balance_of(sender.id), balance_of(recipient.id)) == (10_000, 0)
    assert OperatorAction.objects.filter(action="transfer_return", target=f"transaction:{sent.id}").exists()


def test_holds_are_listed_read_only(staff_client, user):
    from tests.helpers import charge

    charge(user, 10_000)
    placed = services.hold_place(user_id=user.id, amount=3_000, description="선승인", expires_in_s=600)
    page = staff_client.get(f"/admin/wallets/hold/?q={user.username}")
    assert str(placed.hold.id) in page.content.decode()
    assert staff_client.get(f"/admin/wallets/hold/{placed.hold.id}/change/").status_code == 200
    assert staff_client.post(f"/admin/wallets/hold/{placed.hold.id}/delete/", {"post": "yes"}).status_code == 403
    wallet_page = staff_client.get(f"/admin/wallets/wallet/?q={user.username}").content.decode()
    assert "7000" in wallet_page  # available: the balance less the hold

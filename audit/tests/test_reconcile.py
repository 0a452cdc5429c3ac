"""The audit store agrees with the money: every operation and hold has exactly its events, and every
stored event a source."""

import datetime

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.utils import timezone

from audit import services
from audit.selectors import audit_reconcile
from outbox.models import OutboxEvent
from tests.helpers import charge, wallet_event
from wallets import services as wallet_services

pytestmark = pytest.mark.django_db


def _store_the_outbox() -> None:
    for offset, row in enumerate(OutboxEvent.objects.order_by("id")):
        services.audit_event_record(services.Received(event=row.event, topic="wallet-events", partition=0,
                                                      offset=offset))


def _period():
    now = timezone.now()
    return {"start": now - datetime.timedelta(hours=1), "end": now + datetime.timedelta(minutes=1)}


def test_every_operation_and_hold_has_its_events_and_no_more(user_factory):
    user, friend = user_factory(), user_factory()
    charge(user, 20_000)
    spent = wallet_services.wallet_spend(user_id=user.id, amount=1_000, description="d").transaction
    wallet_services.wallet_reverse(user_id=user.id, transaction_id=spent.id, amount=500, reason="r")
    wallet_services.wallet_transfer(user_id=user.id, to=friend.username, amount=2_000, message="m")
    hold = wallet_services.hold_place(user_id=user.id, amount=3_000, description="h", expires_in_s=60).hold
    wallet_services.hold_capture(user_id=user.id, hold_id=hold.id, amount=1_000)
    wallet_services.hold_void(user_id=user.id, hold_id=hold.id)
    assert not audit_reconcile(**_period()).clean  # nothing stored yet: all missing
    _store_the_outbox()
    assert audit_reconcile(**_period()).clean
    call_command("audit_reconcile", "--lag-s", "-60")

    # One event lost (as a superuser could lose it), one invented.
    lost = OutboxEvent.objects.filter(event_type="TRANSFER_RECEIVED").get()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("DELETE FROM audit_auditevent WHERE event_id = %s", [lost.event_id])
    invented = wallet_event(user.id, occurredAt=timezone.now().isoformat())
    services.audit_event_record(services.Received(event=invented, topic="wallet-events", partition=0, offset=99))
    found = audit_reconcile(**_period())
    assert [row[:4] for row in found.missing] == [(lost.event["metadata"]["transactionId"], "TRANSFER_RECEIVED",
                                                   friend.id, 2_000)]
    assert len(found.unexplained) == 1 and found.unexplained[0][1] == "CHARGE_COMPLETED"
    with pytest.raises(CommandError, match="1 missing, 1 without source"):
        call_command("audit_reconcile", "--lag-s", "-60")

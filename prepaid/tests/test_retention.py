"""Retention (docs/compliance.md): no purge ever removes a money record, an audit event or an operator
action younger than RECORD_RETENTION_DAYS, however short the purges' own settings are; every scheduled
purge is held to it here; and the audit store's retention cannot be set under it."""

import datetime
import re

import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.core.checks import run_checks
from django.utils import timezone

from accounts.services import api_tokens_purge_expired, operator_action_record, sign_in_records_purge
from audit import services as audit_services
from notifications import services as notification_services
from outbox import services as outbox_services
from outbox.models import OutboxEvent
from tests.helpers import charge, wallet_event
from wallets import services as wallet_services

pytestmark = pytest.mark.django_db

# Every purge the beat schedules, and how this test runs it (with its own retention set to nothing).
PURGES = {
    "outbox.tasks.outbox_purge_published": lambda: outbox_services.outbox_purge_published(older_than_days=0),
    "notifications.tasks.processed_events_purge": lambda: notification_services.processed_events_purge(
        older_than_days=0),
    "notifications.tasks.sse_events_trim": notification_services.sse_events_trim,
    "notifications.tasks.notifications_purge": lambda: notification_services.notifications_purge(older_than_days=0),
    "wallets.tasks.idempotency_purge_expired": wallet_services.idempotency_purge_expired,
    "accounts.tasks.api_tokens_purge_expired": api_tokens_purge_expired,
    "accounts.tasks.sign_in_records_purge": lambda: sign_in_records_purge(older_than_days=0),
}
KEPT = ["ledger.JournalEntry", "ledger.Posting", "ledger.Account", "wallets.Wallet", "wallets.Operation",
        "wallets.Payment", "wallets.Refund", "wallets.Hold", "wallets.CustodyReport", "audit.AuditEvent",
        "accounts.OperatorAction"]


def _counts() -> dict[str, int]:
    return {label: apps.get_model(label).objects.count() for label in KEPT}


def test_every_purge_the_beat_runs_is_held_to_the_rule():
    scheduled = {entry["task"] for entry in django_settings.CELERY_BEAT_SCHEDULE.values()
                 if re.search(r"purge|trim|retention|expire", entry["task"]) and "hold_expire" not in entry["task"]}
    assert scheduled == set(PURGES)


def test_no_purge_removes_money_audit_or_operator_records(user_factory, staff_user, settings, tmp_path):
    minji, jiwoo = user_factory(), user_factory()
    first = charge(minji, 30_000)
    wallet_services.wallet_spend(user_id=minji.id, amount=1_000, description="커피",
                                 idempotency=wallet_services.IdempotencyKey(key="k-1", fingerprint="f"))
    wallet_services.wallet_transfer(user_id=minji.id, to=jiwoo.username, amount=2_000, message="")
    wallet_services.wallet_reverse(user_id=minji.id, transaction_id=first.id, amount=5_000, reason="환불")
    hold = wallet_services.hold_place(user_id=jiwoo.id, amount=500, description="주유", expires_in_s=60)
    wallet_services.hold_capture(user_id=jiwoo.id, hold_id=hold.hold.id, amount=500)
    wallet_services.custody_report_make(day=timezone.localdate())
    operator_action_record(user=staff_user, action="test", target="user:1")
    for event in [wallet_event(u.id, occurredAt=timezone.now().isoformat()) for u in (minji, jiwoo)]:
        audit_services.audit_event_record(audit_services.Received(event=event, topic="t", partition=0, offset=0))
    notification_services.notifications_from_events(events=[wallet_event(minji.id)])
    OutboxEvent.objects.update(published_at=timezone.now() - datetime.timedelta(days=1))
    settings.SSE_EVENT_RETENTION_S = settings.IDEMPOTENCY_KEY_TTL_S = 0  # every purge's own retention: none
    kept = _counts()
    assert all(kept.values()), kept  # something of each, to be kept

    purged = {name: run() for name, run in PURGES.items()}
    settings.AUDIT_RETENTION_DAYS, settings.AUDIT_ARCHIVE_DIR = 0, str(tmp_path)  # however short: the law's holds
    purged["audit_retention"] = len(audit_services.audit_retention(
        now=timezone.now() + datetime.timedelta(days=settings.RECORD_RETENTION_DAYS - 40)))

    assert _counts() == kept
    # The purges did run and remove what is theirs to remove.
    assert purged["outbox.tasks.outbox_purge_published"] > 0 and not OutboxEvent.objects.exists()
    assert purged["wallets.tasks.idempotency_purge_expired"] > 0
    assert purged["audit_retention"] == 0


def test_the_audit_retention_may_not_be_set_under_the_records(settings):
    settings.AUDIT_RETENTION_DAYS = settings.RECORD_RETENTION_DAYS - 1
    assert [e.id for e in run_checks()] == ["audit.E001"]
    settings.AUDIT_RETENTION_DAYS = settings.RECORD_RETENTION_DAYS
    assert run_checks() == []

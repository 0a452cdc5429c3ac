"""Retention: whole month partitions older than AUDIT_RETENTION_DAYS are archived, then dropped; never a
row younger; the chains still check out from where retention cut them."""

import datetime
import gzip
import json

import pytest
from django.core.management import call_command

from audit import services
from audit.models import AuditEvent, RetentionCut
from audit.selectors import audit_verify
from tests.helpers import wallet_event

pytestmark = pytest.mark.django_db(transaction=True)  # partitions are dropped: DDL outside a test's transaction


def _store(user_id: int, at: datetime.datetime) -> None:
    event = wallet_event(user_id, occurredAt=at.isoformat())
    services.audit_event_record(services.Received(event=event, topic="wallet-events", partition=0, offset=0))


def test_only_whole_expired_partitions_go_archived_first(user, settings, tmp_path):
    settings.AUDIT_ARCHIVE_DIR = str(tmp_path)
    settings.AUDIT_RETENTION_DAYS = settings.RECORD_RETENTION_DAYS = 365
    now = datetime.datetime(2026, 12, 6, 12, 0, tzinfo=datetime.UTC)
    old = [datetime.datetime(2025, 10, 10, tzinfo=datetime.UTC), datetime.datetime(2025, 10, 20, tzinfo=datetime.UTC)]
    edge = datetime.datetime(2025, 12, 7, tzinfo=datetime.UTC)  # 364 days before "now": must stay
    for at in [*old, edge, now]:
        _store(user.id, at)
    services.audit_seal(at=now)

    cuts = services.audit_retention(now=now)
    assert [c.partition for c in cuts] == ["audit_auditevent_p202510"]  # 2025-11 had nothing, is not there
    assert sorted(AuditEvent.objects.values_list("seq", flat=True)) == [3, 4]  # the December 2025 row stays
    with gzip.open(cuts[0].archive, "rt") as archive:
        archived = [json.loads(line) for line in archive]
    assert [row["seq"] for row in archived] == [1, 2]
    assert RetentionCut.objects.get().heads == {str(user.id): [2, archived[-1]["hash"]]}
    assert audit_verify() == []  # the chain checks out from the cut, and so does the seal
    assert services.audit_retention(now=now) == []  # nothing more to do
    call_command("audit_verify")

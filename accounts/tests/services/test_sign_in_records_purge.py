"""What sign-ins leave behind goes once it no longer counts: the sign-in log after its retention, failed
attempts past their window, expired sessions; in bounded batches; a recent record stays."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessAttemptExpiration, AccessLog
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from accounts.services import sign_in_records_purge

pytestmark = pytest.mark.django_db


def test_old_sign_in_records_go_in_batches_and_recent_ones_stay(settings):
    now = timezone.now()
    for i in range(3):
        AccessLog.objects.create(username=f"old-{i}", user_agent="ua", ip_address="192.0.2.1")
    AccessLog.objects.update(attempt_time=now - timedelta(days=settings.LOGIN_ACCESS_LOG_RETENTION_DAYS, hours=1))
    recent = AccessLog.objects.create(username="recent", user_agent="ua", ip_address="192.0.2.1")
    gone = AccessAttempt.objects.create(username="x", user_agent="ua", ip_address="192.0.2.2", failures_since_start=1)
    AccessAttemptExpiration.objects.create(access_attempt=gone, expires_at=now - timedelta(seconds=1))
    counting = AccessAttempt.objects.create(username="y", user_agent="ua", ip_address="192.0.2.3",
                                            failures_since_start=1)
    AccessAttemptExpiration.objects.create(access_attempt=counting, expires_at=now + timedelta(minutes=10))
    expired, live = SessionStore(), SessionStore()
    expired.set_expiry(-1)
    expired.save()
    live.save()

    assert sign_in_records_purge(batch_size=2) == 3 + 2 + 1  # (an attempt goes with its expiration row)
    assert list(AccessLog.objects.values_list("id", flat=True)) == [recent.id]
    assert list(AccessAttempt.objects.values_list("id", flat=True)) == [counting.id]
    assert list(Session.objects.values_list("session_key", flat=True)) == [live.session_key]

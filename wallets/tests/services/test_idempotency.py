"""Idempotency records expire and are purged."""

from datetime import timedelta

import pytest
from django.utils import timezone

from wallets import services

pytestmark = pytest.mark.django_db


def test_idempotency_keys_expire_and_are_purged(user, settings):
    start = services.idempotency_begin(user_id=user.id, key="k1", method="POST", path="/p", fingerprint="f")
    services.idempotency_complete(record=start.record, status=201, body={"ok": True})
    assert services.idempotency_purge_expired() == 0
    old = timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL_S + 1)
    type(start.record).objects.filter(id=start.record.id).update(created_at=old)
    assert services.idempotency_purge_expired() == 1

"""Idempotency records: written with the operation's answer, replayed, expired, purged."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.helpers import charge
from wallets import services
from wallets.models import IdempotencyRecord

pytestmark = pytest.mark.django_db


def key_for(body: dict, key: str = "k1") -> services.IdempotencyKey:
    return services.idempotency_key(key=key, method="POST", path="/api/v1/wallet/spends", body=body)


def test_the_answer_is_recorded_with_the_operation_and_replayed(user):
    charge(user, 10_000)
    body = {"amount": 1_000, "description": "once"}
    first = services.wallet_spend(user_id=user.id, amount=1_000, description="once", idempotency=key_for(body))
    record = IdempotencyRecord.objects.get(user=user, key="k1")
    assert (record.entry_id, record.error_code, record.in_flight) == (first.transaction.id, "", False)
    again = services.wallet_spend(user_id=user.id, amount=1_000, description="once", idempotency=key_for(body))
    replayed = again.transaction
    assert (again.replayed, replayed.id, replayed.balance_after) == (True, first.transaction.id, 9_000)
    assert not first.replayed


def test_idempotency_keys_expire_and_are_purged(user, settings):
    charge(user, 10_000)
    body = {"amount": 1_000, "description": "x"}
    services.wallet_spend(user_id=user.id, amount=1_000, description="x", idempotency=key_for(body))
    assert services.idempotency_purge_expired() == 0
    old = timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL_S + 1)
    IdempotencyRecord.objects.filter(key="k1").update(created_at=old)
    # Expired but not purged yet: the key is free again (a new operation).
    again = services.wallet_spend(user_id=user.id, amount=1_000, description="x", idempotency=key_for(body))
    assert not again.replayed
    IdempotencyRecord.objects.filter(key="k1").update(created_at=old)
    assert services.idempotency_purge_expired() == 1

"""Holds: authorize (the available balance drops, the balance does not), then capture (in parts, never more
than held) or void, or let it expire; a capture racing the expiry: exactly one of them takes the money."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection

from outbox.models import OutboxEvent
from prepaid.errors import ApplicationError
from prepaid.events import event_validate
from tests.helpers import assert_ledger_consistent, balance_of, charge, held_of
from wallets import services
from wallets.models import Hold, HoldStatus, Operation, OperationKind


def _code(call) -> str:
    with pytest.raises(ApplicationError) as caught:
        call()
    return caught.value.code


def _place(user, amount, expires_in_s=3_600, description="주유 선승인"):
    return services.hold_place(user_id=user.id, amount=amount, description=description, expires_in_s=expires_in_s)


def _events(event_type: str) -> list[dict]:
    found = [e.event for e in OutboxEvent.objects.filter(event_type=event_type).order_by("id")]
    for event in found:
        event_validate(event)
    return found


@pytest.mark.django_db
def test_a_hold_lowers_the_available_balance_not_the_balance(user):
    charge(user, 10_000)
    placed = _place(user, 7_000)
    assert (placed.hold.status, placed.balance, placed.available) == (HoldStatus.ACTIVE, 10_000, 3_000)
    assert (balance_of(user.id), held_of(user.id)) == (10_000, 7_000)
    # What the hold keeps cannot be spent, sent or held again.
    assert _code(lambda: services.wallet_spend(user_id=user.id, amount=3_001, description="x")) == "insufficient_funds"
    assert _code(lambda: _place(user, 3_001)) == "insufficient_funds"
    services.wallet_spend(user_id=user.id, amount=3_000, description="the rest")
    (event,) = _events("HOLD_PLACED")
    assert (event["holdId"], event["amount"], event["availableBalance"], event["newBalance"]) == (
        str(placed.hold.id), 7_000, 3_000, 10_000)
    assert "transactionId" not in event["metadata"]


@pytest.mark.django_db
def test_captures_take_from_the_hold_until_it_is_used_up(user):
    charge(user, 10_000)
    hold = _place(user, 6_000).hold
    first = services.hold_capture(user_id=user.id, hold_id=hold.id, amount=2_500).transaction
    assert (first.kind, first.amount, first.balance_after) == (OperationKind.CAPTURE, 2_500, 7_500)
    assert Operation.objects.get(pk=first.id).hold_id == hold.id
    assert (held_of(user.id), Hold.objects.get(id=hold.id).status) == (3_500, HoldStatus.ACTIVE)
    assert _code(lambda: services.hold_capture(user_id=user.id, hold_id=hold.id, amount=3_501)) == \
        "capture_exceeds_hold"
    rest = services.hold_capture(user_id=user.id, hold_id=hold.id, amount=None).transaction
    assert (rest.amount, rest.balance_after, held_of(user.id)) == (3_500, 4_000, 0)
    ended = Hold.objects.get(id=hold.id)
    assert (ended.status, ended.captured, ended.ended_at is not None) == (HoldStatus.CAPTURED, 6_000, True)
    assert _code(lambda: services.hold_capture(user_id=user.id, hold_id=hold.id, amount=1)) == "hold_not_active"
    assert [(e["amount"], e["remaining"], e["released"]) for e in _events("HOLD_CAPTURED")] == [
        (2_500, 3_500, 0), (3_500, 0, 0)]
    # A capture is a spend from the hold: reversible like one.
    services.wallet_reverse(user_id=user.id, transaction_id=first.id, amount=None, reason="환불")
    assert balance_of(user.id) == 6_500
    assert_ledger_consistent(user.id)


@pytest.mark.django_db
def test_a_final_capture_releases_the_rest_and_a_void_releases_all(user, user_factory):
    charge(user, 10_000)
    hold = _place(user, 5_000).hold
    services.hold_capture(user_id=user.id, hold_id=hold.id, amount=1_000, final=True)
    assert (Hold.objects.get(id=hold.id).status, held_of(user.id), balance_of(user.id)) == (
        HoldStatus.CAPTURED, 0, 9_000)
    assert _events("HOLD_CAPTURED")[-1]["released"] == 4_000
    other = _place(user, 4_000).hold
    voided = services.hold_void(user_id=user.id, hold_id=other.id)
    assert (voided.hold.status, voided.available, held_of(user.id)) == (HoldStatus.VOIDED, 9_000, 0)
    assert _code(lambda: services.hold_void(user_id=user.id, hold_id=other.id)) == "hold_not_active"
    assert [(e["releasedAmount"], e["reason"]) for e in _events("HOLD_RELEASED")] == [(4_000, "voided")]
    # Another user's hold is not found.
    stranger = user_factory()
    assert _code(lambda: services.hold_void(user_id=stranger.id, hold_id=hold.id)) == "hold_not_found"
    assert _code(lambda: services.hold_capture(user_id=stranger.id, hold_id=other.id, amount=1)) == "hold_not_found"


@pytest.mark.django_db
def test_a_repeated_key_answers_the_same_hold(user):
    charge(user, 10_000)
    key = services.idempotency_key(key="hold-1", method="POST", path="/api/v1/wallet/holds", body={"amount": 1})
    first = services.hold_place(user_id=user.id, amount=1_000, description="d", expires_in_s=60, idempotency=key)
    again = services.hold_place(user_id=user.id, amount=1_000, description="d", expires_in_s=60, idempotency=key)
    assert (again.replayed, again.hold.id) == (True, first.hold.id)
    assert (Hold.objects.count(), held_of(user.id)) == (1, 1_000)


@pytest.mark.django_db
def test_a_hold_past_its_expiry_holds_nothing_and_the_sweep_ends_it_once(user):
    charge(user, 10_000)
    hold = _place(user, 8_000).hold
    Hold.objects.filter(id=hold.id).update(expires_at=hold.created_at - timedelta(hours=1))  # its time passed
    assert held_of(user.id) == 0  # before any sweep
    assert _code(lambda: services.hold_capture(user_id=user.id, hold_id=hold.id, amount=1)) == "hold_not_active"
    assert services.hold_expire_due() == 1
    assert services.hold_expire_due() == 0
    assert Hold.objects.get(id=hold.id).status == HoldStatus.EXPIRED
    assert [(e["releasedAmount"], e["reason"]) for e in _events("HOLD_RELEASED")] == [(8_000, "expired")]


@pytest.mark.django_db(transaction=True)
def test_captures_racing_the_expiry_each_hold_ends_exactly_once(user):
    """Captures and sweeps at the moment holds expire: whoever locks the wallet first decides; what one
    takes the other cannot (a sweep that did not lock, or did not look again, would release a captured
    hold: captured plus released would exceed the hold)."""
    charge(user, 100_000)
    holds = [_place(user, 1_000, expires_in_s=2).hold for _ in range(20)]
    due = max(h.expires_at for h in holds).timestamp()
    barrier = threading.Barrier(len(holds) + 4)

    def capture(i_hold):
        i, hold = i_hold
        try:
            barrier.wait()
            time.sleep(max(0.0, due - time.time() + (i - 10) * 0.003))  # some before the expiry, some after
            return services.hold_capture(user_id=user.id, hold_id=hold.id, amount=None)
        except ApplicationError as exc:
            return exc.code
        finally:
            connection.close()

    def sweep(_):
        try:
            barrier.wait()
            time.sleep(max(0.0, due - time.time() + 0.005))
            return sum(services.hold_expire_due() for _ in range(3))
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(holds) + 4) as pool:
        capturing = pool.map(capture, enumerate(holds))
        sweeping = pool.map(sweep, range(4))
        captures, sweeps = list(capturing), list(sweeping)
    services.hold_expire_due()  # what no one ended yet
    ended = {h.id: h for h in Hold.objects.filter(id__in=[h.id for h in holds])}
    captured = [h for h in ended.values() if h.status == HoldStatus.CAPTURED]
    expired = [h for h in ended.values() if h.status == HoldStatus.EXPIRED]
    assert len(captured) + len(expired) == 20
    assert all(h.captured == 1_000 for h in captured) and all(h.captured == 0 for h in expired)
    assert sum(1 for c in captures if not isinstance(c, str)) == len(captured)
    assert all(c == "hold_not_active" for c in captures if isinstance(c, str))
    assert len(_events("HOLD_CAPTURED")) == len(captured)
    assert len(_events("HOLD_RELEASED")) == len(expired)
    assert (balance_of(user.id), held_of(user.id)) == (100_000 - 1_000 * len(captured), 0)
    assert sweeps  # the sweeps ran
    assert_ledger_consistent(user.id)

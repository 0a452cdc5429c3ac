"""Data helpers shared by the tests of every app: orders, balances, ledger checks, API calls."""

import uuid

from django.db.models import Sum

from ledger.models import JournalEntry, Posting
from outbox.models import OutboxEvent
from wallets.models import Operation, Payment, Wallet

CHARGES, SPENDS, REVERSALS = "/api/v1/wallet/charges", "/api/v1/wallet/spends", "/api/v1/wallet/reversals"


def api_token(user) -> str:
    """A new API token of the user (its secret), as ``create_api_token`` makes one."""
    from accounts.services import api_token_create

    return api_token_create(user=user)[1]


def new_order_id() -> str:
    return "order-" + uuid.uuid4().hex[:16]


def charge(user, amount: int = 10_000, **kw):
    """Charge ``user``'s wallet through the services (the sandbox gateway confirms); its wallet operation."""
    from wallets import services

    return services.wallet_charge(user_id=user.id, amount=amount, payment_key=kw.pop("payment_key", "pk_test"),
                                  order_id=kw.pop("order_id", None) or new_order_id(), **kw).transaction


def balance_of(user_id: int) -> int:
    wallet = Wallet.objects.filter(user_id=user_id).first()
    return wallet.balance if wallet else 0


def posted_balance_of(user_id: int) -> int:
    wallet = Wallet.objects.filter(user_id=user_id).first()
    if wallet is None:
        return 0
    return Posting.objects.filter(account=wallet.account).aggregate(s=Sum("amount"))["s"] or 0


def assert_ledger_consistent(user_id: int) -> None:
    """Balance = postings, and each wallet posting's balance after is the running sum; every operation
    of the user is an entry summing to zero; one outbox event per operation."""
    assert balance_of(user_id) == posted_balance_of(user_id)
    assert balance_of(user_id) >= 0
    running = 0
    for posting in Posting.objects.filter(account__wallet__user_id=user_id).order_by("created_at", "id"):
        running += posting.amount
        assert posting.balance_after == running, (posting.id, posting.balance_after, running)
    entries = Operation.objects.filter(user_id=user_id).select_related("entry")
    for operation in entries:
        assert sum(p.amount for p in operation.entry.postings.all()) == 0
        assert operation.entry.postings.count() == 2
    # Holds placed and released move no money: their events carry no transaction.
    of_entries = OutboxEvent.objects.filter(key=str(user_id), payload__metadata__has_key="transactionId")
    assert of_entries.count() == entries.count()
    event_transaction_ids = set(of_entries.values_list("payload__metadata__transactionId", flat=True))
    assert event_transaction_ids == {str(e.id) for e in entries}


def ledger_snapshot() -> tuple[int, int, int]:
    """(journal entries, outbox events, payments): compare before and after to prove nothing was written."""
    return JournalEntry.objects.count(), OutboxEvent.objects.count(), Payment.objects.count()


def api_post(client, path: str, body, key=None, **extra):
    """POST JSON with an Idempotency-Key (a new one unless given; none if ``key`` is False)."""
    headers = {"HTTP_IDEMPOTENCY_KEY": key or str(uuid.uuid4())} if key is not False else {}
    return client.post(path, body, format="json", **headers, **extra)


def api_charge(client, amount: int = 10_000, **body):
    body = {"amount": amount, "paymentKey": "pk_" + uuid.uuid4().hex[:8], "orderId": new_order_id(), **body}
    return api_post(client, CHARGES, body)


def wallet_event(user_id: int, **overrides) -> dict:
    """A valid CHARGE_COMPLETED event for ``user_id`` (a new eventId each time), with ``overrides`` applied."""
    event = {
        "schemaVersion": 1, "eventId": str(uuid.uuid4()), "eventType": "CHARGE_COMPLETED", "userId": user_id,
        "occurredAt": "2026-01-20T10:00:00+09:00",
        "metadata": {"transactionId": str(uuid.uuid4()), "currency": "KRW"},
        "amount": 10_000, "newBalance": 50_000, "paymentKey": "pk", "orderId": "order-123456",
    }
    return {**event, **overrides}


def staff_sign_in(client, user) -> None:
    """Sign ``client`` in as staff ``user`` with a password and a second factor, as the admin, the
    operations page and a session's use of the staff API require (accounts/middleware.py)."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    client.force_login(user)
    device = (TOTPDevice.objects.filter(user=user, confirmed=True).first()
              or TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True))
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()


def held_of(user_id: int) -> int:
    """What the user's active holds (a refund's among them) keep of the balance."""
    from wallets.selectors import wallet_held

    return wallet_held(user_id=user_id)

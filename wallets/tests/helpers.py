"""Small helpers for wallet tests."""

import uuid

from django.db.models import Sum

from ledger.models import JournalEntry, Posting
from outbox.models import OutboxEvent
from wallets.models import Wallet


def new_order_id() -> str:
    return "order-" + uuid.uuid4().hex[:16]


def balance_of(user_id: int) -> int:
    wallet = Wallet.objects.filter(user_id=user_id).first()
    return wallet.balance if wallet else 0


def posted_balance_of(user_id: int) -> int:
    wallet = Wallet.objects.filter(user_id=user_id).first()
    if wallet is None:
        return 0
    return Posting.objects.filter(account=wallet.account).aggregate(s=Sum("amount"))["s"] or 0


def assert_ledger_consistent(user_id: int) -> None:
    """Balance = postings; every entry of the user sums to zero; one outbox event per entry."""
    assert balance_of(user_id) == posted_balance_of(user_id)
    assert balance_of(user_id) >= 0
    entries = JournalEntry.objects.filter(user_id=user_id)
    for entry in entries:
        assert sum(p.amount for p in entry.postings.all()) == 0
        assert entry.postings.count() == 2
    assert OutboxEvent.objects.filter(key=str(user_id)).count() == entries.count()
    event_transaction_ids = set(
        OutboxEvent.objects.filter(key=str(user_id)).values_list("payload__metadata__transactionId", flat=True)
    )
    assert event_transaction_ids == {str(e.id) for e in entries}

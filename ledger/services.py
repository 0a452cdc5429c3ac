"""Writes to the ledger.

The writes are PostgreSQL functions (``ledger/sql/``): writers that are
themselves SQL (the wallet operations) call them inside their statement; these
are the same writes from Python.
"""

import uuid
from datetime import datetime

from django.db import connection
from django.utils import timezone

from ledger.models import Account, AccountKind, EntryKind, JournalEntry
from prepaid.money import CURRENCY

SYSTEM_ACCOUNT_KINDS = {
    Account.PAYMENT_CLEARING_CODE: AccountKind.PAYMENT_CLEARING,
    Account.MERCHANT_SETTLEMENT_CODE: AccountKind.MERCHANT_SETTLEMENT,
}

def ledger_system_account(*, code: str) -> Account:
    """The system account with this code, created on first use (safe under concurrency)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT ledger_system_account_id(%s, %s, %s)", [code, SYSTEM_ACCOUNT_KINDS[code], CURRENCY])
        (account_id,) = cursor.fetchone()
    return Account.objects.get(id=account_id)


def ledger_entry_record(
    *,
    kind: EntryKind,
    user_id: int,
    amount: int,
    balance_after: int,
    legs: list[tuple[Account, int]],
    reverses: JournalEntry | None = None,
    payment_key: str = "",
    order_id: str = "",
    description: str = "",
    idempotency_key: str = "",
    created_at: datetime | None = None,
) -> JournalEntry:
    """Append one journal entry with its postings (``legs``: account, signed won), in the caller's transaction.

    The database refuses legs that are fewer than two, zero, or do not sum to zero
    (``IntegrityError``), before writing and again at commit.
    """
    entry_id = uuid.uuid4()
    created_at = created_at or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ledger_entry_append(%s, %s, %s, %s, %s, %s::bigint[], %s::bigint[], %s, %s, %s, %s, %s, %s)",
            [entry_id, kind, user_id, amount, balance_after, [account.id for account, _ in legs],
             [leg for _, leg in legs], reverses.id if reverses else None, payment_key, order_id, description,
             idempotency_key, created_at],
        )
    return JournalEntry.objects.get(id=entry_id)

"""Writes to the ledger.

The writes are PostgreSQL functions (``ledger/sql/``): writers that are
themselves SQL (the wallet operations) call them inside their statement; these
are the same writes from Python.
"""

import uuid
from datetime import datetime

from django.db import connection
from django.utils import timezone

from ledger.models import Account, AccountKind, JournalEntry
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
    kind: str,
    legs: list[tuple[Account, int]],
    description: str = "",
    balances_after: list[int | None] | None = None,
    created_at: datetime | None = None,
) -> JournalEntry:
    """Append one journal entry with its postings (``legs``: account, signed won), in the caller's transaction.

    ``balances_after``: each leg's account balance after it, where the caller keeps that
    balance (None where it does not). The database refuses legs that are fewer than two,
    zero, or do not sum to zero (``IntegrityError``), before writing and again at commit.
    """
    entry_id = uuid.uuid4()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ledger_entry_append(%s, %s, %s, %s, %s::bigint[], %s::bigint[], %s::bigint[])",
            [entry_id, kind, description, created_at or timezone.now(), [account.id for account, _ in legs],
             [leg for _, leg in legs], balances_after or [None] * len(legs)],
        )
    return JournalEntry.objects.get(id=entry_id)

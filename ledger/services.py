"""Writes to the ledger. Each function runs inside the caller's transaction."""

from django.db import connection
from django.utils import timezone

from ledger.models import Account, AccountKind, EntryKind, JournalEntry, Posting
from prepaid.invariants import ensure

SYSTEM_ACCOUNT_KINDS = {
    Account.PAYMENT_CLEARING_CODE: AccountKind.PAYMENT_CLEARING,
    Account.MERCHANT_SETTLEMENT_CODE: AccountKind.MERCHANT_SETTLEMENT,
}


def ledger_system_account(*, code: str) -> Account:
    """The system account with this code, created on first use (safe under concurrency)."""
    account = Account.objects.filter(code=code).first()
    if account is None:
        Account.objects.bulk_create([Account(code=code, kind=SYSTEM_ACCOUNT_KINDS[code])], ignore_conflicts=True)
        account = Account.objects.get(code=code)
    return account


def ledger_wallet_account_create(*, user_id: int) -> Account:
    return Account.objects.create(code=f"wallet:{user_id}", kind=AccountKind.WALLET)


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
) -> JournalEntry:
    """Append one journal entry with its postings (``legs``: account, signed won).

    The legs must sum to zero; the database checks it again at commit.
    """
    ensure(connection.in_atomic_block, "ledger entries are written inside the operation's transaction")
    ensure(len(legs) >= 2, f"a journal entry needs two or more postings, got {len(legs)}")
    ensure(all(leg_amount != 0 for _, leg_amount in legs), "a posting amount is never zero")
    ensure(sum(leg_amount for _, leg_amount in legs) == 0, f"postings must sum to zero: {legs}")
    ensure(amount > 0, f"an entry amount is positive won, got {amount}")
    entry = JournalEntry.objects.create(
        kind=kind,
        user_id=user_id,
        amount=amount,
        balance_after=balance_after,
        reverses=reverses,
        payment_key=payment_key,
        order_id=order_id,
        description=description,
        idempotency_key=idempotency_key,
        created_at=timezone.now(),
    )
    Posting.objects.bulk_create([Posting(entry=entry, account=account, amount=leg) for account, leg in legs])
    return entry

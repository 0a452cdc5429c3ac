"""The database itself keeps the ledger honest: append-only, balanced entries."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from ledger.models import Account, AccountKind, JournalEntry, Posting
from ledger.services import ledger_entry_record, ledger_system_account


def charged_entry(user, amount=10_000) -> JournalEntry:
    """A balanced entry (as a charge writes it): the user's account +amount, payment clearing -amount."""
    account = Account.objects.create(code=f"wallet:{user.id}", kind=AccountKind.WALLET)
    clearing = ledger_system_account(code=Account.PAYMENT_CLEARING_CODE)
    with transaction.atomic():
        return ledger_entry_record(kind="CHARGE", legs=[(account, amount), (clearing, -amount)],
                                   balances_after=[amount, None])


@pytest.mark.django_db
def test_entries_and_postings_cannot_be_updated_or_deleted(user):
    entry = charged_entry(user)
    # Raw SQL, as a careless script or a psql session would: the database itself refuses.
    statements = [
        ("UPDATE ledger_journalentry SET description = 'edited' WHERE id = %s", [entry.id]),
        ("DELETE FROM ledger_journalentry WHERE id = %s", [entry.id]),
        ("UPDATE ledger_posting SET amount = amount + 1 WHERE entry_id = %s", [entry.id]),
        ("UPDATE ledger_posting SET balance_after = 0 WHERE entry_id = %s", [entry.id]),
        ("DELETE FROM ledger_posting WHERE entry_id = %s", [entry.id]),
    ]
    for sql, params in statements:
        with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
    assert sorted(Posting.objects.filter(entry=entry).values_list("amount", flat=True)) == [-10_000, 10_000]


@pytest.mark.django_db(transaction=True)
def test_the_database_refuses_an_unbalanced_entry_at_commit(user):
    wallet_account = Account.objects.create(code=f"wallet:{user.id}", kind=AccountKind.WALLET)
    clearing = ledger_system_account(code=Account.PAYMENT_CLEARING_CODE)
    with pytest.raises(IntegrityError, match="unbalanced"), transaction.atomic():
        entry = JournalEntry.objects.create(kind="CHARGE", created_at=timezone.now())
        Posting.objects.create(entry=entry, account=wallet_account, amount=100, created_at=entry.created_at)
        Posting.objects.create(entry=entry, account=clearing, amount=-99, created_at=entry.created_at)
    with pytest.raises(IntegrityError, match="unbalanced"), transaction.atomic():
        JournalEntry.objects.create(kind="CHARGE", created_at=timezone.now())
    assert not JournalEntry.objects.exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM ledger_posting")
        assert cursor.fetchone()[0] == 0

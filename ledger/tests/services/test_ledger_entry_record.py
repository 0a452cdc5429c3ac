"""ledger_entry_record (the SQL function ledger_entry_append) checks an entry before writing it."""

import pytest
from django.db import IntegrityError, transaction

from ledger.models import Account, AccountKind, EntryKind, JournalEntry
from ledger.services import ledger_entry_record, ledger_system_account


@pytest.mark.django_db
def test_the_service_checks_balance_before_writing(user):
    account = Account.objects.create(code=f"wallet:{user.id}", kind=AccountKind.WALLET)
    clearing = ledger_system_account(code=Account.PAYMENT_CLEARING_CODE)
    refused = [
        ([(account, 100), (clearing, -90)], "sum to zero"),
        ([(account, 0)], "two or more"),
        ([(account, 100), (clearing, 0), (clearing, -100)], "never zero"),
    ]
    for legs, reason in refused:
        with pytest.raises(IntegrityError, match=reason), transaction.atomic():
            ledger_entry_record(kind=EntryKind.CHARGE, user_id=user.id, amount=100, balance_after=100, legs=legs)
    assert not JournalEntry.objects.exists()
    with transaction.atomic():
        entry = ledger_entry_record(kind=EntryKind.CHARGE, user_id=user.id, amount=100, balance_after=100,
                                    legs=[(account, 100), (clearing, -100)])
    assert sorted(entry.postings.values_list("amount", flat=True)) == [-100, 100]

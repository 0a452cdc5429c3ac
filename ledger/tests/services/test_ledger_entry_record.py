"""ledger_entry_record (the SQL function ledger_entry_append) checks an entry before writing it."""

import pytest
from django.db import IntegrityError, transaction

from ledger.models import Account, AccountKind, JournalEntry
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
            ledger_entry_record(kind="CHARGE", legs=legs)
    assert not JournalEntry.objects.exists()
    with transaction.atomic():
        entry = ledger_entry_record(kind="CHARGE", legs=[(account, 100), (clearing, -100)], balances_after=[100, None])
    assert sorted(entry.postings.values_list("amount", "balance_after")) == [(-100, None), (100, 100)]
    assert set(entry.postings.values_list("created_at", flat=True)) == {entry.created_at}


@pytest.mark.django_db
def test_an_entry_moves_money_between_any_accounts(user, user_factory):
    """The ledger knows accounts, not wallets: one entry may post to several wallets and a system account."""
    first = Account.objects.create(code=f"wallet:{user.id}", kind=AccountKind.WALLET)
    second = Account.objects.create(code=f"wallet:{user_factory().id}", kind=AccountKind.WALLET)
    clearing = ledger_system_account(code=Account.PAYMENT_CLEARING_CODE)
    with transaction.atomic():
        entry = ledger_entry_record(kind="SPLIT", description="three legs",
                                    legs=[(first, 700), (second, 300), (clearing, -1_000)],
                                    balances_after=[700, 300, None])
    assert entry.postings.count() == 3
    with pytest.raises(IntegrityError, match="two or more postings"), transaction.atomic():
        ledger_entry_record(kind="SPLIT", legs=[(first, 1), (clearing, -1)], balances_after=[1])

"""ledger_entry_record checks an entry before writing it."""

import pytest

from ledger.models import Account, AccountKind, EntryKind
from ledger.services import ledger_entry_record, ledger_system_account
from prepaid.invariants import InvariantViolation


@pytest.mark.django_db
def test_the_service_checks_balance_before_writing(user):
    account = Account.objects.create(code=f"wallet:{user.id}", kind=AccountKind.WALLET)
    clearing = ledger_system_account(code=Account.PAYMENT_CLEARING_CODE)
    with pytest.raises(InvariantViolation, match="sum to zero"):
        ledger_entry_record(kind=EntryKind.CHARGE, user_id=user.id, amount=100, balance_after=100,
                            legs=[(account, 100), (clearing, -90)])
    with pytest.raises(InvariantViolation, match="two or more"):
        ledger_entry_record(kind=EntryKind.CHARGE, user_id=user.id, amount=100, balance_after=100,
                            legs=[(account, 0)])

"""The database keeps the ledger honest: append-only, balanced entries; reconcile finds drift."""

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from ledger.models import Account, AccountKind, EntryKind, JournalEntry, Posting
from ledger.services import ledger_entry_record, ledger_system_account
from prepaid.invariants import InvariantViolation
from wallets import services
from wallets.models import Wallet
from wallets.tests.helpers import new_order_id


def charged_entry(user, amount=10_000):
    return services.wallet_charge(user_id=user.id, amount=amount, payment_key="pk", order_id=new_order_id())


@pytest.mark.django_db
def test_entries_and_postings_cannot_be_updated_or_deleted(user):
    entry = charged_entry(user)
    # Raw SQL, as a careless script or a psql session would: the database itself refuses.
    statements = [
        ("UPDATE ledger_journalentry SET amount = 1 WHERE id = %s", [entry.id]),
        ("DELETE FROM ledger_journalentry WHERE id = %s", [entry.id]),
        ("UPDATE ledger_posting SET amount = amount + 1 WHERE entry_id = %s", [entry.id]),
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
        entry = JournalEntry.objects.create(kind=EntryKind.CHARGE, user=user, amount=100, balance_after=100,
                                            created_at=timezone.now())
        Posting.objects.create(entry=entry, account=wallet_account, amount=100)
        Posting.objects.create(entry=entry, account=clearing, amount=-99)
    with pytest.raises(IntegrityError, match="unbalanced"), transaction.atomic():
        JournalEntry.objects.create(kind=EntryKind.CHARGE, user=user, amount=100, balance_after=100,
                                    created_at=timezone.now())
    assert not JournalEntry.objects.exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM ledger_posting")
        assert cursor.fetchone()[0] == 0


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


@pytest.mark.django_db
def test_reconcile_passes_on_a_consistent_ledger_and_fails_on_drift(user_factory, capsys):
    alice, bob = user_factory(), user_factory()
    charged_entry(alice, 5_000)
    charged_entry(bob, 7_000)
    services.wallet_spend(user_id=bob.id, amount=2_000, description="x")
    call_command("reconcile_ledger")
    assert "reconciled" in capsys.readouterr().out

    # Money appearing from nowhere: a balance changed without postings.
    Wallet.objects.filter(user=bob).update(balance=6_000)
    with pytest.raises(CommandError, match="1 wallet"):
        call_command("reconcile_ledger")
    out = capsys.readouterr().out
    assert f"user {bob.id}" in out
    assert "balance 6000 != postings 5000" in out
    assert f"user {alice.id}" not in out


@pytest.mark.django_db(transaction=True)
def test_reconcile_exits_non_zero_from_the_command_line(user):
    import os
    import subprocess
    import sys

    from tests.support import ROOT, test_database_url

    charged_entry(user, 1_000)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": test_database_url()}

    def reconcile():
        return subprocess.run([sys.executable, "manage.py", "reconcile_ledger"], cwd=ROOT, capture_output=True,
                              text=True, env=env)

    assert reconcile().returncode == 0
    Wallet.objects.filter(user=user).update(balance=999)
    result = reconcile()
    assert result.returncode != 0
    assert "balance 999 != postings 1000" in result.stdout


@pytest.mark.django_db
def test_the_scheduled_reconcile_reports_drift(user, caplog):
    from ledger.tasks import ledger_reconcile

    charged_entry(user, 1_000)
    assert ledger_reconcile() == {"wallet_mismatches": 0, "unbalanced_entries": 0}
    Wallet.objects.filter(user=user).update(balance=5)
    assert ledger_reconcile() == {"wallet_mismatches": 1, "unbalanced_entries": 0}
    assert "ledger mismatch" in caplog.text

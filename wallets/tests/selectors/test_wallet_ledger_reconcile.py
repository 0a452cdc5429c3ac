"""The reconcile: every wallet balance equals its postings, every entry balances; drift is reported."""

import pytest
from django.core.management import CommandError, call_command

from tests.helpers import charge
from wallets import services
from wallets.models import Wallet


@pytest.mark.django_db
def test_reconcile_passes_on_a_consistent_ledger_and_fails_on_drift(user_factory, capsys):
    alice, bob = user_factory(), user_factory()
    charge(alice, 5_000)
    charge(bob, 7_000)
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

    charge(user, 1_000)
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
    from wallets.tasks import wallet_ledger_reconcile

    charge(user, 1_000)
    assert wallet_ledger_reconcile() == {"wallet_mismatches": 0, "unbalanced_entries": 0}
    Wallet.objects.filter(user=user).update(balance=5)
    assert wallet_ledger_reconcile() == {"wallet_mismatches": 1, "unbalanced_entries": 0}
    assert "ledger mismatch" in caplog.text

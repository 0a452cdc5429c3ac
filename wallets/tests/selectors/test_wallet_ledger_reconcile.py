"""The reconcile: every wallet balance equals its postings, each wallet posting follows the one before, every
entry balances; drift is reported. The full pass reads everything (an operator's command); the hourly one
reads what was written since the last run's mark, and finds the same planted mismatches."""

import pytest
from django.core.management import CommandError, call_command

from ledger.models import Account, Posting
from ledger.services import ledger_entry_record, ledger_system_account
from tests.helpers import charge
from wallets import services
from wallets.models import ReconcileRun, Wallet


@pytest.fixture(autouse=True)
def _settled_at_once(settings):
    settings.LEDGER_RECONCILE_SETTLE_S = 0  # in a test, what was written is committed (one transaction)


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


def _wallet_posting(user, amount: int, balance_after: int):
    """A journal entry between the user's wallet and merchant settlement, written past the wallet (a plant)."""
    wallet = Wallet.objects.get(user=user)
    merchant = ledger_system_account(code=Account.MERCHANT_SETTLEMENT_CODE)
    ledger_entry_record(kind="SPEND", legs=[(wallet.account, amount), (merchant, -amount)],
                        balances_after=[balance_after, None])


@pytest.mark.django_db
def test_the_incremental_and_the_full_pass_find_the_same_planted_mismatches(user_factory):
    alice, bob, carol = user_factory(), user_factory(), user_factory()
    charge(alice, 5_000)
    charge(bob, 7_000)
    charge(carol, 9_000)
    first = services.ledger_reconcile()  # the first run covers everything written so far
    assert first.clean and first.postings_checked == 6 and first.wallets_checked == 3
    assert ReconcileRun.objects.get().upto_posting_id == Posting.objects.order_by("-id").first().id

    services.wallet_spend(user_id=bob.id, amount=2_000, description="x")
    Wallet.objects.filter(user=bob).update(balance=6_000)  # a balance changed beside its postings
    _wallet_posting(alice, -100, 4_900)  # money out of the ledger, the wallet untouched
    _wallet_posting(carol, -100, 1_234)  # a posting that does not follow the one before...
    Wallet.objects.filter(user=carol).update(balance=1_234)  # ...and a wallet that agrees with it

    incremental = services.ledger_reconcile()
    full = services.ledger_reconcile(full=True)
    assert incremental.postings_checked == 6  # the spend's and the plants' postings, not the history
    assert {(m["user_id"], m["balance"], m["posted"]) for m in incremental.wallet_mismatches} == {
        (bob.id, 6_000, 5_000), (alice.id, 5_000, 4_900)}
    assert {(m["user_id"], m["balance"], m["posted"]) for m in full.wallet_mismatches} == {
        (bob.id, 6_000, 5_000), (alice.id, 5_000, 4_900), (carol.id, 1_234, 8_900)}
    assert incremental.broken_postings == full.broken_postings
    assert [(p["user_id"], p["balance_after"], p["before"], p["amount"]) for p in full.broken_postings] == [
        (carol.id, 1_234, 9_000, -100)]
    assert not incremental.unbalanced_entries and not full.unbalanced_entries
    runs = list(ReconcileRun.objects.order_by("id").values_list("kind", "mismatches"))
    assert runs == [("INCREMENTAL", 0), ("INCREMENTAL", 3), ("FULL", 4)]
    # The next hourly run starts at the mark: nothing new, nothing read, nothing found.
    assert services.ledger_reconcile().postings_checked == 0


@pytest.mark.django_db
def test_the_mark_waits_for_postings_to_settle(user, settings):
    settings.LEDGER_RECONCILE_SETTLE_S = 300  # a transaction might still be writing below the newest postings
    charge(user, 1_000)
    found = services.ledger_reconcile()
    assert (found.postings_checked, found.upto_posting_id) == (0, 0)


@pytest.mark.django_db(transaction=True)
def test_reconcile_exits_non_zero_from_the_command_line(user):
    import os
    import subprocess
    import sys

    from tests.support import ROOT, test_database_url

    charge(user, 1_000)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": test_database_url(),
           "LEDGER_RECONCILE_SETTLE_S": "0"}

    def reconcile(*args):
        return subprocess.run([sys.executable, "manage.py", "reconcile_ledger", *args], cwd=ROOT,
                              capture_output=True, text=True, env=env)

    assert reconcile().returncode == 0
    Wallet.objects.filter(user=user).update(balance=999)
    result = reconcile()
    assert result.returncode != 0
    assert "balance 999 != postings 1000" in result.stdout
    charge(user, 1_000)  # written on the drifted balance: its posting does not follow the one before
    result = reconcile("--incremental")
    assert result.returncode != 0
    assert "balance after 1999 != 1000 before +1000" in result.stdout


@pytest.mark.django_db
def test_the_scheduled_reconcile_reports_drift(user, caplog):
    from wallets.tasks import wallet_ledger_reconcile

    charge(user, 1_000)
    assert wallet_ledger_reconcile() == {"wallet_mismatches": 0, "unbalanced_entries": 0, "broken_postings": 0,
                                         "postings_checked": 2}
    services.wallet_spend(user_id=user.id, amount=100, description="x")
    Wallet.objects.filter(user=user).update(balance=5)
    assert wallet_ledger_reconcile()["wallet_mismatches"] == 1
    assert "ledger mismatch" in caplog.text

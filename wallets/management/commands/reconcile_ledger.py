from django.core.management.base import BaseCommand, CommandError

from wallets.services import ledger_reconcile


class Command(BaseCommand):
    help = (
        "Check the ledger, in full: every wallet balance equals the sum of its account's postings, and every "
        "journal entry has two or more postings summing to zero. With --incremental, only what was written "
        "since the last run's mark (what the hourly run does): each new posting of a wallet is the one before "
        "plus its amount, each wallet touched holds its last posting's balance, each entry touched balances. "
        "Records the run (Ledger reconcile runs, in the admin). Exits non-zero on any mismatch."
    )

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=1000, help="report at most this many of each kind")
        parser.add_argument("--incremental", action="store_true",
                            help="check only what changed since the last run's mark")

    def handle(self, *args, limit, incremental, **options):
        found = ledger_reconcile(full=not incremental, limit=limit)
        wallets, entries, postings = found.wallet_mismatches, found.unbalanced_entries, found.broken_postings
        for row in wallets:
            self.stdout.write(
                f"wallet {row['id']} (user {row['user_id']}): balance {row['balance']} "
                f"!= postings {row['posted']} (difference {row['balance'] - row['posted']:+d})"
            )
        for row in postings:
            self.stdout.write(
                f"posting {row['id']} of wallet {row['wallet_id']} (user {row['user_id']}, entry {row['entry_id']}): "
                f"balance after {row['balance_after']} != {row['before']} before {row['amount']:+d}"
            )
        for row in entries:
            self.stdout.write(
                f"entry {row['id']} ({row['kind']}): "
                f"{row['posting_count']} posting(s) summing to {row['posting_sum']}"
            )
        scope = f"postings {found.from_posting_id + 1}..{found.upto_posting_id}" if incremental else "every posting"
        if not found.clean:
            raise CommandError(f"ledger mismatch: {len(wallets)} wallet(s), {len(postings)} posting(s), "
                               f"{len(entries)} entr(y/ies) ({scope})")
        self.stdout.write(self.style.SUCCESS(
            f"ledger reconciled: every balance matches its postings ({scope}: {found.postings_checked} postings, "
            f"{found.wallets_checked} wallets)"))

from django.core.management.base import BaseCommand, CommandError

from wallets.selectors import wallet_ledger_reconcile


class Command(BaseCommand):
    help = (
        "Check the ledger: every wallet balance equals the sum of its account's postings, and every "
        "journal entry has two or more postings summing to zero. Exits non-zero on any mismatch."
    )

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=1000, help="report at most this many of each kind")

    def handle(self, *args, limit, **options):
        found = wallet_ledger_reconcile(limit=limit)
        wallets, entries = found.wallet_mismatches, found.unbalanced_entries
        for row in wallets:
            self.stdout.write(
                f"wallet {row['id']} (user {row['user_id']}): balance {row['balance']} "
                f"!= postings {row['posted']} (difference {row['balance'] - row['posted']:+d})"
            )
        for row in entries:
            self.stdout.write(
                f"entry {row['id']} ({row['kind']}): "
                f"{row['posting_count']} posting(s) summing to {row['posting_sum']}"
            )
        if not found.clean:
            raise CommandError(f"ledger mismatch: {len(wallets)} wallet(s), {len(entries)} entr(y/ies)")
        self.stdout.write(self.style.SUCCESS("ledger reconciled: every balance matches its postings"))

import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from wallets.services import custody_report_make


class Command(BaseCommand):
    help = (
        "Write a day's outstanding-balance report (선불충전금: users' balances at the day's end, Korean time, and "
        "the day's charges, uses and refunds) from the ledger, and print it. Exits non-zero when the day's flows "
        "do not add up to its balances. Default: yesterday."
    )

    def add_arguments(self, parser):
        parser.add_argument("--day", type=datetime.date.fromisoformat, help="YYYY-MM-DD (Korean time)")

    def handle(self, *args, day, **options):
        day = day or timezone.localdate() - datetime.timedelta(days=1)
        report = custody_report_make(day=day)
        self.stdout.write(
            f"{report.day}: outstanding {report.outstanding:,} won (opening {report.opening:,}; charged "
            f"{report.charged:,}, refunded {report.refunded:,}, used {report.used:,}, use reversed "
            f"{report.use_reversed:,}, expired {report.expired:,}, paid out {report.paid_out:,})")
        if report.custody_amount is not None:
            self.stdout.write(f"in custody: {report.custody_amount:,} won ({report.custody_ratio:.2%})")
        if not report.reconciled:
            raise CommandError(f"the day's flows miss its balances by {report.difference:+,} won")

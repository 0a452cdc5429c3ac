"""Recompute the audit store's hash chains and check them against the seals: exit 1 naming the first
break of each chain, if any."""

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from audit import metrics
from audit.selectors import audit_verify


def _moment(text: str):
    moment = parse_datetime(text)
    if moment is None or moment.tzinfo is None:
        raise CommandError(f"not a date and time with its offset: {text!r} (e.g. 2026-12-01T00:00:00+09:00)")
    return moment


class Command(BaseCommand):
    help = "Check every chain of the audit store (or one user's, or a period's) and the daily seals."

    def add_arguments(self, parser):
        parser.add_argument("--user", type=int, help="one user's chain")
        parser.add_argument("--from", dest="start", type=_moment, help="the rows from this moment")
        parser.add_argument("--to", dest="end", type=_moment, help="the rows before this moment")

    def handle(self, *args, user, start, end, **options):
        breaks = audit_verify(user_id=user, start=start, end=end)
        metrics.VERIFY_BREAKS.set(len(breaks))
        for found in breaks:
            self.stdout.write(f"BROKEN {found}")
        if breaks:
            raise CommandError(f"audit store: {len(breaks)} chain(s) broken")
        self.stdout.write(self.style.SUCCESS("audit store: every chain and seal checks out"))

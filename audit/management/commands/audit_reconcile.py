"""The audit store against the money: exit 1 listing what does not agree."""

import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from audit.selectors import audit_reconcile


class Command(BaseCommand):
    help = ("Check that every operation and hold of a period has exactly its events in the audit store, and "
            "every stored event a source (default: the last day, up to --lag-s ago).")

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=1, help="how far back the period starts")
        parser.add_argument("--lag-s", type=int, default=300, help="leave out the last seconds (events on their way)")

    def handle(self, *args, days, lag_s, **options):
        end = timezone.now() - datetime.timedelta(seconds=lag_s)
        found = audit_reconcile(start=end - datetime.timedelta(days=days), end=end)
        for row in found.missing:
            self.stdout.write(f"missing or miscounted: {row}")
        for row in found.unexplained:
            self.stdout.write(f"no source: {row}")
        if not found.clean:
            raise CommandError(f"audit store: {len(found.missing)} missing, {len(found.unexplained)} without source")
        self.stdout.write(self.style.SUCCESS("audit store: every operation and hold has its events, and no more"))

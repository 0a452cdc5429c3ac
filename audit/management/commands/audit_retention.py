"""Archive, then drop, the audit store's month partitions older than AUDIT_RETENTION_DAYS."""

from django.core.management.base import BaseCommand

from audit.services import audit_retention


class Command(BaseCommand):
    help = ("Archive (JSON Lines, gzip, read back) then drop every month partition of the audit store whose events "
            "are all older than AUDIT_RETENTION_DAYS; never a row younger.")

    def handle(self, *args, **options):
        cuts = audit_retention()
        for cut in cuts:
            self.stdout.write(f"{cut.partition}: {cut.rows:,} rows archived to {cut.archive}, dropped")
        if not cuts:
            self.stdout.write("audit store: no partition past its retention")

"""Consume wallet events into the audit store until SIGTERM/SIGINT."""

from django.core.management.base import BaseCommand, CommandError

from audit.consumer import AuditConsumer
from notifications.consumer import consumer_loops_run


class Command(BaseCommand):
    help = "Read every wallet event from Kafka into the audit store (its own consumer group), once, hash-chained."

    def handle(self, *args, **options):
        failure = consumer_loops_run((AuditConsumer,))
        if failure is not None:
            raise CommandError(f"audit consumer stopped on an error: {failure!r}")

"""Consume wallet events into the audit store until SIGTERM/SIGINT."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from audit.consumer import AuditConsumer
from notifications.consumer import consumer_loops_run
from prepaid.processes import command_processes_run


class Command(BaseCommand):
    help = "Read every wallet event from Kafka into the audit store (its own consumer group), once, hash-chained."

    def add_arguments(self, parser):
        parser.add_argument("--processes", type=int, default=None,
                            help="members of the group, each a process of its own (default: "
                                 "AUDIT_CONSUMER_PROCESSES); 1: this process alone")

    def handle(self, *args, processes=None, **options):
        processes = settings.AUDIT_CONSUMER_PROCESSES if processes is None else processes
        if processes < 1:
            raise CommandError("--processes: at least 1")
        if processes == 1:
            failure = consumer_loops_run((AuditConsumer,))
            if failure is not None:
                raise CommandError(f"audit consumer stopped on an error: {failure!r}")
            return
        code = command_processes_run(["run_audit_consumer", "--processes", "1"], processes)
        if code is not None:
            raise CommandError(f"an audit consumer process exited with {code}")

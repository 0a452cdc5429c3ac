"""Consume wallet events into notifications (and the DLT into DeadLetter rows) until SIGTERM/SIGINT."""

import functools

from django.core.management.base import BaseCommand, CommandError

from notifications.channels import CHANNELS
from notifications.consumer import ChannelConsumer, DeadLetterStore, WalletEventConsumer, consumer_loops_run


class Command(BaseCommand):
    help = "Read wallet events from Kafka, store a notification per event, push it over SSE; park failures on the DLT."

    def add_arguments(self, parser):
        parser.add_argument("--channel", choices=["in-app", *CHANNELS], default="in-app",
                            help="in-app (default): notifications, SSE and the DLT store; email or slack: that "
                                 "channel alone, on its own consumer group")

    def handle(self, *args, **options):
        if options["channel"] == "in-app":
            loops = (WalletEventConsumer, DeadLetterStore)
        else:
            loops = (functools.partial(ChannelConsumer, channel=options["channel"]),)
        failure = consumer_loops_run(loops)
        if failure is not None:
            raise CommandError(f"consumer stopped on an error: {failure!r}")

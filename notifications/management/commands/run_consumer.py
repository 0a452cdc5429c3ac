"""Consume wallet events into notifications (and the DLT into DeadLetter rows) until SIGTERM/SIGINT."""

import functools
import logging
import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from notifications.channels import CHANNELS
from notifications.consumer import ChannelConsumer, DeadLetterStore, WalletEventConsumer

logger = logging.getLogger("notifications.consumer")


class Command(BaseCommand):
    help = "Read wallet events from Kafka, store a notification per event, push it over SSE; park failures on the DLT."

    def add_arguments(self, parser):
        parser.add_argument("--channel", choices=["in-app", *CHANNELS], default="in-app",
                            help="in-app (default): notifications, SSE and the DLT store; email or slack: that "
                                 "channel alone, on its own consumer group")

    def handle(self, *args, **options):
        stop = threading.Event()

        def request_stop(signum, frame):
            logger.info("signal %s: finishing the current record, then stopping", signum)
            stop.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        failures: list[BaseException] = []

        def run(loop_class):
            try:
                loop_class(stop).run()
            except BaseException as exc:  # a crashed loop stops the process, visibly
                logger.exception("%s crashed", getattr(loop_class, "__name__", "a channel loop"))
                failures.append(exc)
                stop.set()

        if options["channel"] == "in-app":
            loops = (WalletEventConsumer, DeadLetterStore)
        else:
            loops = (functools.partial(ChannelConsumer, channel=options["channel"]),)
        threads = [threading.Thread(target=run, args=(cls,), name=getattr(cls, "__name__", options["channel"]))
                   for cls in loops]
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            for thread in threads:
                thread.join(timeout=0.5)
        if failures:
            raise CommandError(f"consumer stopped on an error: {failures[0]!r}")

import dataclasses

from django.core.management.base import BaseCommand

from outbox.relay import outbox_relay_run
from outbox.selectors import outbox_stats


class Command(BaseCommand):
    help = "Drain the outbox to Kafka once (what the Celery relay task does), then print the outbox numbers."

    def add_arguments(self, parser):
        parser.add_argument("--time-budget", type=float, default=None, help="seconds; default: the setting")
        parser.add_argument("--batch-size", type=int, default=None)
        parser.add_argument("--stats", action="store_true", help="only print the numbers, relay nothing")

    def handle(self, *args, time_budget, batch_size, stats, **options):
        if not stats:
            result = outbox_relay_run(time_budget_s=time_budget, batch_size=batch_size)
            self.stdout.write(str(dataclasses.asdict(result)))
        self.stdout.write(str(outbox_stats()))

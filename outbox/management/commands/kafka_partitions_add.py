from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from outbox.services import PartitionsAddError, outbox_partitions_add


class Command(BaseCommand):
    help = ("Give the wallet events topic more partitions, keeping every user's order: pause the relays, wait "
            "until every consumer group has caught up, add the partitions, resume (outbox.services."
            "outbox_partitions_add).")

    def add_arguments(self, parser):
        parser.add_argument("partitions", type=int, help="the topic's partition count after (Kafka only adds)")
        parser.add_argument("--skip-group", action="append", default=[], metavar="GROUP",
                            help="a consumer group not to wait for (its users' order may break); repeatable")

    def handle(self, *args, partitions, skip_group, **options):
        try:
            added = outbox_partitions_add(total=partitions, skip_groups=frozenset(skip_group),
                                          progress=lambda line: self.stdout.write(line))
        except PartitionsAddError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(
            f"{added.topic}: {added.before} -> {added.after} partitions; caught up first: "
            f"{', '.join(added.caught_up) or 'none'}"))
        if added.ignored:
            self.stdout.write(f"not running, not waited for: {', '.join(added.ignored)}")
        if added.not_assigned:
            self.stdout.write(self.style.WARNING(
                f"not yet reading every new partition after {settings.KAFKA_PARTITIONS_ADD_ASSIGNMENT_WAIT_S} s: "
                f"{', '.join(added.not_assigned)} (they will within KAFKA_CONSUMER_METADATA_MAX_AGE_MS; "
                "nothing is lost meanwhile: a new partition is read from its start)"))

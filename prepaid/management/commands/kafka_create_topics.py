from django.core.management.base import BaseCommand, CommandError
from kafka.errors import KafkaError

from prepaid.kafka import kafka_topic_specs, kafka_topics_ensure


class Command(BaseCommand):
    help = "Create the project's Kafka topics (wallet events and their DLT) if they are missing."

    def handle(self, *args, **options):
        try:
            created = kafka_topics_ensure()
        except KafkaError as exc:
            raise CommandError(f"could not create Kafka topics: {exc!r}; is the broker running?") from exc
        for name, spec in kafka_topic_specs().items():
            state = "created" if name in created else "exists"
            self.stdout.write(f"{name}: {state} ({spec['num_partitions']} partitions)")

"""Consume wallet events from Kafka (for now: log each record)."""

import logging
import signal

from django.conf import settings
from django.core.management.base import BaseCommand
from kafka import KafkaConsumer

logger = logging.getLogger("notifications.consumer")


class Command(BaseCommand):
    help = "Read wallet events from Kafka and log them."

    def handle(self, *args, **options):
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        consumer = KafkaConsumer(
            settings.KAFKA_TOPIC_WALLET_EVENTS,
            bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS,
            group_id=settings.KAFKA_CONSUMER_GROUP,
            auto_offset_reset="earliest",
        )
        try:
            while not stopping:
                for records in consumer.poll(timeout_ms=500).values():
                    for record in records:
                        logger.info("received %s[%d]@%d key=%s", record.topic, record.partition, record.offset,
                                    record.key)
        finally:
            consumer.close()

"""The consumers' and the dead letters' metrics (prepaid/metrics.py tells how they are served)."""

from django.conf import settings
from django.db import connection
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from notifications.channels import CHANNELS
from prepaid.kafka import kafka_group_lag

RECORDS = Counter("prepaid_consumer_records", "Kafka records a consumer group finished, by outcome (in-app: "
                  "notified, duplicate, parked; a channel: delivered, duplicate, skipped, disabled, parked).",
                  ["group", "outcome"])
EVENT_TO_NOTIFICATION = Histogram(
    "prepaid_event_to_notification_seconds", "From the operation's commit (the event's occurredAt) to its "
    "notification stored and published.", buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300))


class ConsumerLagCollector(Collector):
    """Records each group has yet to read, per partition: the topic's end offsets minus the group's
    committed offsets, read from Kafka at each scrape (so a stopped consumer's lag still grows)."""

    def collect(self):
        lag = GaugeMetricFamily("prepaid_consumer_lag_records", "Records the consumer group has not committed yet.",
                                labels=["group", "partition"])
        groups = [(settings.KAFKA_TOPIC_WALLET_EVENTS, settings.NOTIFICATIONS_CONSUMER_GROUP),
                  (settings.KAFKA_TOPIC_WALLET_EVENTS_DLT, settings.NOTIFICATIONS_DLT_STORE_GROUP)]
        groups += [(settings.KAFKA_TOPIC_WALLET_EVENTS, c.group_id) for c in CHANNELS.values()]
        for topic, group in groups:
            for partition, records in sorted(kafka_group_lag(topic=topic, group_id=group).items()):
                lag.add_metric([group, str(partition)], records)
        yield lag


class DeadLetterCollector(Collector):
    def collect(self):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FILTER (WHERE replayed_at IS NULL AND discarded_at IS NULL), "
                "count(*) FILTER (WHERE replayed_at IS NOT NULL), count(*) FILTER (WHERE discarded_at IS NOT NULL) "
                "FROM notifications_deadletter")
            open_, replayed, discarded = cursor.fetchone()
        family = GaugeMetricFamily("prepaid_dead_letters", "Records parked on the DLT, by status.", labels=["status"])
        for status, count in (("open", open_), ("replayed", replayed), ("discarded", discarded)):
            family.add_metric([status], count)
        yield family

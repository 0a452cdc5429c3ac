"""The outbox's metrics (prepaid/metrics.py tells how they are served)."""

from django.db import connection
from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

PUBLISHED = Counter("prepaid_outbox_published", "Outbox events the relay published to Kafka (acknowledged).")
RELAY_BATCH_DURATION = Histogram(
    "prepaid_relay_batch_duration_seconds", "One relay batch: claim, send to Kafka, mark.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
RELAY_LAST_RUN = Gauge("prepaid_relay_last_run_timestamp_seconds", "When the relay last ran (Unix time).",
                       multiprocess_mode="mostrecent")


class OutboxCollector(Collector):
    """The backlog, read from the database at each scrape (one statement, on partial indexes)."""

    def collect(self):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0), "
                "(SELECT count(*) FROM outbox_outboxevent WHERE failed_at IS NOT NULL) "
                "FROM outbox_outboxevent WHERE published_at IS NULL AND failed_at IS NULL")
            pending, oldest_s, failed = cursor.fetchone()
        yield GaugeMetricFamily("prepaid_outbox_pending_events", "Events not yet published to Kafka.", pending)
        yield GaugeMetricFamily("prepaid_outbox_oldest_pending_age_seconds",
                                "Age of the oldest event waiting for the relay (0 when none waits).", float(oldest_s))
        yield GaugeMetricFamily("prepaid_outbox_failed_events",
                                "Events parked after their attempts ran out (the admin's Retry action).", failed)

"""Prometheus metrics of the whole platform, served by ``GET /metrics``.

Every process (gunicorn's web workers, the Celery worker and beat, ``run_consumer``)
writes its counters, histograms and gauges to one directory
(``PROMETHEUS_MULTIPROC_DIR``: prometheus-client's multiprocess mode), so the web
process that answers a scrape reports all of them, summed across processes. Figures
that live in the database or in Kafka (the outbox backlog, dead letters, pending
payments, consumer lag) are read when Prometheus scrapes, by collectors the apps
register here (``collector_register`` in their ``AppConfig.ready``): a stopped
consumer still shows its growing lag.

Each app defines its own metrics beside its code (``<app>/metrics.py``); their names
are part of the contract of the dashboards and alert rules in ``deploy/``.
"""

import logging

from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from prepaid.http import client_address

logger = logging.getLogger(__name__)

# The tables that grow with traffic: those a scheduled purge keeps to their retention (dedup rows, stored SSE
# events, idempotency records, published outbox rows, notifications, API tokens, the sign-in log, sessions) and
# the records that are kept (the ledger, operations, the audit store). Their sizes are watched (a purge that
# stopped shows as growth).
GROWING_TABLES = (
    "notifications_processedevent", "django_eventstream_event", "wallets_idempotencyrecord", "outbox_outboxevent",
    "notifications_notification", "knox_authtoken", "axes_accesslog", "django_session",
    "ledger_journalentry", "ledger_posting", "wallets_operation", "audit_auditevent",
)


class TableSizeCollector(Collector):
    """Each growing table's rows (the planner's estimate, kept by autovacuum: no count of the table) and bytes
    (with its indexes; a partitioned table's partitions summed)."""

    def collect(self):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT t.name, coalesce(sum(greatest(c.reltuples, 0)), 0)::bigint,"
                "       coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint"
                "  FROM unnest(%s::text[]) AS t(name) JOIN pg_class root ON root.oid = to_regclass(t.name)"
                "  CROSS JOIN LATERAL (SELECT relid FROM pg_partition_tree(root.oid) WHERE isleaf"
                "                      UNION SELECT root.oid WHERE root.relkind = 'r') AS leaf"
                "  JOIN pg_class c ON c.oid = leaf.relid GROUP BY t.name", [list(GROWING_TABLES)])
            sizes = cursor.fetchall()
        rows = GaugeMetricFamily("prepaid_table_rows_estimated", "Rows of each table that grows with traffic, as "
                                 "the planner estimates them (no count of the table).", labels=["table"])
        size = GaugeMetricFamily("prepaid_table_bytes", "Bytes of each table that grows with traffic, its indexes "
                                 "and TOAST included.", labels=["table"])
        for name, estimated, total in sizes:
            rows.add_metric([name], estimated)
            size.add_metric([name], total)
        yield rows
        yield size


_collectors: list[Collector] = [TableSizeCollector()]


def collector_register(collector: Collector) -> None:
    """Add a collector read at each scrape (figures from the database or Kafka)."""
    _collectors.append(collector)


class _Guarded(Collector):
    """A collector whose failure (its database or Kafka is down) costs its figures, not the scrape."""

    def __init__(self, collector: Collector):
        self.collector = collector

    def collect(self):
        try:
            yield from list(self.collector.collect())
        except Exception as exc:
            logger.warning("metrics: %s failed: %r", type(self.collector).__name__, exc)


def _registry() -> CollectorRegistry:
    """Every process's metrics (the multiprocess files) and the figures the collectors read now."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    for collector in _collectors:
        registry.register(_Guarded(collector))
    return registry


def metrics(request):
    """Prometheus' text format, for addresses in ``METRICS_ALLOWED_ADDRESSES`` only (the client's
    address as the trusted proxy reports it: the proxy in front does not make every caller local)."""
    if client_address(request) not in settings.METRICS_ALLOWED_ADDRESSES:
        return JsonResponse({"code": "permission_denied", "message": "metrics: not from this address"}, status=403)
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)


def headline_figures() -> list[tuple[str, str, float]]:
    """The platform's gauges and counters as /metrics reports them (name, labels, value), for the
    operations page: the same numbers operators see in Grafana, without it."""
    figures = []
    for family in _registry().collect():
        if not family.name.startswith("prepaid_") or family.type == "histogram":
            continue
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            labels = ", ".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            figures.append((sample.name, labels, sample.value))
    return sorted(figures)

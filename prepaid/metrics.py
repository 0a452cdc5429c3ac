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
from django.http import HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.registry import Collector

from prepaid.http import client_address

logger = logging.getLogger(__name__)

_collectors: list[Collector] = []


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

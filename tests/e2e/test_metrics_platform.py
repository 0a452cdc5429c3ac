"""/metrics on the running platform: the web, the Celery worker and run_consumer each contribute
(prometheus-client's multiprocess mode), a poison record raises the dead-letter gauge, a stopped
consumer's lag grows; and every metric the alert rules and the dashboard name is exported."""

import json
import re
import uuid
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.utils import timezone
from kafka import KafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from audit.tasks import audit_reconcile
from notifications.models import DeadLetter, Notification
from outbox.models import OutboxEvent
from tests.helpers import SPENDS, api_token, charge
from tests.support import SSEClient, wait_until
from wallets.services import custody_amount_record
from wallets.tasks import wallet_ledger_reconcile

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200, response.text[:300]
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def total(samples, name, **labels) -> float:
    return sum(v for (n, ls), v in samples.items() if n == name and labels.items() <= dict(ls).items())


def named_metrics() -> set[str]:
    """The metric names the alert rules and the dashboard use (recorded series excluded)."""
    rules = (ROOT / "deploy/prometheus/alerts.yml").read_text()
    dashboard = json.loads((ROOT / "deploy/grafana/dashboards/prepaid.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    exprs += re.findall(r"^\s*expr: (.*)$", rules, flags=re.M)
    recorded = set(re.findall(r"^\s*- record: (\w+)$", rules, flags=re.M))
    names = {n for e in exprs for n in re.findall(r"\b((?:prepaid|django|pushpin)_[a-z_]+)\b", e)}
    return {re.sub(r"_(bucket|count|sum)$", "", n) for n in names} - recorded


def test_every_process_contributes_and_every_named_metric_is_exported(platform, user):
    metrics_url = f"{platform.base_url}/metrics"  # from this machine, through Pushpin
    charge(user, 10_000)
    wait_until(lambda: Notification.objects.filter(user=user).count() == 1, timeout_s=30, what="the charge's toast")
    before = scrape(metrics_url)
    client = httpx.Client(base_url=platform.base_url, headers={"Authorization": f"Token {api_token(user)}"},
                          timeout=10)
    assert client.post(SPENDS, json={"amount": 1_000, "description": "metered"},
                       headers={"Idempotency-Key": str(uuid.uuid4())}).status_code == 201
    wait_until(lambda: Notification.objects.filter(user=user).count() == 2, timeout_s=30, what="the spend's toast")

    producer = KafkaProducer(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, acks="all")
    producer.send(settings.KAFKA_TOPIC_WALLET_EVENTS, key=b"1", value=b"{not json").get(30)  # a poison record
    wait_until(lambda: DeadLetter.objects.count() == 1, timeout_s=60, what="the poison on the DLT")
    after = scrape(metrics_url)

    def moved(name, **labels):
        return total(after, name, **labels) - total(before, name, **labels)

    assert moved("prepaid_wallet_operations_total", type="spend", outcome="done") == 1  # the web process
    assert moved("prepaid_outbox_published_total") >= 1  # the Celery worker
    assert total(after, "prepaid_relay_last_run_timestamp_seconds") > 0
    assert moved("prepaid_consumer_records_total", outcome="notified") >= 1  # run_consumer
    assert moved("prepaid_event_to_notification_seconds_count") >= 1
    assert moved("prepaid_consumer_records_total", outcome="parked") == 1
    assert moved("prepaid_dead_letters", status="open") == 1  # the DLT store, read from the database

    # The consumer stops; events keep coming: its lag grows.
    platform.consumer.stop()
    lag_before = total(scrape(metrics_url), "prepaid_consumer_lag_records", group=settings.NOTIFICATIONS_CONSUMER_GROUP)
    for i in range(3):
        assert client.post(SPENDS, json={"amount": 1, "description": f"unread {i}"},
                           headers={"Idempotency-Key": str(uuid.uuid4())}).status_code == 201
    wait_until(lambda: not OutboxEvent.objects.filter(published_at=None).exists(), timeout_s=30, what="the relay")
    lagging = scrape(metrics_url)
    assert total(lagging, "prepaid_consumer_lag_records", group=settings.NOTIFICATIONS_CONSUMER_GROUP) - lag_before == 3

    # The periodic reconcile (its beat schedule is minutes apart: run now, by the worker).
    wallet_ledger_reconcile.delay()
    wait_until(lambda: ("prepaid_ledger_reconcile_mismatches", ()) in scrape(metrics_url), timeout_s=30,
               what="the reconcile's gauge")
    lagging = scrape(metrics_url)
    assert total(lagging, "prepaid_ledger_reconcile_mismatches") == 0
    # And the audit store's (no audit consumer runs here: the gauge is exported, whatever it counts).
    audit_reconcile.delay()
    wait_until(lambda: ("prepaid_audit_reconcile_mismatches", ()) in scrape(metrics_url), timeout_s=30,
               what="the audit reconcile's gauge")
    # The outstanding-balance report, its custody recorded by an operator: the ratio is exported (read at scrape).
    custody_amount_record(day=timezone.localdate(), amount=10_000, by=None, note="trustee's statement")
    lagging = scrape(metrics_url)
    assert total(lagging, "prepaid_custody_ratio") > 1  # 10,000 held for the 8,997 the user holds

    # SSE connections, as Pushpin (which holds them) counts them: recorded as prepaid_sse_connections.
    pushpin_url = f"http://127.0.0.1:{25564 + settings.TEST_PUSHPIN_PORT_OFFSET}/metrics"
    streams = [SSEClient(f"{platform.base_url}/events/", headers={"Authorization": f"Token {api_token(user)}"}
                         ).start() for _ in range(2)]
    # (Pushpin forgets closed connections lazily: only "at least ours" can be told.)
    wait_until(lambda: total(scrape(pushpin_url), "pushpin_connection_connected") >= 2, timeout_s=15,
               what="Pushpin to count the streams")
    for stream in streams:
        stream.close()

    # What the rules and the dashboard name: exported by Django, or by Pushpin (SSE connections).
    pushpin = scrape(pushpin_url)
    exported = {re.sub(r"_(bucket|count|sum|total|created)$", "", name) for name, _ in {**lagging, **pushpin}}
    exported |= {name for name, _ in {**lagging, **pushpin}}
    missing = {n for n in named_metrics() if n not in exported and re.sub(r"_total$", "", n) not in exported}
    assert not missing, missing
    client.close()

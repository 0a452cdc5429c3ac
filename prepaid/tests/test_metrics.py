"""GET /metrics against real activity: each metric moves when what it counts happens."""

import uuid

import pytest
from prometheus_client.parser import text_string_to_metric_families

from notifications import services as notification_services
from outbox.relay import outbox_relay_run
from tests.helpers import SPENDS, api_post, charge

pytestmark = pytest.mark.django_db(transaction=True)


def scrape(client, **extra) -> dict[tuple[str, tuple], float]:
    """/metrics as {(sample name, sorted labels): value}."""
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1", **extra)
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.content.decode()) for s in family.samples}


def value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def lag(samples, group) -> float:
    return sum(v for (name, labels), v in samples.items()
               if name == "prepaid_consumer_lag_records" and dict(labels)["group"] == group)


@pytest.mark.parametrize(("remote", "forwarded", "allowed"), [
    ("127.0.0.1", None, True),  # Prometheus on this machine
    ("203.0.113.9", None, False),  # anyone else
    ("127.0.0.1", "203.0.113.9", False),  # anyone else, through the proxy: the proxy does not make it local
    ("127.0.0.1", "127.0.0.1", True),  # this machine through the proxy
])
def test_metrics_are_for_allowed_addresses_only(client, remote, forwarded, allowed):
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
    response = client.get("/metrics", REMOTE_ADDR=remote, **extra)
    assert response.status_code == (200 if allowed else 403)


def test_operations_move_the_operation_counters_and_the_http_metrics(api, user, client):
    charge(user, 10_000)
    before = scrape(client)
    assert api_post(api, SPENDS, {"amount": 1_000, "description": "counted"}).status_code == 201
    assert api_post(api, SPENDS, {"amount": 100_000, "description": "refused"}).status_code == 409
    key = str(uuid.uuid4())
    for _ in range(2):
        api_post(api, SPENDS, {"amount": 1, "description": "replayed"}, key=key)
    after = scrape(client)
    for outcome, moved in (("done", 2), ("refused", 1), ("replayed", 1)):
        name = "prepaid_wallet_operations_total"
        assert value(after, name, type="spend", outcome=outcome) - value(before, name, type="spend",
                                                                         outcome=outcome) == moved, outcome
    requests = [k for k in after if k[0] == "django_http_requests_total_by_method_total"]
    assert requests and sum(after[k] for k in requests) > sum(before.get(k, 0) for k in requests)
    assert any(k[0] == "django_db_execute_total" for k in after)  # the database's queries


def test_the_outbox_backlog_and_the_relay_and_the_consumer_lag(api, user, client, settings):
    charge(user, 10_000)
    outbox_relay_run()  # from an empty backlog
    before = scrape(client)
    assert value(before, "prepaid_outbox_pending_events") == 0
    for i in range(3):
        assert api_post(api, SPENDS, {"amount": 1, "description": f"s{i}"}).status_code == 201
    waiting = scrape(client)
    assert value(waiting, "prepaid_outbox_pending_events") == 3
    assert value(waiting, "prepaid_outbox_oldest_pending_age_seconds") > 0

    outbox_relay_run()  # no consumer runs in this test: the lag grows by what was published
    after = scrape(client)
    assert value(after, "prepaid_outbox_pending_events") == 0
    assert value(after, "prepaid_outbox_published_total") - value(before, "prepaid_outbox_published_total") >= 3
    assert value(after, "prepaid_relay_batch_duration_seconds_count") > value(
        before, "prepaid_relay_batch_duration_seconds_count")
    assert value(after, "prepaid_relay_last_run_timestamp_seconds") >= value(
        before, "prepaid_relay_last_run_timestamp_seconds") > 0
    group = settings.NOTIFICATIONS_CONSUMER_GROUP
    assert lag(after, group) - lag(before, group) >= 3


def test_dead_letters_by_status(client, staff_user):
    before = scrape(client)
    stored = [notification_services.dead_letter_store(
        topic="test.wallet-events.DLT", partition=0, offset=10**9 + i, key=b"1", value=b"not an event",
        headers=[])[0] for i in range(2)]
    assert value(scrape(client), "prepaid_dead_letters", status="open") - value(
        before, "prepaid_dead_letters", status="open") == 2
    notification_services.dead_letter_discard(dead_letter=stored[0], by=staff_user, reason="a test record")
    after = scrape(client)
    assert value(after, "prepaid_dead_letters", status="discarded") - value(
        before, "prepaid_dead_letters", status="discarded") == 1
    assert value(after, "prepaid_dead_letters", status="open") - value(
        before, "prepaid_dead_letters", status="open") == 1


def test_pending_payments_and_the_reconcile(api, user, client):
    from tests.helpers import api_charge
    from wallets.tasks import wallet_ledger_reconcile

    assert api_charge(api, 5_030).status_code == 503  # the sandbox does not answer: the payment stays PENDING
    samples = scrape(client)
    assert value(samples, "prepaid_payments", status="PENDING") >= 1
    assert value(samples, "prepaid_payments_oldest_pending_age_seconds") > 0
    assert value(samples, "prepaid_refunds", status="REQUESTED") == 0
    wallet_ledger_reconcile()
    assert ("prepaid_ledger_reconcile_mismatches", ()) in scrape(client)
    assert value(scrape(client), "prepaid_ledger_reconcile_mismatches") == 0


def test_a_source_that_is_down_costs_its_figures_not_the_scrape(client, settings):
    from prepaid import kafka

    settings.KAFKA_BOOTSTRAP_SERVERS = "127.0.0.1:9"  # nothing answers
    settings.KAFKA_REQUEST_TIMEOUT_MS = 1_000
    kafka._lag_admin = None
    samples = scrape(client)
    assert not any(name == "prepaid_consumer_lag_records" for name, _ in samples)
    assert ("prepaid_outbox_pending_events", ()) in samples  # the others are there
    kafka._lag_admin = None


def test_the_growing_tables_sizes(client, user):
    from django.db import connection

    from prepaid.metrics import GROWING_TABLES

    charge(user, 1_000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE ledger_posting")
        cursor.execute("SELECT count(*) FROM ledger_posting")
        (postings,) = cursor.fetchone()
    samples = scrape(client)
    for table in GROWING_TABLES:
        assert ("prepaid_table_bytes", (("table", table),)) in samples, table
        assert ("prepaid_table_rows_estimated", (("table", table),)) in samples, table
    assert value(samples, "prepaid_table_rows_estimated", table="ledger_posting") == postings
    assert value(samples, "prepaid_table_bytes", table="ledger_posting") > 0
    assert value(samples, "prepaid_table_bytes", table="audit_auditevent") > 0  # its partitions, summed

"""Issue 26: a request's work is bounded by its page, not by the history behind it. A user with 10,000
entries (and tables of 10,000 notifications, dead letters and audit events): PostgreSQL's own account of
each statement a read runs (EXPLAIN ANALYZE, tests/plans.py) must show it reading about a page's rows.
Reading the whole history, as a list that sorts or aggregates it would, reads tens of thousands."""

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from bench.history_fill import history_fill
from ledger.models import Posting
from tests.helpers import staff_sign_in
from tests.plans import assert_reads_at_most, rows_read, statement_rows_read
from wallets import selectors, services
from wallets.models import Operation, Wallet

pytestmark = pytest.mark.django_db

HISTORY = 10_000
BOUND = 1_000  # rows a page's statements may read: pages of 50-100 rows and their lookups


def _analyze(*tables):
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"ANALYZE {table}")


@pytest.fixture
def long_history(user_factory):
    """A user with HISTORY entries, another user's few with transfers both ways, the statistics current."""
    rich, other = user_factory(), user_factory()
    with connection.cursor() as cursor:
        history_fill(cursor, user_ids=[rich.id], entries=HISTORY, seed="costs")
        history_fill(cursor, user_ids=[other.id], entries=200, seed="costs-other")
    services.wallet_transfer(user_id=other.id, to=rich.username, amount=50, message="받은 돈")
    services.wallet_transfer(user_id=rich.id, to=other.username, amount=20, message="보낸 돈")
    services.wallet_spend(user_id=rich.id, amount=10, description="커피")
    _analyze("ledger_journalentry", "ledger_posting", "wallets_operation", "wallets_wallet")
    return rich, other


def test_a_page_of_transactions_the_page_a_statement_and_a_past_balance_read_a_page(long_history, api_client_for,
                                                                                     client):
    rich, _other = long_history
    # The fill keeps the books (what the rest stands on).
    assert Operation.objects.filter(user=rich).count() == HISTORY + 2
    assert Wallet.objects.get(user=rich).balance == 3 * (HISTORY // 2) - HISTORY // 2 + 50 - 20 - 10
    assert selectors.wallet_ledger_reconcile(limit=10).clean
    api = api_client_for(rich)
    first = api.get("/api/v1/wallet/transactions?pageSize=50")
    assert first.status_code == 200
    assert [t["type"] for t in first.json()["results"][:3]] == ["SPEND", "TRANSFER", "TRANSFER"]
    assert_reads_at_most(lambda: api.get("/api/v1/wallet/transactions?pageSize=50"), BOUND)
    # Deep in the history: a page 5,000 entries back costs what the first did.
    deep = Operation.objects.filter(user=rich).order_by("-created_at", "-pk")[HISTORY // 2]
    cursor = _cursor_at(api, deep)
    page = api.get(f"/api/v1/wallet/transactions?pageSize=50&cursor={cursor}")
    assert page.status_code == 200 and len(page.json()["results"]) == 50
    assert_reads_at_most(lambda: api.get(f"/api/v1/wallet/transactions?pageSize=50&cursor={cursor}"), BOUND)
    # The wallet page, a statement of a minute deep in the history, the balance at a moment in it.
    client.force_login(rich)
    assert_reads_at_most(lambda: client.get("/"), BOUND)
    middle = Posting.objects.filter(account__wallet__user=rich).order_by("id")[HISTORY // 2]
    assert_reads_at_most(lambda: selectors.wallet_balance_at(user_id=rich.id, at=middle.created_at), BOUND)
    assert_reads_at_most(lambda: selectors.wallet_statement(
        user_id=rich.id, start=middle.created_at, end=middle.created_at + timedelta(seconds=60), lines_max=1000),
        BOUND)


def _cursor_at(api, row) -> str:
    """The cursor of the page after ``row``, as the API writes it."""
    from base64 import b64encode
    from urllib.parse import urlencode

    return b64encode(urlencode({"p": f"{row.created_at.isoformat()}|{row.pk}"}).encode()).decode()


def test_pages_walk_the_whole_history_once_each_way(user_factory, api_client_for):
    walker, other = user_factory(), user_factory()
    with connection.cursor() as cursor:
        history_fill(cursor, user_ids=[walker.id, other.id], entries=230, seed="walk")
    services.wallet_transfer(user_id=other.id, to=walker.username, amount=7, message="x")
    api = api_client_for(walker)
    seen, pages, url = [], [], "/api/v1/wallet/transactions?pageSize=100"
    while url:
        body = api.get(url).json()
        pages.append((url, body))
        seen += [(t["createdAt"], t["transactionId"]) for t in body["results"]]
        url = body["next"]
    assert len(seen) == len(set(seen)) == 231
    assert seen == sorted(seen, reverse=True)
    assert [len(body["results"]) for _, body in pages] == [100, 100, 31]
    # The previous link of each page gives back the page before it.
    for (_url, before), (_next_url, page) in zip(pages, pages[1:], strict=False):
        assert api.get(page["previous"]).json()["results"] == before["results"]
    assert pages[0][1]["previous"] is None


@pytest.fixture
def many_rows(user, staff_user):
    """HISTORY notifications of one user, dead letters and audit events (set-based)."""
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO notifications_notification (user_id, event_id, event_type, title, message, type, created_at)"
            " SELECT %s, gen_random_uuid(), 'SPEND_COMPLETED', 't', 'm', 'info', %s - i * interval '1 second'"
            " FROM generate_series(1, %s) AS i", [user.id, now, HISTORY])
        cursor.execute(
            "INSERT INTO notifications_deadletter (dlt_topic, dlt_partition, dlt_offset, key, value, headers,"
            " exception_type, exception_message, attempts, created_at, replay_count, discard_reason,"
            " original_topic)"
            " SELECT 'wallet-events.DLT', 0, i, %s, '{}', '{}', 'prepaid.events.InvalidEvent', 'x', 4,"
            " %s - i * interval '1 second', 0, '', 'wallet-events' FROM generate_series(1, %s) AS i",
            [str(user.id), now, HISTORY])
        cursor.execute(
            "INSERT INTO audit_auditevent (event_id, user_id, seq, event_type, occurred_at, payload, kafka_topic,"
            " kafka_partition, kafka_offset, received_at, previous_hash, hash)"
            " SELECT gen_random_uuid(), %s, i, 'SPEND_COMPLETED', %s - i * interval '1 second', '{}',"
            " 'wallet-events', 0, i, %s, repeat('0', 64), repeat('1', 64) FROM generate_series(1, %s) AS i",
            [user.id, now, now, HISTORY])
    _analyze("notifications_notification", "notifications_deadletter", "audit_auditevent")
    return user


def test_notifications_dead_letters_and_audit_events_read_a_page(many_rows, api_client_for, staff_user, client):
    api = api_client_for(many_rows)
    assert_reads_at_most(lambda: api.get("/api/v1/notifications?pageSize=50"), BOUND)
    staff_sign_in(client, staff_user)
    for path in ("/api/v1/ops/dead-letters?pageSize=50", "/api/v1/ops/dead-letters?pageSize=50&status=open",
                 "/api/v1/ops/audit-events?pageSize=50", f"/api/v1/ops/audit-events?pageSize=50&user={many_rows.id}"):
        assert client.get(path).status_code == 200, path
        assert_reads_at_most(lambda path=path: client.get(path), BOUND)
    second = client.get(client.get("/api/v1/ops/audit-events?pageSize=50").json()["next"])
    assert second.status_code == 200 and len(second.json()["results"]) == 50


def test_a_read_of_the_whole_history_is_what_the_check_catches(long_history):
    """The check itself: a page in an order no index gives (a sort of the history) reads all of it."""
    rich, _other = long_history
    statements = rows_read(lambda: list(Operation.objects.filter(user_id=rich.id).order_by("-amount")[:50]))
    assert max(count for count, _sql, _plan in statements) > HISTORY


# The changelists of the tables that grow with traffic.
BIG_CHANGELISTS = ["ledger/journalentry", "ledger/posting", "wallets/operation", "wallets/wallet", "wallets/hold",
                   "wallets/payment", "notifications/notification", "audit/auditevent", "outbox/outboxevent",
                   "notifications/processedevent", "wallets/idempotencyrecord"]


def test_the_admin_changelists_read_a_page(long_history, client, staff_user, settings):
    settings.ADMIN_EXACT_COUNT_MAX = 500  # above it, the planner's estimate (the default, 10,000, would read 10,001)
    rich, _other = long_history
    staff_sign_in(client, staff_user)
    entry = Operation.objects.filter(user=rich).order_by("created_at").first()
    order_id, entry = entry.order_id, entry.pk
    for changelist in BIG_CHANGELISTS:
        for query in ("", f"?q={rich.username}", f"?q={entry}", f"?q={rich.id}", f"?q={order_id}",
                      "?q=nothing+like+a+key"):
            url = f"/admin/{changelist}/{query}"
            assert client.get(url).status_code == 200, url
            assert_reads_at_most(lambda url=url: client.get(url), BOUND)
        # A page of 100 rows in a handful of statements, not one per row (its related rows joined).
        assert len(rows_read(lambda changelist=changelist: client.get(f"/admin/{changelist}/"))) <= 12, changelist
    # The operator finds the user's operations by their exact username, and an entry by its id.
    newest = Operation.objects.filter(user=rich).order_by("-created_at").first().pk
    assert str(newest) in client.get(f"/admin/wallets/operation/?q={rich.username}").content.decode()
    assert str(newest) not in client.get(f"/admin/wallets/operation/?q={rich.username[:-1]}").content.decode()
    assert str(entry) in client.get(f"/admin/ledger/journalentry/?q={entry}").content.decode()
    assert str(entry) in client.get(f"/admin/wallets/operation/?q={order_id}").content.decode()


def test_every_admin_changelist_answers_a_search(client, staff_user):
    """Search terms that are no valid key of a field (a word for an id, a number too large) search nothing there."""
    from django.contrib import admin

    staff_sign_in(client, staff_user)
    for model in admin.site._registry:
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        for term in ("word", "99999999999999999999999", "%", "123", "3f2b1c9e-0000-4000-8000-000000000000"):
            response = client.get(url, {"q": term})
            assert response.status_code in (200, 302), (url, term, response.status_code)


def test_the_incremental_reconcile_reads_what_changed(long_history, settings):
    rich, other = long_history
    settings.LEDGER_RECONCILE_SETTLE_S = 0
    full = rows_read(lambda: services.ledger_reconcile(full=True))
    assert max(count for count, _sql, _plan in full) > HISTORY  # the full pass reads the ledger
    services.wallet_spend(user_id=rich.id, amount=1, description="x")
    services.wallet_transfer(user_id=rich.id, to=other.username, amount=1, message="x")
    found = services.ledger_reconcile()
    assert found.clean and (found.postings_checked, found.wallets_checked) == (4, 2)
    services.wallet_spend(user_id=rich.id, amount=1, description="y")
    assert_reads_at_most(lambda: services.ledger_reconcile(), BOUND)


def _posting_rows_read() -> int:
    """Rows of ledger_posting this transaction has read so far, by any statement or function."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) FROM pg_stat_xact_user_tables"
                       " WHERE relname = 'ledger_posting'")
        return cursor.fetchone()[0]


def test_the_expiry_sweep_reads_the_credits_that_make_up_a_balance(long_history):
    """What of a balance is older than the validity is found newest credit first, up to the balance: a user
    who spent down to a little reads a few postings, not the years behind them (inside wallet_fresh_amount,
    where EXPLAIN does not look: PostgreSQL's per-transaction table counters do)."""
    rich, _other = long_history
    services.wallet_spend(user_id=rich.id, amount=Wallet.objects.get(user=rich).balance - 10, description="x")
    before = _posting_rows_read()
    assert selectors.wallets_expiring(within=timedelta(0), limit=10) == []  # all of it younger than 5 years
    assert _posting_rows_read() - before <= 500  # (the other user's 200 entries are read too)


def test_the_fresh_amount_pages_through_credits_until_the_balance(long_history):
    """Where younger credits do not make up the balance, each is counted once across the pages it reads."""
    rich, _other = long_history
    wallet = Wallet.objects.get(user=rich)
    middle = Posting.objects.filter(account_id=wallet.account_id).order_by("created_at", "id")[HISTORY // 2].created_at
    credits = sum(Posting.objects.filter(account_id=wallet.account_id, amount__gt=0, created_at__gt=middle)
                  .values_list("amount", flat=True))
    assert 100 * 3 < credits < wallet.balance  # many pages of credits, fewer won than the balance
    with connection.cursor() as cursor:
        cursor.execute("SELECT wallet_fresh_amount(%s, %s), wallet_fresh_amount(%s, %s)",
                       [rich.id, middle, rich.id, middle - timedelta(days=1)])
        assert cursor.fetchone() == (credits, wallet.balance)


@pytest.mark.parametrize("statement", [
    # A user's operations, a page (the transactions list's arm, the admin's changelist of one user).
    "SELECT created_at, id FROM wallets_operation WHERE user_id = $1 AND created_at <= $2"
    " ORDER BY created_at DESC, id DESC LIMIT 51",
    # A balance at a moment (and a statement's opening balance).
    "SELECT balance_after FROM ledger_posting WHERE account_id = (SELECT account_id FROM wallets_wallet"
    " WHERE user_id = $1) AND created_at <= $2 ORDER BY created_at DESC, id DESC LIMIT 1",
    # The admin's search of operations by order id (most rows have none).
    "SELECT 1 FROM wallets_operation WHERE order_id = 'history-' || $1 || $2 LIMIT 1",
])
def test_a_page_reads_a_page_in_the_plan_a_prepared_statement_keeps(long_history, statement):
    """The web processes prepare their hot statements (DATABASE_PREPARE_THRESHOLD): after five runs PostgreSQL
    may keep a generic plan, made without the user's id. It must still read a page: an index that orders the
    rows as the page does (a plain index on the user would be sorted through, all of the user's rows)."""
    rich, _other = long_history
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone as tz

    # Many users of a few entries beside the one of many: a generic plan expects a user to have a few.
    many = get_user_model().objects.bulk_create(
        [get_user_model()(username=f"many-{uuid.uuid4().hex}", password=make_password(None)) for _ in range(2_000)])
    with connection.cursor() as cursor:
        history_fill(cursor, user_ids=[u.id for u in many], entries=2, seed="many")
    _analyze("ledger_posting", "wallets_operation", "wallets_wallet")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        name = f"page_{uuid.uuid4().hex}"  # (the connection outlives the test; psycopg may deallocate it)
        cursor.execute(f"PREPARE {name}(integer, timestamptz) AS {statement}")
        read, plan = statement_rows_read(f"EXECUTE {name}({rich.id}, '{tz.now().isoformat()}')")
    assert read <= BOUND, plan

"""Costs that do not grow with history (issue 26): each request against a user with a million entries in a
ledger of ten million, beside a fresh user; each admin changelist and the reconcile against an empty ledger.

    .venv/bin/python bench/history.py [--user-entries 1000000] [--ledger-users 10000] [--requests 30]

1. Builds, once (kept in its database, ``prepaid_bench_history``, between runs; ``--rebuild`` starts again):
   user ``history-1m`` with ``--user-entries`` entries two minutes apart, ending two days ago, and
   ``--ledger-users`` users of 1,000 entries each (an hour apart), all set-based (bench/history_fill.py:
   what the SQL functions write, balanced, each wallet its postings), then checks the whole ledger
   (the full reconcile) and ANALYZEs it.
2. Measures, in this process through Django's test client (the server's work, no network): the API's
   reads and a spend for the long-history user and for a fresh user made this run (the baseline), the
   wallet page, the admin's changelists and searches, and the incremental reconcile after the run's
   writes; p50 of ``--requests`` after a warm-up.
3. Measures the same admin pages and reconcile on an empty ledger (a database of its own,
   ``prepaid_bench_empty``, in a subprocess; 120 users of 2 entries and a spend each, so that its pages
   hold as many rows as the big ledger's): their baseline.
Prints each figure, its baseline and their ratio (target: within 2x; the changelists under 500 ms).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
import warnings
from datetime import UTC, datetime, timedelta

# A database of its own, kept between runs (the other benchmarks' stays small).
os.environ.setdefault("DATABASE_URL", "postgres://prepaid@127.0.0.1:54329/prepaid_bench_history")
os.environ.setdefault("ALLOWED_HOSTS", "testserver")  # Django's test client, in this process
warnings.filterwarnings("ignore", message="No directory at")

from common import ROOT, bench_api_token, setup  # noqa: E402

RICH = "history-1m"
LEDGER_USER = "history-ledger-{}"
LEDGER_USER_ENTRIES = 1_000
EMPTY_DATABASE = "prepaid_bench_empty"
CHANGELISTS = ["ledger/journalentry", "ledger/posting", "wallets/operation", "wallets/wallet", "wallets/hold",
               "wallets/payment", "notifications/notification", "audit/auditevent", "outbox/outboxevent"]


def _say(message: str) -> None:
    print(message, flush=True)


def drop_database() -> None:
    import psycopg

    base, name = os.environ["DATABASE_URL"].rsplit("/", 1)
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def build(*, user_entries: int, ledger_users: int) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from bench.history_fill import history_fill
    from wallets.models import Operation
    from wallets.selectors import wallet_ledger_reconcile

    users = get_user_model().objects
    rich = users.filter(username=RICH).first()
    if rich:
        built = Operation.objects.filter(user=rich, description__startswith="history ").count()  # (not the runs')
        if built != user_entries:
            raise SystemExit(f"build: {RICH} has {built:,} entries, not {user_entries:,} (an interrupted or other "
                             "build): run again with --rebuild")
        _say(f"build: kept from an earlier run ({RICH}: {user_entries:,} entries)")
        return
    end = datetime.now(UTC) - timedelta(days=2)
    started = time.perf_counter()
    rich = users.create_user(username=RICH, password=uuid.uuid4().hex)
    step = 100_000
    with connection.cursor() as cursor:
        for first in range(1, user_entries + 1, step):
            history_fill(cursor, user_ids=[rich.id], entries=user_entries, seed="bench", first=first,
                         last=min(first + step - 1, user_entries), spacing_s=120, end=end)
            _say(f"build: {RICH}: {min(first + step - 1, user_entries):,} entries "
                 f"({time.perf_counter() - started:.0f} s)")
    names = [LEDGER_USER.format(i) for i in range(ledger_users)]
    from django.contrib.auth.hashers import make_password

    unusable = make_password(None)  # they never sign in
    users.bulk_create([get_user_model()(username=name, password=unusable) for name in names], ignore_conflicts=True)
    ids = list(users.filter(username__in=names).order_by("id").values_list("id", flat=True))
    chunk = 100
    with connection.cursor() as cursor:
        for i in range(0, len(ids), chunk):
            history_fill(cursor, user_ids=ids[i:i + chunk], entries=LEDGER_USER_ENTRIES, seed="bench-ledger",
                         spacing_s=3600, end=end)
            if (i // chunk) % 10 == 9:
                _say(f"build: ledger: {(i + chunk) * LEDGER_USER_ENTRIES:,} entries "
                     f"({time.perf_counter() - started:.0f} s)")
        cursor.execute("VACUUM ANALYZE")
    _say(f"build: done in {time.perf_counter() - started:.0f} s; the full reconcile checks it")
    started = time.perf_counter()
    found = wallet_ledger_reconcile(limit=10)
    assert found.clean, found
    _say(f"build: full reconcile clean in {time.perf_counter() - started:.1f} s "
         f"({found.postings_checked:,} postings, {found.wallets_checked:,} wallets)")


def p50_ms(call, *, requests: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        call()
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _ok(response, *codes):
    assert response.status_code in (codes or (200,)), (response.status_code, response.content[:300])
    return response


def user_figures(user, *, requests: int) -> dict[str, float]:
    """Per-request p50 (ms) of the user's API reads, a spend, and the wallet page."""
    from django.test import Client
    from django.utils import timezone
    from rest_framework.test import APIClient

    from wallets.models import Operation

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {bench_api_token(user)}")
    figures = {}
    figures["POST /wallet/spends"] = p50_ms(lambda: _ok(api.post(
        "/api/v1/wallet/spends", {"amount": 1, "description": "bench"}, format="json",
        HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex), 201), requests=requests)
    figures["GET /wallet"] = p50_ms(lambda: _ok(api.get("/api/v1/wallet")), requests=requests)
    figures["GET /wallet/transactions (first page of 50)"] = p50_ms(
        lambda: _ok(api.get("/api/v1/wallet/transactions?pageSize=50")), requests=requests)
    # A page far back: the rows at the user's oldest operation (its cursor, as the API writes them).
    oldest = Operation.objects.filter(user=user).order_by("created_at", "pk")[60:61].get()
    from base64 import b64encode
    from urllib.parse import urlencode

    cursor = b64encode(urlencode({"p": f"{oldest.created_at.isoformat()}|{oldest.pk}"}).encode()).decode()
    figures["GET /wallet/transactions (the oldest page)"] = p50_ms(
        lambda: _ok(api.get(f"/api/v1/wallet/transactions?pageSize=50&cursor={cursor}")), requests=requests)
    middle = Operation.objects.filter(user=user).order_by("created_at", "pk")[30:31].get().created_at
    figures["GET /wallet?asOf= (balance at a past moment)"] = p50_ms(
        lambda: _ok(api.get("/api/v1/wallet", {"asOf": middle.isoformat()})), requests=requests)
    today = timezone.localdate()
    figures["GET /wallet/statement (today)"] = p50_ms(
        lambda: _ok(api.get("/api/v1/wallet/statement", {"from": today, "to": today})), requests=requests)
    figures["GET /notifications (first page)"] = p50_ms(
        lambda: _ok(api.get("/api/v1/notifications?pageSize=50")), requests=requests)
    page = Client()
    page.force_login(user)
    figures["GET / (the wallet page)"] = p50_ms(lambda: _ok(page.get("/")), requests=requests)
    return figures


def staff_client():
    from django.contrib.auth import get_user_model
    from django.test import Client

    from tests.helpers import staff_sign_in  # (a password and a second factor, as the admin requires)

    staff = get_user_model().objects.filter(username="history-ops").first() or \
        get_user_model().objects.create_superuser("history-ops", "ops@example.com", uuid.uuid4().hex)
    client = Client()
    staff_sign_in(client, staff)
    return client


def platform_figures(*, requests: int, username: str) -> dict[str, float]:
    """Per-request p50 (ms) of each admin changelist and search, and the incremental reconcile's run."""
    from django.conf import settings

    from wallets import services

    client = staff_client()
    figures = {}
    for changelist in CHANGELISTS:
        figures[f"admin {changelist}"] = p50_ms(lambda c=changelist: _ok(client.get(f"/admin/{c}/")),
                                                requests=requests)
    figures["admin wallets/operation ?q=username"] = p50_ms(
        lambda: _ok(client.get("/admin/wallets/operation/", {"q": username})), requests=requests)
    settings.LEDGER_RECONCILE_SETTLE_S = 0  # this process's own writes are committed
    services.ledger_reconcile()  # a mark after the build
    figures["reconcile (incremental, after the run's writes)"] = p50_ms(
        lambda: services.ledger_reconcile(), requests=max(3, requests // 5), warmup=0)
    return figures


def fresh_user():
    from django.contrib.auth import get_user_model
    from django.db import connection

    from bench.history_fill import history_fill
    from wallets import services

    user = get_user_model().objects.create_user(username=f"history-fresh-{uuid.uuid4().hex[:8]}",
                                                password=uuid.uuid4().hex)
    with connection.cursor() as cursor:  # 100 won to spend, like the long history's users: its own 100 entries
        history_fill(cursor, user_ids=[user.id], entries=100, seed=f"fresh-{user.id}", spacing_s=60,
                     end=datetime.now(UTC) - timedelta(days=2))
    services.wallet_spend(user_id=user.id, amount=1, description="first")
    return user


def measure(*, requests: int, with_users: bool) -> dict:
    from django.contrib.auth import get_user_model

    result = {}
    if with_users:
        rich = get_user_model().objects.get(username=RICH)
        fresh = fresh_user()
        result["fresh"] = user_figures(fresh, requests=requests)
        result["rich"] = user_figures(rich, requests=requests)
        result["platform"] = platform_figures(requests=requests, username=RICH)
    else:  # an empty ledger, but full pages: 120 users of 2 entries and a spend each (a page holds 100 rows)
        from django.contrib.auth.hashers import make_password
        from django.db import connection

        from bench.history_fill import history_fill
        from wallets import services

        fresh = fresh_user()
        users = get_user_model().objects.bulk_create([get_user_model()(
            username=f"history-page-{uuid.uuid4().hex[:8]}", password=make_password(None)) for _ in range(120)])
        with connection.cursor() as cursor:
            history_fill(cursor, user_ids=[u.id for u in users], entries=2, seed="page")
        for user in users:
            services.wallet_spend(user_id=user.id, amount=1, description="page")
        result["platform"] = platform_figures(requests=requests, username=fresh.username)
    return result


def empty_ledger_figures(requests: int) -> dict:
    import psycopg
    from django.conf import settings

    base = settings.DATABASE_URL.rsplit("/", 1)[0]
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{EMPTY_DATABASE}"')
        conn.execute(f'CREATE DATABASE "{EMPTY_DATABASE}"')
    env = {**os.environ, "DATABASE_URL": f"{base}/{EMPTY_DATABASE}"}
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "history.py"), "--empty-ledger",
                          "--requests", str(requests)], env=env, cwd=ROOT, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def table(title: str, measured: dict[str, float], baseline: dict[str, float], label: str) -> None:
    _say(f"\n{title}\n| request | {label} | this | ratio |\n|---|---|---|---|")
    for name, ms in measured.items():
        base = baseline.get(name)
        ratio = f"{ms / base:.2f}x" if base else "-"
        _say(f"| {name} | {base:.1f} ms | {ms:.1f} ms | {ratio} |" if base else f"| {name} | - | {ms:.1f} ms | - |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--user-entries", type=int, default=1_000_000)
    parser.add_argument("--ledger-users", type=int, default=10_000, help="each with 1,000 entries")
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--empty-ledger", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rebuild:
        drop_database()
    setup()
    if args.empty_ledger:
        print(json.dumps(measure(requests=args.requests, with_users=False)))
        return
    build(user_entries=args.user_entries, ledger_users=args.ledger_users)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT (SELECT reltuples FROM pg_class WHERE relname = 'ledger_journalentry'),"
                       " (SELECT reltuples FROM pg_class WHERE relname = 'ledger_posting')")
        entries, postings = cursor.fetchone()
    _say(f"ledger: ~{entries:,.0f} journal entries, ~{postings:,.0f} postings")
    measured = measure(requests=args.requests, with_users=True)
    empty = empty_ledger_figures(args.requests)
    table(f"Per request, {RICH} ({args.user_entries:,} entries) vs a fresh user, p50:", measured["rich"],
          measured["fresh"], "fresh user")
    table("The admin and the reconcile, this ledger vs an empty one, p50:", measured["platform"],
          empty["platform"], "empty ledger")


if __name__ == "__main__":
    main()

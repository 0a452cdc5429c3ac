"""Wallet writes through the HTTP API, against pgbench TPC-B on the same PostgreSQL in the same run.

    .venv/bin/python bench/api_throughput.py [--seconds 20] [--clients 16] [--wallets 1000] [--batch 100]

1. pgbench TPC-B (scale 10, 8 clients, 15 s) on the project's PostgreSQL, with
   nothing else running: the baseline.
2. Starts the platform as ``make run`` runs it (Pushpin in front, then every line
   of the Procfile: web on gunicorn, Celery worker and beat, run_consumer) on the
   bench database and topics.
3. Drives it with wrk (a C load generator, ``bench/api_mix.lua``): ``--clients``
   connections for ``--seconds``, a mix of spends (₩1), charges (₩1,000, through the
   sandbox gateway), partial reversals (₩1 of an earlier spend), transfers (₩1 to another
   bench user) and holds (₩1) each captured by a later request, over ``--wallets``
   wallets, each request with its own Idempotency-Key.
4. The same against one hot wallet (every client on one wallet row).
5. With ``--peer``, first: the hordak peer (``bench/peer/``: DRF + django-hordak, a spend = lock the
   wallet's account, read its balance, ``transfer_to``; no idempotency, no events), on the same
   PostgreSQL and gunicorn settings, driven with spends only; with ``--spends-only`` ours too, so
   that the two answer the same requests.
6. With ``--batch N``: batches of N spends (``POST /api/v1/wallet/batches``) over the same wallets,
   counted in operations (items done), and then waits until every one of their events has been
   notified (the in-app consumer's notification per event), which it reports.

Prints, per run: operations/s, latency p50/p95/p99, answers by status, the ratio
to pgbench, and the CPU each process group spent per operation (the load
generator included, to show it is not the bottleneck). Checks after each run that
the ledger reconciles (no overdraft, every balance = its postings).
"""

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import time
import uuid

from common import (
    ROOT,
    CpuMeter,
    bench_api_token,
    bench_pushpin,
    platform_cpu_groups,
    procfile_start,
    pushpin_groups,
    py_spy_report,
    py_spy_start,
    setup,
    stop_all,
    wait_http_ok,
)

PG = {"host": "127.0.0.1", "port": "54329", "user": "prepaid"}
PGBENCH_DB = "pgbench"


def pgbench(*, scale: int, clients: int, seconds: int) -> float:
    """TPC-B TPS on the project's PostgreSQL (initialises the pgbench database at ``scale`` if needed)."""
    import psycopg

    base = f"postgres://{PG['user']}@{PG['host']}:{PG['port']}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [PGBENCH_DB]).fetchone():
            conn.execute(f'CREATE DATABASE "{PGBENCH_DB}"')
    with psycopg.connect(f"{base}/{PGBENCH_DB}", autocommit=True) as conn:
        try:
            branches = conn.execute("SELECT count(*) FROM pgbench_branches").fetchone()[0]
        except psycopg.errors.UndefinedTable:
            branches = 0
    args = ["-h", PG["host"], "-p", PG["port"], "-U", PG["user"]]
    if branches != scale:
        print(f"pgbench: initialising scale {scale} (once)")
        subprocess.run(["pgbench", *args, "-i", "-q", "-s", str(scale), PGBENCH_DB], check=True,
                       capture_output=True)
    out = subprocess.run(["pgbench", *args, "-c", str(clients), "-j", "2", "-T", str(seconds), PGBENCH_DB],
                         check=True, capture_output=True, text=True).stdout
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))
    print(f"pgbench TPC-B scale {scale}, {clients} clients, {seconds}s: {tps:,.0f} TPS")
    return tps


def api_authorization(user) -> str:
    """The Authorization header an API client of this user sends."""
    return f"Token {bench_api_token(user)}"


def prepare_wallets(prefix: str, count: int) -> list[tuple[str, str, str]]:
    """``count`` users with money and a spend to reverse parts of: (Authorization, transactionId, username)."""
    from django.contrib.auth.models import User
    from django.db.models import Sum

    from wallets import services
    from wallets.models import Operation
    from wallets.selectors import wallet_get

    rows = []
    for i in range(count):
        user, _ = User.objects.get_or_create(username=f"{prefix}-{i}")
        wallet = wallet_get(user_id=user.id)
        if wallet is None or wallet.balance < 2_000_000:
            services.wallet_charge(user_id=user.id, amount=5_000_000, payment_key="pk-bench",
                                   order_id=f"bench-{uuid.uuid4().hex}")
        target = (Operation.objects.filter(user=user, kind="SPEND", description="bench: to reverse")
                  .annotate(reversed_total=Sum("reversals__amount")).order_by("-created_at").first())
        if target is None or target.amount - (target.reversed_total or 0) < 100_000:
            target = services.wallet_spend(user_id=user.id, amount=1_000_000,
                                           description="bench: to reverse").transaction
        rows.append((api_authorization(user), str(target.id), user.username))
    return rows


SPENDS_ONLY = "100,0,0,0"  # BENCH_MIX: every request a spend


def run_wrk(*, base: str, users_file: str, clients: int, seconds: int, batch: int = 0, mix: str = "") -> dict:
    env = {**os.environ, "BENCH_USERS_FILE": users_file, "BENCH_RUN_ID": uuid.uuid4().hex[:12],
           "BENCH_BATCH": str(batch)}
    if mix:
        env["BENCH_MIX"] = mix
    done = subprocess.run(
        ["wrk", "-t2", f"-c{clients}", f"-d{seconds}s", "--timeout", "10s", "-s", str(ROOT / "bench" / "api_mix.lua"),
         base], env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"wrk failed ({done.returncode}): {done.stdout}{done.stderr}")
    out = done.stdout
    line = next(line for line in out.splitlines() if line.startswith("BENCH_RESULT "))
    return json.loads(line.removeprefix("BENCH_RESULT "))


def wait_for_event_path(timeout_s: float = 120) -> None:
    """Until the outbox is drained (the next run should not pay for this one's events)."""
    from outbox.selectors import outbox_stats

    deadline = time.monotonic() + timeout_s
    while outbox_stats()["pending"] and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(2)


def measure(name: str, *, base: str, rows: list[tuple[str, str, str]], procs: dict, clients: int, seconds: float,
            pgbench_tps: float, cores: int, profile: str | None = None, batch: int = 0, mix: str = "") -> float:
    from django.db import connection
    from django.utils import timezone

    from notifications.models import Notification
    from outbox.models import OutboxEvent
    from wallets.selectors import wallet_ledger_reconcile

    users_file = ROOT / ".devstack" / "bench-logs" / f"api-{name}-users.txt"
    users_file.write_text("".join(f"{auth} {tx} {name}\n" for auth, tx, name in rows))
    run_wrk(base=base, users_file=str(users_file), clients=clients, seconds=3, batch=batch, mix=mix)  # warm-up
    wait_for_event_path()
    load_started_at = timezone.now()
    connection.close()
    meter = CpuMeter(platform_cpu_groups(procs, **pushpin_groups()))
    spy = py_spy_start(procs[profile], f"api-{name}") if profile else None
    meter.start()
    # wrk is a child that has exited when the meter stops: its CPU is the children's rusage.
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    result = run_wrk(base=base, users_file=str(users_file), clients=clients, seconds=seconds, batch=batch, mix=mix)
    elapsed = time.monotonic() - started
    cpu = meter.stop()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu["wrk"] = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    if spy is not None:
        py_spy_report(*spy)
    operations = result["items_done"] if batch else result["requests"]
    ops = operations / (result["duration_us"] / 1e6)
    ok = sum(count for status, count in result["statuses"].items() if status.startswith("2"))
    print(f"\n== {name}: {clients} clients, {len(rows)} wallet(s), {seconds:.0f}s ==")
    baseline = f"; {ops / pgbench_tps * 100:.1f}% of pgbench ({pgbench_tps:,.0f} TPS)" if pgbench_tps else ""
    if batch:
        print(f"{result['requests']:,} batches of {batch} spends: {operations:,} done")
    print(f"{operations:,} operations = {ops:,.1f} ops/s{baseline}")
    print(f"latency p50 {result['p50_us'] / 1000:.1f} ms, p95 {result['p95_us'] / 1000:.1f} ms, "
          f"p99 {result['p99_us'] / 1000:.1f} ms, max {result['max_us'] / 1000:.1f} ms")
    print(f"answers by status: {dict(sorted(result['statuses'].items()))} ({ok:,} 2xx); "
          f"socket errors: {result['socket_errors']}")
    print(f"CPU per operation ({operations:,} operations in {elapsed:.1f}s, {cores} cores):")
    for group, seconds_used in sorted(cpu.items(), key=lambda item: -item[1]):
        print(f"  {group:<16} {seconds_used / operations * 1000:6.2f} ms  "
              f"({seconds_used / elapsed * 100:5.1f}% of a core)")
    total = sum(cpu.values())
    print(f"  {'total':<16} {total / operations * 1000:6.2f} ms  ({total / elapsed * 100:5.1f}% of a core)")
    wait_for_event_path()
    # Every event of the run notified (the in-app consumer's one notification per event).
    events = OutboxEvent.objects.filter(created_at__gte=load_started_at).values("event_id")
    committed = events.count()
    deadline = time.monotonic() + 300
    while (notified := Notification.objects.filter(event_id__in=events).count()) < committed \
            and time.monotonic() < deadline:
        time.sleep(1)
    print(f"events: {notified:,} of the run's {committed:,} notified, {time.monotonic() - started - elapsed:.0f} s "
          "after the load")
    found = wallet_ledger_reconcile(limit=10)
    print(f"ledger: {'reconciled' if found.clean else 'MISMATCH ' + repr(found)}")
    return ops


PEER_VENV = ROOT / ".venv-peer"
PEER_DIR = ROOT / "bench" / "peer"


def measure_peer(*, wallets: int, clients: int, seconds: int, port: int, pgbench_tps: float) -> float:
    """The hordak peer on gunicorn with the platform's settings (sync workers, 2 per core + 1), spends only."""
    import psycopg
    from common import CpuMeter, in_session, start

    if not (PEER_VENV / "bin" / "python").exists():
        raise SystemExit("the hordak peer's environment is missing: run `make bench-tools`")
    base_url = f"postgres://{PG['user']}@{PG['host']}:{PG['port']}"
    with psycopg.connect(f"{base_url}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = 'hordak_peer'").fetchone():
            conn.execute('CREATE DATABASE "hordak_peer"')
    python = str(PEER_VENV / "bin" / "python")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "peer.settings"}  # not the bench's settings
    subprocess.run([python, "manage.py", "migrate", "-v", "0"], cwd=PEER_DIR, check=True, env=env)
    lines = subprocess.run([python, "-m", "peer.prepare", str(wallets)], cwd=PEER_DIR, check=True,
                           capture_output=True, text=True, env=env).stdout
    users_file = ROOT / ".devstack" / "bench-logs" / "api-peer-users.txt"
    users_file.parent.mkdir(parents=True, exist_ok=True)
    users_file.write_text(lines)
    workers = (os.cpu_count() or 1) * 2 + 1
    proc = start([str(PEER_VENV / "bin" / "gunicorn"), "peer.wsgi:application", "--chdir", str(PEER_DIR),
                  "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--worker-class", "sync",
                  "--keep-alive", "5", "--timeout", "30"], "api-peer", DJANGO_SETTINGS_MODULE="peer.settings")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http_ok(f"{base}/api/v1/wallet/spends", ok_statuses=(401, 405))
        run_wrk(base=base, users_file=str(users_file), clients=clients, seconds=3, mix=SPENDS_ONLY)
        meter = CpuMeter({"peer web": in_session(proc.pid), "postgres": lambda p: p.info["name"] == "postgres"})
        meter.start()
        result = run_wrk(base=base, users_file=str(users_file), clients=clients, seconds=seconds, mix=SPENDS_ONLY)
        cpu = meter.stop()
    finally:
        stop_all([proc])
    ops = result["requests"] / (result["duration_us"] / 1e6)
    print(f"\n== the hordak peer, gunicorn direct: {clients} clients, {wallets} wallets, {seconds}s, spends ==")
    baseline = f"; {ops / pgbench_tps * 100:.1f}% of pgbench ({pgbench_tps:,.0f} TPS)" if pgbench_tps else ""
    print(f"{result['requests']:,} spends = {ops:,.1f} ops/s{baseline}")
    print(f"latency p50 {result['p50_us'] / 1000:.1f} ms, p99 {result['p99_us'] / 1000:.1f} ms; "
          f"answers by status: {dict(sorted(result['statuses'].items()))}")
    print("CPU per operation: " + ", ".join(f"{group} {used / result['requests'] * 1000:.2f} ms"
                                            for group, used in cpu.items()))
    return ops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--wallets", type=int, default=1000)
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--skip-pgbench", action="store_true", help="no baseline (ratios are then left out)")
    parser.add_argument("--skip-hot", action="store_true", help="no hot-wallet run")
    parser.add_argument("--skip-mix", action="store_true", help="no mix run")
    parser.add_argument("--peer", action="store_true", help="first, the hordak peer (bench/peer/), spends only")
    parser.add_argument("--spends-only", action="store_true", help="our mix run sends spends only (as the peer)")
    parser.add_argument("--batch", type=int, default=0, metavar="N",
                        help="also a run of batches of N spends (POST /api/v1/wallet/batches)")
    parser.add_argument("--py-spy", metavar="PROCESS", help="sample this Procfile process (e.g. web) during the runs")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: install it with `make bench-tools` (Debian's wrk)")

    tps = 0.0 if args.skip_pgbench else pgbench(scale=10, clients=8, seconds=15)
    peer_ops = measure_peer(wallets=args.wallets, clients=args.clients, seconds=args.seconds, port=args.port + 10,
                            pgbench_tps=tps) if args.peer else 0.0
    setup()
    print(f"preparing {args.wallets} wallets and one hot wallet")
    rows = prepare_wallets("bench-api", args.wallets)
    hot = prepare_wallets("bench-api-hot", 1)
    from django.db import connection

    connection.close()

    pushpin = bench_pushpin(port=args.port, origin_port=args.port + 1)
    procs = procfile_start("api", DJANGO_SETTINGS_MODULE="bench.settings", WEB_BIND=f"127.0.0.1:{args.port + 1}",
                           GRIP_CONTROL_URLS=pushpin.control_url, LOG_LEVEL="WARNING")
    base = pushpin.base_url  # users reach the API through Pushpin
    try:
        wait_http_ok(f"{base}/health/live")
        if args.batch:
            measure(f"bulk ({args.batch} a batch)", base=base, rows=rows, procs=procs, clients=args.clients,
                    seconds=args.seconds, pgbench_tps=tps, cores=cores, profile=args.py_spy, batch=args.batch)
        if args.skip_mix:
            return
        mix = measure("spends" if args.spends_only else "mix", base=base, rows=rows, procs=procs,
                      clients=args.clients, seconds=args.seconds, pgbench_tps=tps, cores=cores, profile=args.py_spy,
                      mix=SPENDS_ONLY if args.spends_only else "")
        if peer_ops:
            print(f"\nours / the hordak peer = {mix / peer_ops * 100:.0f}%")
        if not args.skip_hot:
            hot_ops = measure("hot wallet", base=base, rows=hot, procs=procs, clients=args.clients,
                              seconds=args.seconds, pgbench_tps=tps, cores=cores,
                              profile=args.py_spy)
            print(f"\nhot wallet / mix = {hot_ops / mix * 100:.0f}%")
    finally:
        stop_all(procs.values())
        pushpin.stop()


if __name__ == "__main__":
    main()

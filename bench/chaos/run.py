"""The run: set-up, load and faults at once, the drain, the checks, the report."""

import argparse
import asyncio
import contextlib
import os
import random
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import bench.chaos
from bench.chaos.browsers import Browser
from bench.chaos.checks import checks, drained, platform_own
from bench.chaos.common import BASE_URL, DRAIN_TIMEOUT_S, HOLD_CLOCKS_APART_S, say
from bench.chaos.environment import CHAOS_ENV
from bench.chaos.faults import FAULT_KINDS, Injector, fault_schedule
from bench.chaos.load import Load, users_create
from bench.chaos.report import outcome_of, report
from bench.chaos.stack import Platform, devstack, stack_fresh
from bench.chaos.timelines import latencies


async def run(args) -> int:
    """The run, and whatever happens to it, the platform and the chaos stack stopped after it."""
    # SIGTERM (as SIGINT) cancels the run: the platform and the stack are stopped all the same.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, asyncio.current_task().cancel)
    platform = Platform()
    try:
        return await run_on(platform, args)
    finally:
        say("stopping the platform and the chaos stack")
        platform.stop_all()
        if not args.keep_stack:
            await asyncio.to_thread(devstack, "stop")


async def run_on(platform: Platform, args) -> int:
    from tests.fake_channels import MailServer, SlackServer

    # The mail server and Slack are third parties: local stand-ins speaking their protocols.
    mail, slack = MailServer().start(), SlackServer()
    os.environ.update({"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(mail.port),
                       "SLACK_WEBHOOK_URL_PREFIXES": "http://127.0.0.1:"})
    try:
        return await run_with(platform, args, mail, slack)
    finally:
        mail.stop()
        slack.stop()


async def run_with(platform: Platform, args, mail, slack) -> int:
    import django
    import httpx
    from django.core.management import call_command

    django.setup()
    from django.conf import settings

    schedule = fault_schedule(args.seed, cycles=args.fault_cycles, gap_s=args.gap_s, down_s=args.down_s,
                              session_timeout_s=settings.KAFKA_CONSUMER_SESSION_TIMEOUT_MS / 1000)
    say(f"seed {args.seed}: {args.users} users, {args.operations} operations at {args.rate:g}/s, "
        f"{len(schedule)} faults")
    say("fresh chaos stack in .devstack/chaos (PostgreSQL, Redis, Kafka, Pushpin)")
    await asyncio.to_thread(stack_fresh)
    db = ThreadPoolExecutor(1, thread_name_prefix="db")  # Django's ORM is synchronous: one thread for it
    loop = asyncio.get_running_loop()

    def prepare():
        call_command("migrate", verbosity=0)
        call_command("kafka_create_topics", verbosity=0)
        return users_create(args.users, slack)

    users = await loop.run_in_executor(db, prepare)
    platform.start_all()
    api = httpx.AsyncClient(base_url=BASE_URL, timeout=httpx.Timeout(30, connect=5),
                            limits=httpx.Limits(max_connections=args.concurrency))
    streams = httpx.AsyncClient(base_url=BASE_URL, timeout=httpx.Timeout(10, read=None),
                                limits=httpx.Limits(max_connections=None, max_keepalive_connections=0))
    stop_browsers = asyncio.Event()
    rng = random.Random(args.seed)
    browsers = [Browser(u, flapping=i % 3 == 0, rng=random.Random(rng.random())) for i, u in enumerate(users)]
    tasks: list[asyncio.Task] = []  # all of the run's own: cancelled when it ends, however it ends
    injector = None
    load = Load(users, seed=args.seed, operations=args.operations, rate=args.rate, concurrency=args.concurrency)
    outcome: dict = {}
    try:
        deadline = time.monotonic() + 90
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if (await api.get("/health/ready")).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("the platform did not become ready within 90 s; see .devstack/chaos/logs/")
            await asyncio.sleep(0.5)
        tasks += [asyncio.create_task(b.run(streams, stop_browsers)) for b in browsers]
        await asyncio.sleep(3)  # the browsers connect
        say(f"platform ready; {sum(b.connects > 0 for b in browsers)}/{len(browsers)} browsers connected; "
            "load and faults start")
        t0 = time.monotonic()
        injector = Injector(platform, schedule, t0)
        load.keep_going.set()
        load_task = asyncio.create_task(load.run(api))
        faults_task = asyncio.create_task(injector.run())
        watcher = asyncio.create_task(injector.watch())
        tasks += [load_task, faults_task, watcher]

        async def progress():
            while True:
                await asyncio.sleep(15)
                done = sum(c.status is not None for c in load.calls)
                say(f"{time.monotonic() - t0:.0f}s: {done}/{len(load.calls)} calls answered, "
                    f"{len(injector.done)} faults done")

        reporter = asyncio.create_task(progress())
        tasks.append(reporter)
        if args.fault_cycles_min:
            # The load goes on until the faults of the first cycles are done, then until its count.
            while len(injector.done) < min(len(schedule), args.fault_cycles_min * len(FAULT_KINDS)) \
                    and not faults_task.done():
                await asyncio.sleep(0.5)
        load.keep_going.clear()
        while not load_task.done():
            await asyncio.wait({load_task, faults_task}, return_when=asyncio.FIRST_COMPLETED)
            if faults_task.done() and faults_task.exception():
                raise faults_task.exception()
        await load_task
        load_s = time.monotonic() - t0
        injector.stopping.set()
        await faults_task
        reporter.cancel()
        await asyncio.sleep(2)  # the watcher's last look
        watcher.cancel()
        say(f"load done: {len(load.calls)} calls in {load_s:.0f}s, {len(injector.done)} faults; draining")
        await asyncio.to_thread(devstack, "start", "postgres", "redis", "kafka", "pushpin")
        platform.revive()
        # The platform's own operations go on after the load: money expires. The checks begin once the last
        # money the load brought in is past its validity and a sweep has run since (nothing more expires or
        # is noticed then: what is left is held).
        expired_by = t0 + load_s + float(CHAOS_ENV["WALLET_BALANCE_VALIDITY_DAYS"]) * 86400 \
            + float(CHAOS_ENV["WALLET_EXPIRY_SWEEP_INTERVAL_S"]) + 3
        await asyncio.sleep(max(0.0, expired_by - time.monotonic()))
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while True:
            try:
                ready, state = await loop.run_in_executor(db, drained, browsers, mail, slack)
            except Exception as exc:  # noqa: BLE001 - a service still coming back
                ready, state = False, f"not yet readable: {exc}"
            if ready or time.monotonic() > deadline:
                break
            await asyncio.sleep(1)
        drain_s = time.monotonic() - t0 - load_s
        say(f"drained in {drain_s:.0f}s ({state})" if ready else f"NOT drained after {drain_s:.0f}s: {state}")
        await asyncio.sleep(3)  # a duplicate on its way would arrive now
        # A hold's expiry by the client's clock (from its answer) is up to a second before the server's
        # (from its transaction's start): checked in between, the client counts it and the server does
        # not. The checks begin once every hold ending soon has ended by both clocks.
        ending = [expires for u in users for _, expires in u.holds.values() if expires < time.monotonic() + 60]
        if ending:
            await asyncio.sleep(max(0.0, max(ending) + HOLD_CLOCKS_APART_S - time.monotonic()))
        stop_browsers.set()
        found = await loop.run_in_executor(db, checks, load.calls, browsers, mail, slack)
        found["platform processes that died by themselves"] = injector.crashes
        timing = await loop.run_in_executor(db, latencies, browsers, injector.windows, args.seed)
        outcome = outcome_of(seed=args.seed, users=users, calls=load.calls, injector=injector, browsers=browsers,
                             mail=mail, slack=slack, found=found, timing=timing, load_s=load_s, drain_s=drain_s)
        outcome["platform_own"] = await loop.run_in_executor(db, platform_own)
    finally:
        stop_browsers.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await api.aclose()
        await streams.aclose()
        db.shutdown(wait=False)
    report(outcome)
    return 1 if outcome["failed_checks"] else 0


def pair(text: str) -> tuple[float, float]:
    low, _, high = text.partition(",")
    return float(low), float(high or low)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=bench.chaos.__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=None, help="the fault schedule's seed (default: random)")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--operations", type=int, default=10_000, help="API calls to make (at least)")
    parser.add_argument("--rate", type=float, default=40, help="calls per second offered")
    parser.add_argument("--concurrency", type=int, default=16, help="calls in flight at most")
    parser.add_argument("--fault-cycles", type=int, default=40, help="rounds of every fault kind planned")
    parser.add_argument("--fault-cycles-min", type=int, default=0,
                        help="the load goes on at least until this many rounds of faults are done")
    parser.add_argument("--gap-s", type=pair, default=(2.0, 8.0), help="seconds between faults: min,max")
    parser.add_argument("--down-s", type=pair, default=(2.0, 10.0), help="seconds a part stays down: min,max")
    parser.add_argument("--short", action="store_true",
                        help="the short run of `make test`: seed 7, 20 users, every fault once, ~100 s of load")
    parser.add_argument("--keep-stack", action="store_true", help="leave the chaos stack's services running")
    args = parser.parse_args(argv)
    os.environ.update(CHAOS_ENV)  # this process and all it starts: the chaos stack (bench/chaos/environment.py)
    if args.short:
        args.seed = 7 if args.seed is None else args.seed
        args.users, args.operations, args.rate, args.fault_cycles, args.fault_cycles_min = 20, 1000, 25, 1, 1
        args.gap_s, args.down_s = (1.0, 3.0), (1.0, 3.0)
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1, 10**6)
    try:
        return asyncio.run(run(args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        say("interrupted; the platform and the chaos stack are stopped")
        return 130

"""Chaos run: the whole platform under load while every part of it dies and comes back.

    make chaos                                   # 200 users, 10,000 operations, a random seed
    .venv/bin/python -m bench.chaos --seed 42 --operations 10000 --users 200
    .venv/bin/python -m bench.chaos --short      # what `make test` runs: 1 cycle of every fault, seed 7

It starts a stack of its own (PostgreSQL, Redis, Kafka, Pushpin in ``.devstack/chaos/``,
bench/chaos_settings.py) and every process of the Procfile on it, as ``make run`` does.
Then, at once:

- **users**: N users, each with a browser on its SSE stream (through Pushpin, with its API
  token); a third of them drop their stream every few seconds and come back with
  ``Last-Event-ID``, the others reconnect only when the platform drops them;
- **load**: a steady mix of charges, spends and reversals through the HTTP API, each call
  retried on network errors, 5xx, 429 and "request in flight" with the same
  ``Idempotency-Key``, as a careful client does, until it gets a definite answer;
- **faults** on a schedule drawn from the seed: kill -9 of a gunicorn worker, of the web
  server, the Celery worker, beat, ``run_consumer`` and the channel consumers (each restarted
  after a while); stop/start of PostgreSQL, Redis, Kafka and Pushpin; a crash of PostgreSQL
  (immediate shutdown) and of Kafka (kill -9); SIGSTOP/SIGCONT of the consumer for longer
  than its Kafka session timeout, and of the Celery worker.

When the load is done, the faults stop, the platform drains, and the checks run (see
``checks``). A failed check prints the seed, the fault schedule and the offending ids; the
same ``--seed`` replays the same schedule. Results go to ``.devstack/chaos-results/<seed>.json``
(each event's timeline to ``<seed>-events.csv``), the processes' logs to ``.devstack/chaos/logs/``.
Exit status: 0 when every check passed.
"""

import argparse
import asyncio
import contextlib
import dataclasses
import itertools
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.fake_channels import MailServer, SlackServer

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.chaos_stack import CHAOS_DIR, CHAOS_ENV, CHAOS_PUBLIC_PORT  # noqa: E402

BASE_URL = f"http://127.0.0.1:{CHAOS_PUBLIC_PORT}"
RESULTS_DIR = ROOT / ".devstack" / "chaos-results"  # outside the stack's directory, which each run starts afresh
CALL_GIVE_UP_S = 600  # a call still without a definite answer after this is reported unresolved
DRAIN_TIMEOUT_S = 300

RETRIED_STATUSES = {408, 429, 500, 502, 503, 504}


STARTED = time.monotonic()


def say(text: str) -> None:
    print(f"[chaos {time.monotonic() - STARTED:6.1f}s] {text}", flush=True)


# --- The schedule -------------------------------------------------------------------------


@dataclasses.dataclass
class Fault:
    at_s: float  # planned, from the start of the load
    name: str
    duration_s: float  # how long the part stays down (or paused)
    started_s: float | None = None  # as it happened
    ended_s: float | None = None
    started_at: float | None = None  # the same, wall-clock (the events' timeline is)


PROCESS_KILLS = ("kill-web", "kill-worker", "kill-beat", "kill-consumer", "kill-email", "kill-slack")
SERVICE_STOPS = ("stop-postgres", "stop-redis", "stop-kafka", "stop-pushpin")
SERVICE_CRASHES = ("crash-postgres", "crash-kafka")  # no clean shutdown: recovery from their logs at start
PAUSES = ("pause-consumer", "pause-worker")
FAULT_KINDS = ("kill-web-worker", *PROCESS_KILLS, *SERVICE_STOPS, *SERVICE_CRASHES, *PAUSES)


def fault_schedule(seed: int, *, cycles: int, gap_s: tuple[float, float], down_s: tuple[float, float],
                   session_timeout_s: float) -> list[Fault]:
    """``cycles`` rounds of every kind of fault, each round in an order drawn from ``seed``. A pause lasts
    longer than the Kafka session timeout: the group gives the paused consumer's partitions away, and
    the consumer finds out only when it wakes."""
    rng = random.Random(seed)
    faults, at = [], 5.0
    for _ in range(cycles):
        for name in rng.sample(FAULT_KINDS, len(FAULT_KINDS)):
            if name.startswith("pause-"):
                duration = session_timeout_s + rng.uniform(2, 8)
            elif name == "kill-web-worker":
                duration = 0.0  # gunicorn's master replaces it at once
            else:
                duration = rng.uniform(*down_s)
            faults.append(Fault(at_s=round(at, 1), name=name, duration_s=round(duration, 1)))
            at += duration + rng.uniform(*gap_s)
    return faults


# --- The stack and the platform's processes ------------------------------------------------


def devstack(action: str, *services: str) -> None:
    done = subprocess.run([str(ROOT / "scripts" / "devstack.sh"), action, *services], env=os.environ,
                          capture_output=True, text=True, timeout=300)
    if done.returncode:
        raise RuntimeError(f"devstack.sh {action} {' '.join(services)}: {done.stdout}{done.stderr}")


def crash(service: str) -> None:
    """Stop a service the way a crash does: PostgreSQL's immediate shutdown (no checkpoint: WAL replay at
    the next start), kill -9 of Kafka's JVM (its logs recovered at the next start)."""
    if service == "postgres":
        pg_ctl = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))[-1]
        argv = [str(pg_ctl), "-D", str(CHAOS_DIR / "postgres" / "data"), "-m", "immediate", "-w", "stop"]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        subprocess.run(argv, check=True, capture_output=True, timeout=60)
    elif service == "kafka":
        pid_file = CHAOS_DIR / "kafka" / "kafka.pid"
        pid = int(pid_file.read_text())
        os.kill(pid, signal.SIGKILL)
        while Path(f"/proc/{pid}").exists():
            time.sleep(0.1)
    else:
        raise ValueError(service)


def stack_fresh() -> None:
    """A clean chaos stack: stopped if a run left it running, its data deleted (Kafka's jars kept)."""
    devstack("stop")
    if CHAOS_DIR.exists():
        for path in CHAOS_DIR.iterdir():
            if path.name == "kafka":
                for inner in path.iterdir():
                    if inner.name != "lib":
                        shutil.rmtree(inner) if inner.is_dir() else inner.unlink()
            else:
                shutil.rmtree(path) if path.is_dir() else path.unlink()
    (CHAOS_DIR / "logs").mkdir(parents=True, exist_ok=True)
    (CHAOS_DIR / "metrics").mkdir(parents=True, exist_ok=True)
    devstack("start", "postgres", "redis", "kafka", "pushpin")


class Platform:
    """The Procfile's processes, each in its own session (so kill -9 takes its children too)."""

    def __init__(self):
        from bench.common import procfile_commands

        self.commands = procfile_commands()
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str) -> None:
        with open(CHAOS_DIR / "logs" / f"{name}.log", "ab") as log:
            self.procs[name] = subprocess.Popen(
                ["sh", "-c", self.commands[name]], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1",
                     "CELERY_BEAT_SCHEDULE_FILE": str(CHAOS_DIR / "celerybeat-schedule")},
                start_new_session=True)

    def start_all(self) -> None:
        for name in self.commands:
            self.start(name)

    def signal(self, name: str, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.procs[name].pid, sig)

    def kill9(self, name: str) -> None:
        self.signal(name, signal.SIGKILL)
        self.procs[name].wait(timeout=30)

    def restart(self, name: str) -> None:
        self.start(name)

    def web_workers(self) -> list[int]:
        """The gunicorn workers: the children of the gunicorn master."""
        import psutil

        with contextlib.suppress(psutil.Error):
            root = psutil.Process(self.procs["web"].pid)
            gunicorns = [p for p in [root, *root.children(recursive=True)]
                         if "gunicorn" in " ".join(p.cmdline())]
            pids = {p.pid for p in gunicorns}
            return [p.pid for p in gunicorns if p.ppid() in pids]
        return []

    def revive(self) -> None:
        """Start whatever is not running, wake whatever is paused."""
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                self.restart(name)
            self.signal(name, signal.SIGCONT)

    def stop_all(self) -> None:
        from bench.common import stop_all

        for name in self.procs:
            self.signal(name, signal.SIGCONT)
        stop_all(self.procs.values())


class Injector:
    """Carries out the schedule, one fault at a time, and records when each happened."""

    def __init__(self, platform: Platform, schedule: list[Fault], t0: float):
        self.platform = platform
        self.schedule = schedule
        self.t0 = t0
        self.done: list[Fault] = []
        self.stopping = asyncio.Event()
        self.down: str | None = None  # the process a fault holds down (killed or paused) right now
        self.crashes: list[str] = []  # processes that died by themselves (see watch)
        self.windows: list[tuple[float, float]] = []  # wall-clock (start, end) of each fault

    def now_s(self) -> float:
        return time.monotonic() - self.t0

    async def run(self) -> None:
        for fault in self.schedule:
            delay = fault.at_s - self.now_s()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), delay)
            if self.stopping.is_set():
                return
            fault.started_s = self.now_s()
            wall_start = fault.started_at = time.time()
            say(f"fault {len(self.done) + 1}/{len(self.schedule)}: {fault.name} for {fault.duration_s}s")
            try:
                await self.inject(fault)
            except Exception as exc:  # a fault that could not be injected or undone is the run's failure
                raise RuntimeError(f"fault {fault.name} at {fault.started_s:.1f}s: {exc}") from exc
            fault.ended_s = self.now_s()
            self.windows.append((wall_start, time.time()))
            self.done.append(fault)

    async def inject(self, fault: Fault) -> None:
        platform, kind = self.platform, fault.name
        if kind == "kill-web-worker":
            workers = await asyncio.to_thread(platform.web_workers)
            if workers:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(random.Random(fault.at_s).choice(workers), signal.SIGKILL)
        elif kind in PROCESS_KILLS:
            name = self.down = kind.removeprefix("kill-")
            await asyncio.to_thread(platform.kill9, name)
            await asyncio.sleep(fault.duration_s)
            platform.restart(name)
            self.down = None
        elif kind in PAUSES:
            name = self.down = kind.removeprefix("pause-")
            platform.signal(name, signal.SIGSTOP)
            await asyncio.sleep(fault.duration_s)
            platform.signal(name, signal.SIGCONT)
            self.down = None
        elif kind in SERVICE_STOPS:
            service = kind.removeprefix("stop-")
            await asyncio.to_thread(devstack, "stop", service)
            await asyncio.sleep(fault.duration_s)
            await asyncio.to_thread(devstack, "start", service)
        elif kind in SERVICE_CRASHES:
            service = kind.removeprefix("crash-")
            await asyncio.to_thread(crash, service)
            await asyncio.sleep(fault.duration_s)
            await asyncio.to_thread(devstack, "start", service)
        else:
            raise ValueError(kind)

    async def watch(self) -> None:
        """A process of the platform must survive any outage of what it uses: one that exits without a
        fault killing it is a finding (restarted, so that the run goes on, and reported)."""
        while True:
            await asyncio.sleep(1)
            for name, proc in self.platform.procs.items():
                if name != self.down and proc.poll() is not None:
                    self.crashes.append(f"{name} exited with {proc.returncode} at {self.now_s():.0f}s "
                                        f"(see .devstack/chaos/logs/{name}.log)")
                    say(f"CRASH: {self.crashes[-1]}")
                    self.platform.restart(name)


# --- The users: API calls and browsers ---------------------------------------------------------


@dataclasses.dataclass
class Call:
    """One operation a client asked for: one Idempotency-Key, however many attempts it took."""

    key: str
    user_id: int
    kind: str  # charge, spend, reversal
    body: dict
    reversed_kind: str = ""  # of a reversal: CHARGE or SPEND
    attempts: int = 0
    retried_because: Counter = dataclasses.field(default_factory=Counter)
    status: int | None = None
    answer: dict | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def effect(self) -> int:
        """What it did to the balance, by the client's reckoning."""
        if not self.ok:
            return 0
        amount = self.body["amount"]
        return {"charge": amount, "spend": -amount,
                "reversal": amount if self.reversed_kind == "SPEND" else -amount}[self.kind]


PATHS = {"charge": "/api/v1/wallet/charges", "spend": "/api/v1/wallet/spends",
         "reversal": "/api/v1/wallet/reversals"}


@dataclasses.dataclass
class User:
    id: int
    token: str
    stream_position: str
    email: bool = False  # wants every event by email
    slack: bool = False  # and on Slack
    balance: int = 0  # the client's reckoning from definite answers
    reversible: list = dataclasses.field(default_factory=list)  # [transactionId, kind, remaining]


class Load:
    def __init__(self, users: list[User], *, seed: int, operations: int, rate: float, concurrency: int):
        self.users = users
        self.rng = random.Random(seed * 7919 + 1)
        self.operations = operations
        self.rate = rate
        self.concurrency = concurrency
        self.calls: list[Call] = []
        self.keep_going = asyncio.Event()  # set while the faults still run (the load goes on until both end)
        self.run_id = uuid.uuid4().hex[:8]

    def next_call(self) -> Call:
        user = self.rng.choice(self.users)
        key = f"chaos-{self.run_id}-{len(self.calls)}"
        roll = self.rng.random()
        if user.balance < 5_000 or roll < 0.25:
            body = {"amount": self.rng.randrange(10_000, 50_001, 1_000), "paymentKey": f"pk-{key}",
                    "orderId": f"o-{key}"}
            call = Call(key, user.id, "charge", body)
        elif roll < 0.85 or not user.reversible:
            body = {"amount": self.rng.randint(100, min(5_000, user.balance)), "description": "chaos"}
            call = Call(key, user.id, "spend", body)
        else:
            target = self.rng.choice(user.reversible)
            body = {"transactionId": target[0], "amount": self.rng.randint(1, min(target[2], 20_000)),
                    "reason": "chaos"}
            call = Call(key, user.id, "reversal", body, reversed_kind=target[1])
        self.calls.append(call)
        return call

    async def run(self, http) -> None:
        t0 = time.monotonic()
        users = {u.id: u for u in self.users}

        slots = itertools.count()  # the n-th call is due n / rate seconds after the start

        async def client() -> None:
            while len(self.calls) < self.operations or self.keep_going.is_set():
                await asyncio.sleep(max(0.0, t0 + next(slots) / self.rate - time.monotonic()))
                call = self.next_call()
                await self.perform(http, call, users[call.user_id])

        await asyncio.gather(*(client() for _ in range(self.concurrency)))

    async def perform(self, http, call: Call, user: User) -> None:
        started = time.monotonic()
        headers = {"Authorization": f"Token {user.token}", "Idempotency-Key": call.key}
        while True:
            call.attempts += 1
            wait = min(5.0, 0.25 * 2 ** min(call.attempts, 5)) * (0.5 + self.rng.random())
            try:
                response = await http.post(PATHS[call.kind], json=call.body, headers=headers)
            except Exception as exc:  # the network, a proxy or a server gone: the same request again
                call.retried_because[type(exc).__name__] += 1
            else:
                try:
                    answer = response.json()
                except ValueError:
                    answer = {"text": response.text[:200]}
                code = answer.get("code") if isinstance(answer, dict) else None
                retry = response.status_code in RETRIED_STATUSES or code == "idempotency_request_in_flight"
                if not retry:
                    call.status, call.answer = response.status_code, answer
                    break
                call.retried_because[f"{response.status_code} {code or ''}".strip()] += 1
                with contextlib.suppress(ValueError, TypeError):
                    wait = max(wait, min(10.0, float(response.headers.get("Retry-After"))))
            if time.monotonic() - started > CALL_GIVE_UP_S:
                return  # unresolved: the checks report it
            await asyncio.sleep(wait)
        if call.ok:
            user.balance += call.effect
            if call.kind in ("charge", "spend"):
                user.reversible.append([call.answer["transactionId"], call.kind.upper(), call.body["amount"]])
            else:
                for target in user.reversible:
                    if target[0] == call.body["transactionId"]:
                        target[2] -= call.body["amount"]
                user.reversible = [t for t in user.reversible if t[2] > 0]


class StreamGap(Exception):
    """A stream skipped ids: events stored but not pushed to it."""


def stream_seq(event_id: str | None) -> int | None:
    """n of a stream's event id "<channel>:<n>" (the channel's events are numbered 1, 2, 3, ...)."""
    head, _, tail = (event_id or "").rpartition(":")
    return int(tail) if head and tail.isdigit() else None


class Browser:
    """A user's browser on its SSE stream, through Pushpin: an EventSource that resumes with Last-Event-ID,
    and that reopens its stream on a gap in the ids, as the wallet page does (wallets/static/wallets/wallet.js)."""

    def __init__(self, user: User, *, flapping: bool, rng: random.Random):
        self.user = user
        self.flapping = flapping
        self.rng = rng
        self.last_event_id = user.stream_position
        self.received: list[tuple[str, float]] = []  # (eventId, wall-clock arrival)
        self.connects = 0
        self.gaps = 0  # streams reopened because their ids skipped some
        self.refusals: Counter = Counter()
        self.stream_errors: list[str] = []

    async def run(self, http, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                async with asyncio.timeout(self.rng.uniform(3, 20) if self.flapping else None):
                    await self.listen(http, stop)
            except TimeoutError:
                pass  # this browser's tab went to sleep: it comes back with Last-Event-ID
            except StreamGap:
                self.gaps += 1
                continue  # reopened at once, from the last event it has
            except Exception as exc:  # dropped (a proxy or a server gone): EventSource reconnects
                self.refusals[type(exc).__name__] += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.rng.uniform(0.2, 3) if self.flapping else 1)

    async def listen(self, http, stop: asyncio.Event) -> None:
        headers = {"Authorization": f"Token {self.user.token}", "Last-Event-ID": self.last_event_id}
        async with http.stream("GET", "/events/", headers=headers) as response:
            if response.status_code != 200:
                self.refusals[str(response.status_code)] += 1
                return
            self.connects += 1
            event: dict = {}
            async for line in response.aiter_lines():
                if stop.is_set():
                    return
                if line == "":
                    self.handle(event)
                    event = {}
                elif not line.startswith(":"):
                    name, _, value = line.partition(":")
                    event[name] = value[1:] if value.startswith(" ") else value

    def handle(self, event: dict) -> None:
        kind = event.get("event", "message")
        if kind == "notification":
            seq, last = stream_seq(event.get("id")), stream_seq(self.last_event_id)
            if seq is not None and last is not None and seq > last + 1:
                raise StreamGap(f"{self.last_event_id} -> {event.get('id')}")
            self.received.append((json.loads(event["data"])["eventId"], time.time()))
        elif kind == "stream-error":
            self.stream_errors.append(event.get("data", ""))
        if event.get("id") and event["id"] != "error":
            self.last_event_id = event["id"]


# --- Set-up, drain, checks -------------------------------------------------------------------------


def users_create(count: int, slack: "SlackServer") -> list[User]:
    """``count`` users; one in four also wants every event by email, one in five on Slack (a webhook of
    its own at the Slack stand-in, so that what arrives there can be told apart)."""
    from django.contrib.auth import get_user_model

    from accounts.services import api_token_create
    from notifications.services import notification_preference_update
    from notifications.sse import sse_stream_position
    from prepaid.events import EventType

    every_type = [t.value for t in EventType]
    users = []
    for i in range(count):
        user = get_user_model().objects.create_user(username=f"chaos-{i}", password=None,
                                                    email=f"chaos-{i}@example.com" if i % 4 == 0 else "")
        email, slack_on = i % 4 == 0, i % 5 == 0
        if email or slack_on:
            notification_preference_update(
                user=user, email_enabled=email, email_event_types=every_type, slack_enabled=slack_on,
                slack_webhook_url=slack.webhook_of(user.id) if slack_on else "", slack_event_types=every_type)
        users.append(User(user.id, api_token_create(user=user)[1], sse_stream_position(user_id=user.id),
                          email=email, slack=slack_on))
    return users


def drained(browsers: list["Browser"], mail: "MailServer", slack: "SlackServer") -> tuple[bool, str]:
    """Whether every committed event has reached its notification, its browser and its user's channels."""
    from django.db import connection

    from notifications.models import Notification
    from outbox.models import OutboxEvent

    connection.close()  # the database may have restarted since the last look
    pending = OutboxEvent.objects.filter(published_at__isnull=True).count()
    events = OutboxEvent.objects.count()
    notified = Notification.objects.count()
    expected = Counter(OutboxEvent.objects.values_list("key", flat=True))
    behind = sum(1 for b in browsers if len({e for e, _ in b.received}) < expected[str(b.user.id)])
    users = [b.user for b in browsers]
    mailed = set(mail_event_ids(mail))
    mail_due = {str(e) for e in OutboxEvent.objects.filter(
        key__in=[str(u.id) for u in users if u.email]).values_list("event_id", flat=True)}
    slack_behind = sum(1 for u in users if u.slack and slack.paths[slack.path_of(u.id)] < expected[str(u.id)])
    connection.close()
    return (pending == 0 and notified >= events and behind == 0 and mail_due <= mailed and not slack_behind,
            f"outbox pending {pending}, notifications {notified}/{events}, browsers behind {behind}, "
            f"mails due {len(mail_due - mailed)}, Slack users behind {slack_behind}")


def mail_event_ids(mail: "MailServer") -> list[str]:
    """The event of each mail received, from its Message-ID (<eventId.domain>), in arrival order."""
    return [m["Message-ID"].strip("<>").split(".", 1)[0] for m in list(mail.messages)]


def kafka_event_ids(topic: str) -> list[str]:
    """Every record's eventId on ``topic``, from the beginning to its end now."""
    from django.conf import settings
    from kafka import KafkaConsumer
    from kafka.structs import TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, group_id=None,
                             enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        consumer.assign(partitions)
        end = consumer.end_offsets(partitions)
        consumer.seek_to_beginning(*partitions)
        ids: list[str] = []
        deadline = time.monotonic() + 120
        while any(consumer.position(tp) < end[tp] for tp in partitions):
            if time.monotonic() > deadline:
                raise RuntimeError(f"could not read {topic} to its end")
            for records in consumer.poll(timeout_ms=500).values():
                ids.extend(dict(r.headers).get("eventId", b"?").decode() for r in records)
        return ids
    finally:
        consumer.close()


def checks(calls: list[Call], browsers: list[Browser], mail: "MailServer", slack: "SlackServer"
           ) -> dict[str, list]:
    """Each check's offending ids (empty: it passed)."""
    from django.conf import settings
    from django.db import connection
    from django.db.models import Sum

    from ledger.models import JournalEntry, Posting
    from notifications.models import DeadLetter, Notification
    from outbox.models import OutboxEvent
    from wallets.models import Wallet
    from wallets.selectors import wallet_ledger_reconcile

    connection.close()
    found: dict[str, list] = {}
    entries = {str(e["id"]): e for e in JournalEntry.objects.values("id", "kind", "user_id", "amount",
                                                                   "idempotency_key")}
    by_key = defaultdict(list)
    for entry_id, entry in entries.items():
        by_key[entry["idempotency_key"]].append(entry_id)
    asked = {c.key: c for c in calls}

    # Every 2xx is exactly one journal entry (its own), every retried key one effect, nothing unasked for.
    found["unresolved calls (no definite answer)"] = [c.key for c in calls if c.status is None]
    found["2xx without its journal entry"] = [
        c.key for c in calls if c.ok and (c.answer.get("transactionId") not in entries
                                          or entries[c.answer["transactionId"]]["idempotency_key"] != c.key)]
    found["keys with more than one entry"] = [k for k, ids in by_key.items() if len(ids) > 1]
    found["entries no 2xx asked for"] = [
        ids for k, ids in by_key.items() if k not in asked or not asked[k].ok]
    # Money: the ledger reconciles, sums to zero, and each wallet holds what its client was told.
    reconciled = wallet_ledger_reconcile(limit=100)
    found["ledger mismatches (reconcile_ledger)"] = [
        *[f"wallet {w['id']}" for w in reconciled.wallet_mismatches],
        *[f"entry {e['id']}" for e in reconciled.unbalanced_entries]]
    total = Posting.objects.aggregate(total=Sum("amount"))["total"] or 0
    found["postings not summing to zero"] = [total] if total else []
    expected_balance = Counter()
    for call in calls:
        expected_balance[call.user_id] += call.effect
    found["wallets whose balance drifted from the answers"] = [
        f"user {w.user_id}: {w.balance} != {expected_balance[w.user_id]} (held {w.held})"
        for w in Wallet.objects.all() if w.balance != expected_balance[w.user_id] or w.held]

    # Events: one per entry, all in Kafka, each notified exactly once, in commit order.
    outbox = list(OutboxEvent.objects.order_by("id").values("id", "event_id", "key", "payload", "created_at",
                                                            "published_at", "failed_at"))
    event_of_entry = Counter(o["payload"]["metadata"]["transactionId"] for o in outbox)
    found["entries without exactly one event"] = [e for e in entries if event_of_entry[e] != 1]
    found["outbox rows pending or parked"] = [str(o["event_id"]) for o in outbox
                                              if not o["published_at"] or o["failed_at"]]
    in_kafka = Counter(kafka_event_ids(settings.KAFKA_TOPIC_WALLET_EVENTS))
    found["committed events missing from Kafka"] = [str(o["event_id"]) for o in outbox
                                                    if not in_kafka[str(o["event_id"])]]
    notifications = list(Notification.objects.order_by("id").values_list("user_id", "event_id"))
    per_event = Counter(str(e) for _, e in notifications)
    found["events not notified exactly once"] = [str(o["event_id"]) for o in outbox
                                                 if per_event[str(o["event_id"])] != 1]
    committed_order = defaultdict(list)  # per user, its events in commit order (the outbox id order)
    for o in outbox:
        committed_order[int(o["key"])].append(str(o["event_id"]))
    committed = {e for ids in committed_order.values() for e in ids}
    notified_order = defaultdict(list)
    for user_id, event_id in notifications:
        notified_order[user_id].append(str(event_id))
    found["users notified out of commit order"] = [
        u for u, ids in committed_order.items() if not in_order_of(notified_order[u], ids)]
    found["notifications for no committed event"] = [e for e in per_event if e not in committed]
    # Browsers: each ends with its user's events, each once, in commit order.
    for browser in browsers:
        got = [e for e, _ in browser.received]
        for name, ids in stream_findings(got, committed_order[browser.user.id]).items():
            found.setdefault(f"browsers {name}", [])
            if ids:
                found[f"browsers {name}"].append(f"user {browser.user.id}: {ids[:5]}")
    # Email and Slack: every event of a user who wants it, delivered (at least once: a consumer killed
    # between the mail server's answer and recording it sends it again, with the same Message-ID).
    users = [b.user for b in browsers]
    mailed = Counter(mail_event_ids(mail))
    mail_due = {e for u in users if u.email for e in committed_order[u.id]}
    slack_paths = {slack.path_of(u.id): u for u in users if u.slack}
    found["emails missing"] = [e for e in mail_due if not mailed[e]]
    found["emails for no committed event or user who wants none"] = [e for e in mailed if e not in mail_due]
    found["Slack users short of messages"] = [
        f"user {u.id}: {slack.paths[p]} < {len(committed_order[u.id])}" for p, u in slack_paths.items()
        if slack.paths[p] < len(committed_order[u.id])]
    found["Slack messages to users who want none"] = [p for p in slack.paths if p not in slack_paths]
    # Nothing parked.
    found["dead letters stored"] = [
        f"{d.original_topic}[{d.original_partition}]@{d.original_offset}: {d.exception_type}: "
        f"{d.exception_message[:200]}" for d in DeadLetter.objects.all()]
    found["records on the DLT"] = kafka_event_ids(settings.KAFKA_TOPIC_WALLET_EVENTS_DLT)
    connection.close()
    return found


def stream_findings(got: list[str], want: list[str]) -> dict[str, list[str]]:
    """What is wrong with the events a browser ``got`` (in arrival order), against the events of its user
    ``want`` (in commit order): each finding's event ids (all empty: the stream is right)."""
    got_set, want_set = set(got), set(want)
    first_arrivals = list(dict.fromkeys(got))
    return {"missing events": [e for e in want if e not in got_set],
            "with duplicates": [e for e, n in Counter(got).items() if n > 1],
            "out of order": [] if in_order_of(first_arrivals, want) else first_arrivals,
            "given events never committed": [e for e in first_arrivals if e not in want_set]}


def in_order_of(seen: list[str], order: list[str]) -> bool:
    """Whether the events of ``seen`` that are in ``order`` come in that order (missing and extra ones are
    the other checks' business)."""
    position = {e: i for i, e in enumerate(order)}
    ranks = [position[e] for e in seen if e in position]
    return all(a < b for a, b in itertools.pairwise(ranks))


def latencies(browsers: list[Browser], windows: list[tuple[float, float]], seed: int) -> dict:
    """Commit -> browser, in seconds, at the browsers that stay connected (a flapping one's wait is its
    own absence): over all events, those committed while a fault lasted, and those committed outside."""
    from notifications.models import Notification
    from outbox.models import OutboxEvent

    outbox = {str(e): (c.timestamp(), p.timestamp() if p else None)
              for e, c, p in OutboxEvent.objects.values_list("event_id", "created_at", "published_at")}
    committed = {e: c for e, (c, _) in outbox.items()}
    notified = {str(e): t.timestamp() for e, t in Notification.objects.values_list("event_id", "created_at")}
    waits: dict[str, list[float]] = {"all": [], "during a fault": [], "outside faults": [],
                                     "stage commit -> Kafka (relay)": [], "stage Kafka -> notification (consumer)": [],
                                     "stage notification -> browser (push)": []}
    timeline = []
    for browser in browsers:
        if browser.flapping:
            continue
        for event_id, at in dict(reversed(browser.received)).items():  # each event's first arrival
            if event_id in committed:
                published = outbox[event_id][1]
                timeline.append((event_id, browser.user.id, committed[event_id], published, notified.get(event_id), at))
            if event_id in committed:
                wait = at - committed[event_id]
                waits["all"].append(wait)
                during = any(a <= committed[event_id] <= b for a, b in windows)
                waits["during a fault" if during else "outside faults"].append(wait)
                published = outbox[event_id][1]
                if published and event_id in notified:
                    waits["stage commit -> Kafka (relay)"].append(published - committed[event_id])
                    waits["stage Kafka -> notification (consumer)"].append(notified[event_id] - published)
                    waits["stage notification -> browser (push)"].append(at - notified[event_id])

    def summary(values: list[float]) -> dict:
        values = sorted(values)
        if not values:
            return {"events": 0}

        def pct(p):
            return round(values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))], 3)

        return {"events": len(values), "p50_s": pct(50), "p99_s": pct(99), "max_s": round(values[-1], 3)}

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    with open(RESULTS_DIR / f"{seed}-events.csv", "w") as out:  # for a look at where the time went
        out.write("event_id,user_id,committed,published,notified,at_browser\n")
        out.writelines(",".join(str(v) for v in row) + "\n" for row in sorted(timeline, key=lambda r: r[2]))
    return {name: summary(values) for name, values in waits.items()}


# --- The run -------------------------------------------------------------------------------


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
        stop_browsers.set()
        found = await loop.run_in_executor(db, checks, load.calls, browsers, mail, slack)
        found["platform processes that died by themselves"] = injector.crashes
        timing = await loop.run_in_executor(db, latencies, browsers, injector.windows, args.seed)
        outcome = {"seed": args.seed, "users": args.users, "calls": len(load.calls), "load_s": round(load_s, 1),
                   "drain_s": round(drain_s, 1),
                   "answers": dict(Counter(str(c.status) for c in load.calls)),
                   "retried_calls": sum(c.attempts > 1 for c in load.calls),
                   "retries_because": dict(sum((c.retried_because for c in load.calls), Counter())),
                   "entries": len({c.key for c in load.calls if c.ok}),
                   "faults": [dataclasses.asdict(f) for f in injector.done],
                   "fault_counts": dict(Counter(f.name for f in injector.done)),
                   "browser_connects": sum(b.connects for b in browsers),
                   "browser_gaps_reopened": sum(b.gaps for b in browsers),
                   "channels": {"email_users": sum(u.email for u in users), "slack_users": sum(u.slack for u in users),
                                "mails": len(mail.messages),
                                "mails_repeated": sum(n - 1 for n in Counter(mail_event_ids(mail)).values()),
                                "slack_messages": sum(slack.paths.values())},
                   "browser_refusals": dict(sum((b.refusals for b in browsers), Counter())),
                   "latency": timing, "failed_checks": {k: v[:20] for k, v in found.items() if v},
                   "counts": {k: len(v) for k, v in found.items()}}
    finally:
        stop_browsers.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await api.aclose()
        await streams.aclose()
        db.shutdown(wait=False)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / f"{args.seed}.json").write_text(json.dumps(outcome, indent=2, default=str))
    report(outcome)
    return 1 if outcome["failed_checks"] else 0


def report(outcome: dict) -> None:
    print(f"\nCHAOS seed={outcome['seed']} calls={outcome['calls']} entries={outcome['entries']} "
          f"faults={len(outcome['faults'])} answers={outcome['answers']} retried={outcome['retried_calls']}")
    print(f"  faults: {outcome['fault_counts']}")
    print(f"  retries because: {outcome['retries_because']}")
    print(f"  browsers: {outcome['browser_connects']} connections, refused/dropped {outcome['browser_refusals']}, "
          f"reopened on a gap in the ids {outcome['browser_gaps_reopened']}")
    print(f"  channels: {outcome['channels']}")
    for name, figures in outcome["latency"].items():
        print(f"  commit -> connected browser, {name}: {figures}")
    for name, count in outcome["counts"].items():
        print(f"  {'FAIL' if count else 'ok  '} {name}: {count}")
    if outcome["failed_checks"]:
        print(f"\nFAILED. Replay with: python -m bench.chaos --seed {outcome['seed']} (same options)")
        print("faults (planned at, began at, fault, down for):")
        for fault in outcome["faults"]:
            print(f"  {fault['at_s']:7.1f}s {fault['started_s']:7.1f}s {fault['name']:<16} {fault['duration_s']:5.1f}s")
        print(json.dumps(outcome["failed_checks"], indent=2, default=str))
    else:
        print("\nPASSED: nothing lost, duplicated, invented or out of order; the ledger reconciles.")


def pair(text: str) -> tuple[float, float]:
    low, _, high = text.partition(",")
    return float(low), float(high or low)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
    os.environ.update(CHAOS_ENV)  # this process and all it starts: the chaos stack (bench/chaos_stack.py)
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


if __name__ == "__main__":
    sys.exit(main())

"""Helpers for tests that run real processes of the platform."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], object], *, timeout_s: float, interval_s: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout_s
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(interval_s)


def database_client_ports(pid: int) -> set[int]:
    """The local ports of the PostgreSQL connections held by process ``pid`` and its children."""
    import psutil
    from django.db import connection

    db_port = int(connection.settings_dict["PORT"] or 5432)
    root = psutil.Process(pid)
    return {c.laddr.port for proc in [root, *root.children(recursive=True)]
            for c in proc.net_connections(kind="tcp") if c.raddr and c.raddr.port == db_port}


def terminate_database_connections(pid: int) -> int:
    """pg_terminate_backend every PostgreSQL connection of process ``pid`` and its children
    (as a network cut or a database failover would end them). Returns how many."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE client_port = ANY(%s)",
                       [sorted(database_client_ports(pid))])
        return cursor.fetchone()[0]


def test_database_url() -> str:
    """The URL of pytest-django's test database, for child processes."""
    from django.db import connection

    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


test_database_url.__test__ = False  # a helper, not a test


class Process:
    """A child process of the platform, with its output in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path):
        self.name = name
        self.argv = argv
        self.env = env
        # One log per start: a restarted process must not look ready because of its predecessor's lines.
        self.log_path = log_dir / f"{name}.log"
        suffix = 1
        while self.log_path.exists():
            suffix += 1
            self.log_path = log_dir / f"{name}-{suffix}.log"
        self.popen: subprocess.Popen | None = None

    def start(self) -> "Process":
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it for its lifetime
        # Its own process group, so that a crash test can kill -9 it with all its children.
        self.popen = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        log.close()
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill9(self) -> None:
        if self.alive():
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(timeout=30)

    def kill_group(self) -> None:
        """kill -9 the process and every child it started (a crash, as a power cut would do it)."""
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=30)

    def stop(self, timeout_s: float = 20) -> int | None:
        if not self.alive():
            return self.popen.returncode if self.popen else None
        self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=10)
            return None


def celery_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "prepaid", *args]


class KafkaTail:
    """Reads a topic from its current end: what is produced after creation, in partition order."""

    def __init__(self, topic: str):
        from django.conf import settings
        from kafka import KafkaConsumer
        from kafka.structs import TopicPartition

        from prepaid.kafka import kafka_admin

        with kafka_admin() as admin:
            (described,) = admin.describe_topics([topic])
        self.partitions = [TopicPartition(topic, p["partition_index"]) for p in described["partitions"]]
        self.consumer = KafkaConsumer(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, enable_auto_commit=False,
                                      group_id=None, request_timeout_ms=30000)
        self.consumer.assign(self.partitions)
        self.consumer.seek_to_end()
        self.start_offsets = {tp: self.consumer.position(tp) for tp in self.partitions}
        self.records: list = []

    def collect(self, until: Callable[[list], bool], *, timeout_s: float) -> list:
        deadline = time.monotonic() + timeout_s
        while not until(self.records):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout_s}s; got {len(self.records)} record(s)")
            for batch in self.consumer.poll(timeout_ms=200).values():
                self.records.extend(batch)
        return self.records

    def event_ids(self) -> list[str]:
        return [dict(r.headers)["eventId"].decode() for r in self.records]

    def close(self) -> None:
        self.consumer.close()


class SSEClient:
    """A Server-Sent Events client in a thread, as a browser's EventSource would be (without auto-reconnect)."""

    def __init__(self, url: str, *, cookies: dict | None = None, headers: dict | None = None,
                 last_event_id: str | None = None):
        import threading

        self.url = url
        self.cookies = cookies or {}
        self.headers = headers or {}
        self.last_event_id = last_event_id
        self.events: list[dict] = []
        self.status: int | None = None
        self._stop = threading.Event()
        self._response = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "SSEClient":
        self._thread.start()
        wait_until(lambda: self.status is not None and any(e["event"] == "stream-open" for e in self.events)
                   or (self.status is not None and self.status != 200), timeout_s=30, what="the SSE stream to open")
        return self

    def _run(self) -> None:
        import httpx

        headers = {**self.headers, **({"Last-Event-ID": self.last_event_id} if self.last_event_id else {})}
        try:
            with httpx.Client(cookies=self.cookies, timeout=httpx.Timeout(10, read=None)) as client, \
                    client.stream("GET", self.url, headers=headers) as response:
                self._response = response
                self.status = response.status_code
                event: dict = {}
                for line in response.iter_lines():
                    if self._stop.is_set():
                        return
                    if line == "":
                        if "event" in event or "data" in event:
                            event.setdefault("event", "message")
                            self.events.append(event)
                            if event.get("id") and event["id"] != "error":
                                self.last_event_id = event["id"]
                        event = {}
                    elif line.startswith(":"):
                        continue
                    else:
                        name, _, value = line.partition(":")
                        event[name] = value[1:] if value.startswith(" ") else value
        except Exception:  # the stream was closed under us (stop) or dropped: the test decides
            if self.status is None:
                self.status = -1

    def notifications(self) -> list[dict]:
        import json

        return [json.loads(e["data"]) for e in self.events if e["event"] == "notification"]

    def wait_for_notifications(self, count: int, timeout_s: float = 30) -> list[dict]:
        wait_until(lambda: len(self.notifications()) >= count, timeout_s=timeout_s,
                   what=f"{count} notification(s) on {self.url}")
        return self.notifications()

    def close(self) -> None:
        self._stop.set()
        if self._response is not None:
            with contextlib.suppress(Exception):
                self._response.close()
        self._thread.join(timeout=10)


def kafka_group_skip_to_end(*, topic: str, group_id: str, timeout_s: float = 60) -> None:
    """Commit ``group_id``'s offsets at the current end of ``topic`` (its consumers skip what is there).

    Only works while the group has no live member; a member that died stays in
    the group until its session times out, so this retries until ``timeout_s``.
    """
    from django.conf import settings
    from kafka import KafkaConsumer
    from kafka.errors import CommitFailedError
    from kafka.structs import OffsetAndMetadata, TopicPartition

    from prepaid.kafka import kafka_admin

    with kafka_admin() as admin:
        (described,) = admin.describe_topics([topic])
    partitions = [TopicPartition(topic, p["partition_index"]) for p in described["partitions"]]
    consumer = KafkaConsumer(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, group_id=group_id,
                             enable_auto_commit=False)
    try:
        consumer.assign(partitions)
        consumer.seek_to_end()
        offsets = {tp: OffsetAndMetadata(consumer.position(tp), "", -1) for tp in partitions}
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                consumer.commit(offsets)
                return
            except CommitFailedError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
    finally:
        consumer.close()


class Pushpin:
    """A Pushpin instance of the tests, started and stopped by the project's scripts/devstack.sh."""

    def __init__(self, name: str, *, port: int, origin_port: int, port_offset: int):
        self.name = name
        self.port = port
        self.env = {
            **os.environ, "DEVSTACK_PUSHPIN_NAME": name, "DEVSTACK_PUSHPIN_PORT": str(port),
            "DEVSTACK_PUSHPIN_ORIGIN": f"127.0.0.1:{origin_port}", "DEVSTACK_PUSHPIN_PORT_OFFSET": str(port_offset),
        }
        self.control_url = f"http://127.0.0.1:{25561 + port_offset}"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _devstack(self, action: str) -> None:
        done = subprocess.run([str(ROOT / "scripts" / "devstack.sh"), action, "pushpin"], env=self.env,
                              capture_output=True, text=True, timeout=120)
        if done.returncode:
            raise RuntimeError(f"devstack.sh {action} pushpin ({self.name}) failed: {done.stdout}{done.stderr}")

    def start(self) -> "Pushpin":
        self._devstack("start")
        return self

    def stop(self) -> None:
        self._devstack("stop")

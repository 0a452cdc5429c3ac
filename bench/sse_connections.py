"""Idle SSE streams held by Pushpin: memory per stream, time to open them, delivery to all of them.

    .venv/bin/python bench/sse_connections.py [--streams 10000] [--users 10000] [--connect-concurrency 100]
                                              [--burst] [--py-spy web]

1. Starts the platform as ``make run`` does (a Pushpin of its own in front of the
   Procfile's web process; the worker, beat and consumer too) on the bench database.
2. Creates ``--users`` users and opens ``--streams`` authenticated streams through
   Pushpin (each with a stream token and its user's current position, as the API's
   stream-token grant gives them), at most ``--connect-concurrency`` opening at once,
   from one asyncio process (``--burst``: all at once, as every browser reconnecting after a
   restart does); reports how long they took to open and how many were refused.
3. Reports the memory (PSS) of Pushpin's processes, of the front proxy's (nginx) and of the web
   processes before and after, per stream.
4. Stores and publishes one notification per user (the consumer's own code:
   ``notifications_from_events``, a poll's worth at a time) and reports the time from
   each publish to its arrival at every stream of that user (p50 / p99 / max).
"""

import argparse
import asyncio
import json
import os
import resource
import time
from urllib.parse import urlparse

from common import (
    CpuMeter,
    bench_pushpin,
    percentile,
    platform_cpu_groups,
    procfile_start,
    pushpin_groups,
    py_spy_report,
    py_spy_start,
    setup,
    stop_all,
    wait_http_ok,
)


def pss_mib(groups: dict) -> dict[str, float]:
    """Proportional set size (MiB) of each group of processes (shared pages split between them)."""
    import psutil

    totals = dict.fromkeys(groups, 0.0)
    for proc in psutil.process_iter(["name", "cmdline"]):
        for group, matches in groups.items():
            try:
                if matches(proc):
                    totals[group] += proc.memory_full_info().pss / 2**20
                    break
            except (psutil.Error, OSError):
                break
    return totals


def front_proxy_process(name: str = "bench-pushpin"):
    """A PSS group: the nginx master started for that Pushpin instance (its configuration's path in its
    command line) and its workers (whose command line does not say)."""
    import psutil

    marker = f"/{name}/"

    def matches(proc) -> bool:
        if proc.info["name"] != "nginx":
            return False
        if marker in " ".join(proc.info["cmdline"] or []):
            return True
        try:
            return marker in " ".join(proc.parent().cmdline())
        except (psutil.Error, AttributeError):
            return False

    return matches


class Stream:
    """One idle SSE client on a raw socket: reads events, timestamps notifications."""

    def __init__(self, host: str, port: int, path: str):
        self.host, self.port, self.path = host, port, path
        self.opened = asyncio.Event()
        self.received: dict[str, float] = {}
        self.error: str | None = None
        self.ended_at: float | None = None  # the server closed the stream
        self.task: asyncio.Task | None = None

    def close(self) -> None:
        if self.task is not None:
            self.task.cancel()

    async def run(self) -> None:
        try:
            reader, writer = await asyncio.open_connection(self.host, self.port, limit=2**16)
            writer.write(f"GET {self.path} HTTP/1.1\r\nHost: {self.host}\r\nAccept: text/event-stream\r\n\r\n".encode())
            await writer.drain()
            status = await reader.readline()
            if b" 200 " not in status:
                self.error = status.decode(errors="replace").strip()
                self.opened.set()
                return
            event = None
            while line := await reader.readline():
                line = line.rstrip(b"\r\n")
                if line.startswith(b"event: "):
                    event = line[7:]
                    if event == b"stream-open":
                        self.opened.set()
                elif line.startswith(b"data: ") and event == b"notification":
                    self.received[json.loads(line[6:])["eventId"]] = time.time()
            self.ended_at = time.time()
        except (OSError, asyncio.IncompleteReadError) as exc:
            self.error = repr(exc)
            self.opened.set()


async def open_streams(urls: list[str], concurrency: int) -> tuple[list[Stream], float]:
    streams = []
    gate = asyncio.Semaphore(concurrency)
    started = time.monotonic()

    async def open_one(url: str) -> None:
        parsed = urlparse(url)
        stream = Stream(parsed.hostname, parsed.port, f"{parsed.path}?{parsed.query}")
        streams.append(stream)
        async with gate:
            stream.task = asyncio.create_task(stream.run())  # kept: the loop holds tasks weakly only
            await stream.opened.wait()

    await asyncio.gather(*(open_one(url) for url in urls))
    return streams, time.monotonic() - started


def prepare(args) -> tuple[list[int], list[str]]:
    """The users (created once) and a stream URL for each stream, as the stream-token grant gives them."""
    from django.contrib.auth.models import User
    from django.db import connection

    from notifications.sse import sse_stream_position, sse_stream_token

    names = [f"bench-sse-{i}" for i in range(args.users)]
    existing = set(User.objects.filter(username__in=names).values_list("username", flat=True))
    User.objects.bulk_create([User(username=n) for n in names if n not in existing], batch_size=5000)
    user_ids = list(User.objects.filter(username__in=names).order_by("id").values_list("id", flat=True))
    paths = []
    for i in range(args.streams):
        user_id = user_ids[i % len(user_ids)]
        token, _ = sse_stream_token(user_id=user_id)
        paths.append(f"/events/?es-meta={token}&lastEventId={sse_stream_position(user_id=user_id)}")
    connection.close()
    return user_ids, paths


async def main_async(args, user_ids: list[int], paths: list[str]) -> None:
    from django.db import connection

    from notifications.services import notifications_from_events
    from tests.helpers import wallet_event

    pushpin = await asyncio.to_thread(bench_pushpin, port=args.port, origin_port=args.port + 1)
    procs = procfile_start("sse", DJANGO_SETTINGS_MODULE="bench.settings", WEB_BIND=f"127.0.0.1:{args.port + 1}",
                           GRIP_CONTROL_URLS=pushpin.control_url, LOG_LEVEL="WARNING")
    memory_groups = {**pushpin_groups(), "front proxy": front_proxy_process(),
                     "web": lambda p: "prepaid-web" in " ".join(p.info["cmdline"] or [])
                     or (p.info["name"] == "gunicorn" and "prepaid.wsgi" in " ".join(p.info["cmdline"] or []))}
    try:
        await asyncio.to_thread(wait_http_ok, f"{pushpin.base_url}/health/live")
        # Warm-up: every web worker has served subscribes (its heap grown to its working size)
        # before the "before" figure, so that what grows after is what the held streams cost.
        warm, _ = await open_streams([pushpin.base_url + path for path in paths[:args.warm_up]],
                                     args.connect_concurrency)
        for stream in warm:
            stream.close()
        await asyncio.sleep(5)
        before = pss_mib(memory_groups)

        meter = CpuMeter(platform_cpu_groups(procs, **pushpin_groups()))
        spy = await asyncio.to_thread(py_spy_start, procs[args.py_spy], "sse-open") if args.py_spy else None
        meter.start()
        streams, open_s = await open_streams([pushpin.base_url + path for path in paths], args.connect_concurrency)
        opening_cpu = meter.stop()
        if spy is not None:
            py_spy_report(*spy)
        failed = [s for s in streams if s.error]
        print(f"{len(streams) - len(failed):,} of {len(streams):,} streams open in {open_s:.1f}s "
              f"({len(streams) / open_s:,.0f} per second); failed: {len(failed)}"
              + (f" (first: {failed[0].error})" if failed else ""))
        print(f"CPU while opening ({open_s:.1f}s): " + ", ".join(
            f"{group} {seconds / open_s * 100:.0f}%"
            for group, seconds in sorted(opening_cpu.items(), key=lambda i: -i[1])
            if seconds > 0.05) + " of a core")
        await asyncio.sleep(5)  # settle
        after = pss_mib(memory_groups)
        print("memory (PSS, MiB) before -> after:")
        for group in memory_groups:
            print(f"  {group:<16} {before[group]:8.1f} -> {after[group]:8.1f}")
        grown = sum(after.values()) - sum(before.values())
        print(f"  total grown {grown:.1f} MiB = {grown * 1024 / len(streams):.1f} KiB per stream")

        # One notification per user, published as the consumer publishes a poll's batch.
        sent: dict[str, float] = {}
        batch = int(os.environ.get("NOTIFICATIONS_CONSUMER_MAX_POLL_RECORDS", "200"))

        def publish_all() -> None:
            try:
                for first in range(0, len(user_ids), batch):
                    events = [wallet_event(user_id) for user_id in user_ids[first:first + batch]]
                    at = time.time()
                    notifications_from_events(events=events)
                    sent.update({e["eventId"]: at for e in events})
            finally:
                connection.close()

        publish_started, publish_wall = time.monotonic(), time.time()
        await asyncio.to_thread(publish_all)
        published_s = time.monotonic() - publish_started
        deadline = time.monotonic() + 60
        expected = {s: None for s in streams if not s.error}
        while time.monotonic() < deadline and sum(len(s.received) for s in expected) < len(expected):
            await asyncio.sleep(0.2)
        delays = [(at - sent[e]) * 1000 for s in expected for e, at in s.received.items() if e in sent]
        print(f"published {len(sent):,} events in {published_s:.1f}s; delivered {len(delays):,} of {len(expected):,}: "
              f"p50 {percentile(delays, 50):.0f} ms, p99 {percentile(delays, 99):.0f} ms, "
              f"max {max(delays, default=float('nan')):.0f} ms")
        missing = [s for s in expected if not s.received]
        for stream in missing[:5]:
            ended = (f"the server ended it {stream.ended_at - publish_wall:+.1f}s from the publish"
                     if stream.ended_at else "still open")
            print(f"  not delivered: {stream.path[:60]}... ({stream.error or ended})")
    finally:
        await asyncio.to_thread(stop_all, procs.values())
        await asyncio.to_thread(pushpin.stop)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--connect-concurrency", type=int, default=100)
    parser.add_argument("--burst", action="store_true",
                        help="open every stream at once (a reconnect storm), not --connect-concurrency at a time")
    parser.add_argument("--warm-up", type=int, default=500, help="streams opened and closed before measuring")
    parser.add_argument("--port", type=int, default=8768)
    parser.add_argument("--py-spy", metavar="PROCESS",
                        help="sample this Procfile process (e.g. web) while the streams open")
    args = parser.parse_args()
    if args.burst:
        args.connect_concurrency = args.streams
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.streams + 1000)), hard))
    setup()
    user_ids, paths = prepare(args)
    asyncio.run(main_async(args, user_ids, paths))


if __name__ == "__main__":
    main()

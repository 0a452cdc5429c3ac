"""The users' browsers: each on its SSE stream through Pushpin, some dropping and resuming with
Last-Event-ID; what each received, in order."""

import asyncio
import contextlib
import json
import random
import time
from collections import Counter

from bench.chaos.load import User


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

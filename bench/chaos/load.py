"""The users and their API calls: a steady mix of charges, spends and reversals, each retried with
its Idempotency-Key until it has a definite answer, as a careful client does."""

import asyncio
import contextlib
import dataclasses
import itertools
import random
import time
import uuid
from collections import Counter
from typing import TYPE_CHECKING

from bench.chaos.common import CALL_GIVE_UP_S, RETRIED_STATUSES

if TYPE_CHECKING:
    from tests.fake_channels import SlackServer


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

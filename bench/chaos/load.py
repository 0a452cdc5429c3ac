"""The users and their API calls: a steady mix of charges, spends, reversals, transfers (and their returns),
holds (placed, captured in parts, voided, or left to expire), remaining-balance refunds and batches of spends,
transfers and reversals (all or nothing, or each on its own), each retried with its Idempotency-Key (a batch: the same
batch, its items' keys) until it has a definite answer, as a careful client does. Each client keeps its
own reckoning of its balance and of its holds, from the definite answers only: the checks hold the
platform to it."""

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
    kind: str  # charge, spend, reversal, transfer, hold, capture, void, refund; batch (its items: ``items``)
    body: dict
    reversed_kind: str = ""  # of a reversal: CHARGE, SPEND, CAPTURE or TRANSFER (a return)
    other_user_id: int = 0  # a transfer's recipient; a return's payee (the transfer's sender)
    hold_id: str = ""  # of a capture or a void
    attempts: int = 0
    retried_because: Counter = dataclasses.field(default_factory=Counter)
    status: int | None = None
    answer: dict | None = None
    items: list["Call"] = dataclasses.field(default_factory=list)  # a batch's operations
    batch: str = ""  # an operation in a batch: the batch's key

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def path(self) -> str:
        if self.kind in ("capture", "void"):
            return f"/api/v1/wallet/holds/{self.hold_id}/{'captures' if self.kind == 'capture' else 'void'}"
        return PATHS[self.kind]

    def effects(self) -> list[tuple[int, int]]:
        """What it did to balances, by the client's reckoning: (user id, won) pairs."""
        if not self.ok or self.kind in ("hold", "void"):
            return []
        if self.kind == "refund":  # what left the wallet: its card refunds and its payouts from it (final answer)
            return [(self.user_id, -sum(r["amount"] for r in self.answer["cardRefunds"] if r["status"] == "SUCCEEDED")
                     - sum(p["amount"] for p in self.answer["payouts"]
                           if p["status"] == "SUCCEEDED" and not p["fromExpired"]))]
        amount = self.body["amount"] if "amount" in self.body else self.answer["amount"]
        if self.kind == "charge":
            return [(self.user_id, amount)]
        if self.kind in ("spend", "capture"):
            return [(self.user_id, -amount)]
        if self.kind == "transfer" or self.reversed_kind == "TRANSFER":
            return [(self.user_id, -amount), (self.other_user_id, amount)]
        return [(self.user_id, amount if self.reversed_kind in ("SPEND", "CAPTURE") else -amount)]


PATHS = {"charge": "/api/v1/wallet/charges", "spend": "/api/v1/wallet/spends",
         "reversal": "/api/v1/wallet/reversals", "transfer": "/api/v1/wallet/transfers",
         "hold": "/api/v1/wallet/holds", "batch": "/api/v1/wallet/batches",
         "refund": "/api/v1/wallet/refund-requests"}
REFUND_ACCOUNT = {"bankCode": "088", "accountNumber": "110-123-456789", "holderName": "카오스"}
HOLD_EXPIRIES_S = (3, 8, 3_600)  # some expire during the run, some outlive it


@dataclasses.dataclass
class User:
    id: int
    token: str
    stream_position: str
    email: bool = False  # wants every event by email
    slack: bool = False  # and on Slack
    username: str = ""
    balance: int = 0  # the client's reckoning from definite answers
    reversible: list = dataclasses.field(default_factory=list)  # [transactionId, kind, remaining, other user]
    holds: dict = dataclasses.field(default_factory=dict)  # holdId -> [remaining, expires (monotonic)]

    def held(self, now: float) -> int:
        """What its holds keep, by its reckoning (a hold past its expiry keeps nothing)."""
        return sum(remaining for remaining, expires in self.holds.values() if expires > now)


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
        available = user.balance - user.held(time.monotonic() + 1)  # a hold about to expire still counts
        live_holds = [h for h, (_, expires) in user.holds.items() if expires > time.monotonic() - 30]
        if roll > 0.99:  # the remaining balance refunded (refused when too little of the last charge is used)
            call = Call(key, user.id, "refund", {"bankAccount": REFUND_ACCOUNT})
        elif available < 5_000 or roll < 0.2:
            body = {"amount": self.rng.randrange(10_000, 50_001, 1_000), "paymentKey": f"pk-{key}",
                    "orderId": f"o-{key}"}
            call = Call(key, user.id, "charge", body)
        elif roll < 0.55 or not user.reversible:
            body = {"amount": self.rng.randint(100, min(5_000, available)), "description": "chaos"}
            call = Call(key, user.id, "spend", body)
        elif roll < 0.65:
            target = self.rng.choice(user.reversible)
            body = {"transactionId": target[0], "amount": self.rng.randint(1, min(target[2], 20_000)),
                    "reason": "chaos"}
            call = Call(key, user.id, "reversal", body, reversed_kind=target[1], other_user_id=target[3])
        elif roll < 0.71:
            call = self.next_batch(key, user, available)
        elif roll < 0.77:
            other = self.rng.choice([u for u in self.users if u.id != user.id])
            body = {"to": other.username, "amount": self.rng.randint(100, min(5_000, available)),
                    "message": "chaos"}
            call = Call(key, user.id, "transfer", body, other_user_id=other.id)
        elif roll < 0.87 or not live_holds:
            body = {"amount": self.rng.randint(100, min(5_000, available)), "description": "chaos",
                    "expiresInS": self.rng.choice(HOLD_EXPIRIES_S)}
            call = Call(key, user.id, "hold", body)
        else:
            hold_id = self.rng.choice(live_holds)
            remaining = user.holds[hold_id][0]
            if self.rng.random() < 0.25 or remaining < 1:
                call = Call(key, user.id, "void", {}, hold_id=hold_id)
            else:
                body = {"amount": self.rng.randint(1, remaining)} if self.rng.random() < 0.7 else {}
                call = Call(key, user.id, "capture", body, hold_id=hold_id)
        if call.kind == "batch":
            self.calls.extend(call.items)  # the checks hold each operation to its answer
        else:
            self.calls.append(call)
        return call

    def next_batch(self, key: str, user: User, available: int) -> Call:
        """2 to 6 spends, transfers and reversals; now and then more than the wallet holds (an item refused:
        alone, or everything, when the batch is atomic)."""
        items: list[Call] = []
        too_much = self.rng.randrange(6) if self.rng.random() < 0.2 else -1  # this item asks for more than there is
        for i in range(self.rng.randint(2, 6)):
            item_key, roll = f"{key}-{i}", self.rng.random()
            reversible = [t for t in user.reversible if t[1] != "CHARGE"]  # a card refund is not all-or-nothing
            amount = self.rng.randint(100, max(100, min(3_000, available // 6)))
            if i == too_much:
                item = Call(item_key, user.id, "spend", {"amount": available + 1_000, "description": "chaos batch"})
            elif roll < 0.5:
                item = Call(item_key, user.id, "spend", {"amount": amount, "description": "chaos batch"})
            elif roll < 0.8 or not reversible:
                other = self.rng.choice([u for u in self.users if u.id != user.id])
                item = Call(item_key, user.id, "transfer", {"to": other.username, "amount": amount,
                                                             "message": "chaos batch"}, other_user_id=other.id)
            else:
                target = self.rng.choice(reversible)
                item = Call(item_key, user.id, "reversal", {"transactionId": target[0], "amount": self.rng.randint(
                    1, min(target[2], 5_000)), "reason": "chaos batch"}, reversed_kind=target[1],
                    other_user_id=target[3])
            item.batch = key
            items.append(item)
        body = {"atomic": self.rng.random() < 0.4,
                "items": [{"type": c.kind, "idempotencyKey": c.key, **c.body} for c in items]}
        return Call(key, user.id, "batch", body, items=items)

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
                response = await http.post(call.path, json=None if call.kind == "void" else call.body, headers=headers)
            except Exception as exc:  # the network, a proxy or a server gone: the same request again
                call.retried_because[type(exc).__name__] += 1
            else:
                try:
                    answer = response.json()
                except ValueError:
                    answer = {"text": response.text[:200]}
                code = answer.get("code") if isinstance(answer, dict) else None
                retry = response.status_code in RETRIED_STATUSES or code == "idempotency_request_in_flight"
                # A refund request still processing (202): asked again with its key, as a careful client
                # does, until it has ended (a repeat runs what is left of it).
                retry = retry or (call.kind == "refund" and response.status_code == 202)
                if call.kind == "batch" and not retry and code == "batch_refused":  # all or nothing, refused
                    retry = "idempotency_request_in_flight" in str(answer.get("fields"))
                elif call.kind == "batch" and not retry and isinstance(answer, dict) and "items" in answer:
                    # An item without a definite answer: the same batch again (what was done replays).
                    codes = [(i["status"], i.get("error", {}).get("code")) for i in answer["items"]]
                    retry = any(s in RETRIED_STATUSES or c == "idempotency_request_in_flight" for s, c in codes)
                    code = next((c for s, c in codes if s in RETRIED_STATUSES or c == "idempotency_request_in_flight"),
                                code)
                if not retry:
                    call.status, call.answer = response.status_code, answer
                    break
                call.retried_because[f"{response.status_code} {code or ''}".strip()] += 1
                with contextlib.suppress(ValueError, TypeError):
                    wait = max(wait, min(10.0, float(response.headers.get("Retry-After"))))
            if time.monotonic() - started > CALL_GIVE_UP_S:
                return  # unresolved: the checks report it
            await asyncio.sleep(wait)
        if call.kind == "batch":
            if call.status == 200:
                for item, result in zip(call.items, call.answer["items"], strict=True):
                    item.attempts, item.retried_because = call.attempts, call.retried_because
                    item.status, item.answer = result["status"], result.get("transaction") or result.get("error")
                    self.reckon(item, user)
            else:  # the whole batch refused (a 4xx; atomic: batch_refused): each item is, with its answer
                for item in call.items:
                    item.status, item.answer = call.status, call.answer
            return
        self.reckon(call, user)

    def reckon(self, call: Call, user: User) -> None:
        """The client's books after a definite answer: balances, what can be reversed, its holds."""
        users = {u.id: u for u in self.users}
        for user_id, won in call.effects():
            users[user_id].balance += won
        if call.kind in ("capture", "void") and call.status == 409:  # it had ended (expired): it keeps nothing
            user.holds.pop(call.hold_id, None)
        if not call.ok:
            return
        answer = call.answer
        if call.kind == "refund":  # the charges it refunded have that much less left to reverse
            for card in answer["cardRefunds"]:
                for target in user.reversible:
                    if target[0] == card["transactionId"] and card["status"] in ("SUCCEEDED", "REQUESTED"):
                        target[2] -= card["amount"]
            user.reversible = [t for t in user.reversible if t[2] > 0]
        elif call.kind in ("charge", "spend"):
            user.reversible.append([answer["transactionId"], call.kind.upper(), call.body["amount"], 0])
        elif call.kind == "transfer":  # the recipient may send it back
            users[call.other_user_id].reversible.append([answer["transactionId"], "TRANSFER", answer["amount"],
                                                         call.user_id])
        elif call.kind == "reversal":
            for target in user.reversible:
                if target[0] == call.body["transactionId"]:
                    target[2] -= call.body["amount"]
            user.reversible = [t for t in user.reversible if t[2] > 0]
        elif call.kind == "hold":
            user.holds[answer["holdId"]] = [answer["amount"], time.monotonic() + call.body["expiresInS"] - 1]
        elif call.kind == "capture":
            user.reversible.append([answer["transactionId"], "CAPTURE", answer["amount"], 0])
            held = user.holds.get(call.hold_id)
            if held is not None:
                held[0] -= answer["amount"]
                if held[0] <= 0:
                    user.holds.pop(call.hold_id)
        elif call.kind == "void":
            user.holds.pop(call.hold_id, None)


def users_create(count: int, slack: "SlackServer") -> list[User]:
    """``count`` users; one in four also wants every event by email, one in five on Slack (a webhook of
    its own at the Slack stand-in, so that what arrives there can be told apart); one in three is
    real-name verified (a higher cap: the others' charges and transfers in meet theirs now and then)."""
    from django.contrib.auth import get_user_model

    from accounts.services import api_token_create
    from notifications.services import notification_preference_update
    from notifications.sse import sse_stream_position
    from prepaid.events import EventType
    from wallets.services import wallet_tier_set

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
        if i % 3 == 0:
            wallet_tier_set(user_id=user.id, tier="verified", by=None, source="identity_provider",
                            reference=f"chaos-{i}")
        users.append(User(user.id, api_token_create(user=user)[1], sse_stream_position(user_id=user.id),
                          email=email, slack=slack_on, username=user.username))
    return users

"""POST /api/v1/wallet/batches: many operations in one request and one statement, each as alone (its key,
its answer, its events), or all or nothing."""

import threading
import uuid

import pytest
from django.db import connection
from django.test import override_settings

from outbox.models import OutboxEvent
from prepaid.events import event_validate
from tests.helpers import (
    REVERSALS,
    SPENDS,
    api_charge,
    api_post,
    assert_ledger_consistent,
    balance_of,
    ledger_snapshot,
    posted_balance_of,
)
from wallets.models import IdempotencyRecord, Operation
from wallets.selectors import wallet_balance_mismatches
from wallets.services import hold_place

pytestmark = pytest.mark.django_db

BATCHES = "/api/v1/wallet/batches"


def batch(client, items, **body):
    return client.post(BATCHES, {"items": items, **body}, format="json")


def spend(amount, key=None, description="batch spend"):
    return {"type": "spend", "idempotencyKey": key or str(uuid.uuid4()), "amount": amount,
            "description": description}


def test_each_operation_runs_as_alone_with_its_answer_and_its_events(api_client_for, user_factory):
    user, friend = user_factory(), user_factory()
    api = api_client_for(user)
    charged = api_charge(api, 100_000).json()
    earlier = api_post(api, SPENDS, {"amount": 3_000, "description": "earlier"}).json()
    hold = hold_place(user_id=user.id, amount=10_000, description="pre-auth", expires_in_s=600).hold
    events_before = OutboxEvent.objects.count()
    items = [
        spend(1_000, "k-spend"),
        {"type": "transfer", "idempotencyKey": "k-transfer", "to": friend.username, "amount": 2_000,
         "message": "점심"},
        {"type": "reversal", "idempotencyKey": "k-reversal", "transactionId": earlier["transactionId"],
         "amount": 500, "reason": "returned"},
        {"type": "capture", "idempotencyKey": "k-capture", "holdId": str(hold.id), "amount": 4_000},
    ]
    r = batch(api, items)
    assert r.status_code == 200, r.json()
    body = r.json()
    assert (body["atomic"], body["done"], body["refused"]) == (False, 4, 0)
    assert [i["status"] for i in body["items"]] == [201] * 4
    kinds = [i["transaction"]["type"] for i in body["items"]]
    assert kinds == ["SPEND", "TRANSFER", "REVERSAL", "CAPTURE"]
    # In order, each seeing the balance the one before left.
    balances = [i["transaction"]["newBalance"] for i in body["items"]]
    assert balances == [96_000, 94_000, 94_500, 90_500] and balance_of(user.id) == 90_500
    assert balance_of(friend.id) == 2_000
    assert charged["newBalance"] == 100_000

    # Its events, as if sent alone: one each, two for the transfer (sender's and recipient's).
    events = OutboxEvent.objects.filter(id__gt=0).order_by("id")[events_before:]
    assert [e.event_type for e in events] == ["SPEND_COMPLETED", "TRANSFER_SENT", "TRANSFER_RECEIVED",
                                              "REVERSAL_COMPLETED", "HOLD_CAPTURED"]
    for event in events:
        event_validate(event.event)
    assert_ledger_consistent(user.id)
    assert balance_of(friend.id) == posted_balance_of(friend.id)

    # The same batch again: every answer replayed, nothing written.
    snapshot = ledger_snapshot()
    again = batch(api, items).json()
    assert [i["replayed"] for i in again["items"]] == [True] * 4
    assert [i["transaction"] for i in again["items"]] == [i["transaction"] for i in body["items"]]
    assert ledger_snapshot() == snapshot
    # A key is the operation's, whichever endpoint it came through: alone, it replays the batch's answer.
    alone = api_post(api, SPENDS, {"amount": 1_000, "description": "batch spend"}, key="k-spend")
    assert (alone.status_code, alone.headers.get("Idempotent-Replayed")) == (201, "true")
    assert alone.json() == body["items"][0]["transaction"]
    reused = api_post(api, SPENDS, {"amount": 1_001, "description": "batch spend"}, key="k-spend")
    assert (reused.status_code, reused.json()["code"]) == (422, "idempotency_key_reused")


def test_without_atomic_an_item_refused_leaves_the_others_done(api, user):
    api_charge(api, 5_000)
    r = batch(api, [spend(1_000), spend(50_000), spend(2_000),
                    {"type": "reversal", "idempotencyKey": "r", "transactionId": str(uuid.uuid4()), "reason": "x"}])
    assert r.status_code == 200
    items = r.json()["items"]
    assert [i["status"] for i in items] == [201, 409, 201, 404]
    assert (items[1]["error"]["code"], items[3]["error"]["code"]) == ("insufficient_funds", "transaction_not_found")
    assert items[1]["error"]["fields"] == {"amount": ["잔액이 부족합니다."]}
    assert (r.json()["done"], r.json()["refused"]) == (2, 2)
    assert balance_of(user.id) == 2_000
    assert_ledger_consistent(user.id)


def test_an_atomic_batch_is_all_or_nothing(api, user):
    api_charge(api, 5_000)
    snapshot, records = ledger_snapshot(), IdempotencyRecord.objects.count()
    items = [spend(1_000, "a-1"), spend(3_000, "a-2"), spend(2_000, "a-3"), spend(100, "a-4")]
    r = batch(api, items, atomic=True)
    assert r.status_code == 422, r.json()
    body = r.json()
    # The one error body: the item, its code and its own field messages.
    assert (body["code"], body["fields"]) == ("batch_refused", {"items[2]": ["insufficient_funds"],
                                                                "items[2].amount": ["잔액이 부족합니다."]})
    assert body["message"].startswith("items[2]: insufficient_funds: amount: ")
    assert body["message"].endswith("아무것도 적용되지 않았습니다")
    # Nothing: no entry, no event, no balance change, no answer recorded under any key.
    assert ledger_snapshot() == snapshot and IdempotencyRecord.objects.count() == records
    assert balance_of(user.id) == 5_000

    # So the same keys run afresh once the batch can be done.
    items[2] = spend(500, "a-3")
    r = batch(api, items, atomic=True)
    assert r.status_code == 200 and r.json()["done"] == 4, r.json()
    assert balance_of(user.id) == 5_000 - 4_600
    assert_ledger_consistent(user.id)


def test_a_card_refund_runs_through_the_gateway_in_a_batch_and_is_refused_in_an_atomic_one(api, user):
    charged = api_charge(api, 20_000).json()
    refund = {"type": "reversal", "idempotencyKey": "refund-1", "transactionId": charged["transactionId"],
              "amount": 5_000, "reason": "card refund"}
    atomic = batch(api, [spend(1_000), refund], atomic=True)
    assert (atomic.status_code, atomic.json()["fields"]["items[1]"]) == (422, ["refund_not_in_atomic_batch"])
    assert balance_of(user.id) == 20_000

    r = batch(api, [spend(1_000), refund])
    assert [i["status"] for i in r.json()["items"]] == [201, 201], r.json()
    assert r.json()["items"][1]["transaction"]["type"] == "REVERSAL"
    assert balance_of(user.id) == 14_000
    assert_ledger_consistent(user.id)


def test_bad_input_is_a_400_naming_the_item_and_its_field_and_writes_nothing(api, user):
    api_charge(api, 5_000)
    snapshot = ledger_snapshot()
    cases = [
        ({"items": []}, "items"),
        ({"items": "spend"}, "items"),
        ({"items": [spend(100)], "atomic": "yes"}, "atomic"),
        ({"items": [spend(100)], "extra": 1}, "extra"),
        ({"items": [spend(100), {**spend(100), "amount": "100"}]}, "items[1].amount"),
        ({"items": [spend(100), {**spend(100), "type": "charge"}]}, "items[1].type"),
        ({"items": [spend(100), 7]}, "items[1]"),
        ({"items": [{**spend(100), "type": {}}]}, "items[0].type"),
        ({"items": [{**spend(100), "type": ["spend"]}]}, "items[0].type"),
        ({"items": [{**spend(100), "idempotencyKey": "has space"}]}, "items[0].idempotencyKey"),
        ({"items": [{k: v for k, v in spend(100).items() if k != "idempotencyKey"}]}, "items[0].idempotencyKey"),
        ({"items": [{**spend(100), "ammount": 1}]}, "items[0].ammount"),
        ({"items": [{"type": "capture", "idempotencyKey": "c", "holdId": "nope"}]}, "items[0].holdId"),
        ({"items": [spend(100, "same"), spend(200, "same")]}, "items[1].idempotencyKey"),
    ]
    for body, field in cases:
        r = api.post(BATCHES, body, format="json")
        assert r.status_code == 400, (body, r.json())
        assert r.json()["code"] == "invalid_input" and field in r.json()["fields"], (body, r.json())
    with override_settings(WALLET_BATCH_ITEMS_MAX=3):
        r = batch(api, [spend(1) for _ in range(4)])
        assert (r.status_code, list(r.json()["fields"])) == (400, ["items"])
    assert ledger_snapshot() == snapshot


def test_a_batchs_operations_count_against_their_own_rate(api, user):
    api_charge(api, 50_000)
    with override_settings(API_BATCH_ITEMS_PER_USER_PER_MINUTE=5):
        assert batch(api, [spend(10) for _ in range(4)]).status_code == 200
        r = batch(api, [spend(10) for _ in range(2)])
        assert (r.status_code, r.json()["code"]) == (429, "throttled")
    assert Operation.objects.filter(user_id=user.id, kind="SPEND").count() == 4


def test_transfers_in_a_batch_count_among_the_recipient_look_ups(api, user, user_factory):
    api_charge(api, 50_000)
    friend = user_factory()
    transfer = {"type": "transfer", "to": friend.username, "amount": 10}
    with override_settings(API_RECIPIENT_LOOKUPS_PER_USER_PER_MINUTE=3):
        r = batch(api, [{**transfer, "idempotencyKey": f"t{i}"} for i in range(4)])
        assert (r.status_code, r.json()["code"]) == (429, "throttled")
    assert balance_of(friend.id) == 0


@pytest.mark.django_db(transaction=True)
def test_batches_of_transfers_both_ways_at_once_never_deadlock_and_keep_the_money(api_client_for, user_factory):
    """Each batch locks every wallet it may touch at once, in wallet id order, as a single transfer does."""
    alice, bob = user_factory(), user_factory()
    clients = {alice: api_client_for(alice), bob: api_client_for(bob)}
    for client in clients.values():
        api_charge(client, 1_000_000)
    failures = []

    def send(sender, recipient):
        for round_ in range(15):
            items = [spend(10)] + [{"type": "transfer", "idempotencyKey": str(uuid.uuid4()), "to": recipient.username,
                                    "amount": 100 + i} for i in range(5)] + [spend(10)]
            r = batch(clients[sender], items)
            if r.status_code != 200 or r.json()["done"] != 7:
                failures.append((round_, r.status_code, r.content[:300]))
        connection.close()

    with override_settings(API_RECIPIENT_LOOKUPS_PER_USER_PER_MINUTE=10_000):
        threads = [threading.Thread(target=send, args=pair) for pair in ((alice, bob), (bob, alice))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not failures, failures[:3]
    assert balance_of(alice.id) + balance_of(bob.id) == 2_000_000 - 2 * 15 * 20
    for u in (alice, bob):  # (assert_ledger_consistent counts only the operations a user made)
        assert balance_of(u.id) == posted_balance_of(u.id)
    assert wallet_balance_mismatches() == []


def test_reversals_and_captures_in_a_batch_refuse_what_they_would_refuse_alone(api, user):
    spent = api_post(api, SPENDS, {"amount": 1, "description": "x"})
    assert spent.status_code == 409  # nothing to spend yet
    api_charge(api, 10_000)
    spent = api_post(api, SPENDS, {"amount": 1_000, "description": "x"}).json()
    r = batch(api, [
        {"type": "reversal", "idempotencyKey": "r1", "transactionId": spent["transactionId"], "reason": "all"},
        {"type": "reversal", "idempotencyKey": "r2", "transactionId": spent["transactionId"], "reason": "again"},
        {"type": "capture", "idempotencyKey": "c1", "holdId": str(uuid.uuid4())},
    ])
    assert [(i["status"], i.get("error", {}).get("code")) for i in r.json()["items"]] == [
        (201, None), (409, "already_fully_reversed"), (404, "hold_not_found")]
    reversed_alone = api_post(api, REVERSALS, {"transactionId": spent["transactionId"], "reason": "all"}, key="r1")
    assert reversed_alone.headers.get("Idempotent-Replayed") == "true"

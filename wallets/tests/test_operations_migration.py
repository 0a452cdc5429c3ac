"""The move of the wallet's fields out of the ledger (ledger 0007-0008, wallets 0008-0009) and of
Wallet.held into holds (wallets 0011), on a database holding charges, spends, partial reversals and card
refunds written by the functions of the time: forward, every transaction keeps its id and its API answer,
every wallet posting gets the balance after it, and a refund on its way keeps its money with a hold;
backward, the journal entries and Wallet.held are what they were."""

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.helpers import assert_ledger_consistent, held_of
from wallets import services

BEFORE = [("ledger", "0006_balanced_entry_trigger_per_table"), ("wallets", "0007_wallet_reversible_amount")]
ENTRY_COLUMNS = ("id", "kind", "user_id", "amount", "balance_after", "reverses_id", "payment_key", "order_id",
                 "description", "idempotency_key", "created_at")
KEY_TIMES = {"key_ttl": timedelta(days=1), "in_flight_timeout": timedelta(minutes=5)}


def _migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def _latest() -> list[tuple[str, str]]:
    executor = MigrationExecutor(connection)
    return [node for node in executor.loader.graph.leaf_nodes() if node[0] in ("ledger", "wallets")]


def _rows(sql: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _call(function: str, **params):
    return services._call(function, **params)  # the SQL functions of the time, by name


def _charge(user_id: int, amount: int, key: str | None = None) -> uuid.UUID:
    order_id = f"order-{uuid.uuid4().hex[:16]}"
    begun = _call("wallet_charge_begin", user_id=user_id, amount=amount, payment_key=f"pk-{order_id}",
                  order_id=order_id, gateway="sandbox", key=key, fingerprint="f" if key else None,
                  balance_max=10_000_000, **KEY_TIMES)
    assert begun.outcome == "started", begun
    done = _call("wallet_charge_credit", payment_id=begun.payment_id, key=key, entry_id=uuid.uuid4(),
                 event_id=uuid.uuid4(), topic="wallet-events", currency="KRW")
    assert done.outcome == "done", done
    return done.entry_id


def _spend(user_id: int, amount: int, key: str | None = None) -> uuid.UUID:
    done = _call("wallet_spend", user_id=user_id, amount=amount, description="커피", key=key,
                 fingerprint="s" if key else None, entry_id=uuid.uuid4(), event_id=uuid.uuid4(),
                 topic="wallet-events", **KEY_TIMES)
    assert done.outcome == "done", done
    return done.entry_id


def _reverse(user_id: int, transaction_id: uuid.UUID, amount: int | None):
    return _call("wallet_reverse", user_id=user_id, transaction_id=transaction_id, amount=amount, reason="취소",
                 key=None, fingerprint=None, entry_id=uuid.uuid4(), event_id=uuid.uuid4(), topic="wallet-events",
                 **KEY_TIMES)


def _history(user_id: int, holder: str) -> None:
    """Charges, spends, a partial reversal of a spend, a refund of a charge done and one on its way."""
    first = _charge(user_id, 50_000, key=f"{holder}-charge")
    second = _charge(user_id, 20_000)
    spend = _spend(user_id, 12_000, key=f"{holder}-spend")
    assert _reverse(user_id, spend, 2_000).outcome == "done"  # partial
    refunding = _reverse(user_id, second, 5_000)
    assert refunding.outcome == "refunding"
    assert _call("wallet_refund_complete", reversal_id=refunding.entry_id, event_id=uuid.uuid4(),
                 topic="wallet-events", transaction_key="tx-1").outcome == "done"
    assert _reverse(user_id, first, 1_000).outcome == "refunding"  # left on its way
    _spend(user_id, 3_000)


@pytest.mark.django_db(transaction=True)
def test_the_wallet_fields_move_out_of_the_ledger_and_back(user_factory, api_client_for):
    users = [user_factory(), user_factory()]
    latest = _latest()
    _migrate(BEFORE)
    try:
        for user in users:
            _history(user.id, user.username)
        before = _rows(f"SELECT {', '.join(ENTRY_COLUMNS)} FROM ledger_journalentry ORDER BY id")  # noqa: S608
        postings_before = _rows("SELECT id, entry_id, account_id, amount FROM ledger_posting ORDER BY id")
        assert len(before) == 12
        held_before = _rows("SELECT user_id, held FROM wallets_wallet ORDER BY user_id")
        assert [held for _, held in held_before] == [1_000, 1_000]  # each user's refund on its way

        _migrate(latest)
        # Every transaction keeps its id and every field the API answers with.
        for user in users:
            answer = api_client_for(user).get("/api/v1/wallet/transactions?pageSize=100").json()["results"]
            expected = [row for row in before if row[2] == user.id]
            assert sorted((t["transactionId"], t["type"], t["amount"], t["newBalance"],
                           t["reversesTransactionId"], t["paymentKey"], t["orderId"], t["description"])
                          for t in answer) == sorted(
                (str(r[0]), r[1], r[3], r[4], str(r[5]) if r[5] else None, r[6], r[7], r[8]) for r in expected)
            assert_ledger_consistent(user.id)  # each wallet posting's balance after is the running sum
        assert _rows("SELECT id, entry_id, account_id, amount FROM ledger_posting ORDER BY id") == postings_before
        assert _rows("SELECT count(*) FROM ledger_posting p JOIN ledger_account a ON a.id = p.account_id "
                     "WHERE a.code LIKE 'system:%%' AND p.balance_after IS NOT NULL") == [(0,)]
        # What is left to reverse counts the migrated reversals and the refund on its way.
        reversible = {t["transactionId"]: t["reversibleAmount"] for t in
                      api_client_for(users[0]).get("/api/v1/wallet/transactions?pageSize=100").json()["results"]}
        assert sorted(reversible.values()) == [0, 0, 3_000, 10_000, 15_000, 49_000]
        # The refund on its way keeps its money with a hold now: spends see the available balance.
        assert [held_of(user.id) for user in users] == [1_000, 1_000]
        assert api_client_for(users[0]).get("/api/v1/wallet").json()["available"] == 51_000
        assert _rows("SELECT purpose, status, amount FROM wallets_hold") == [("REFUND", "ACTIVE", 1_000)] * 2
        # A key answered before the move replays its transaction, with the balance after it.
        again = services.wallet_spend(user_id=users[0].id, amount=12_000, description="커피",
                                      idempotency=services.IdempotencyKey(key=f"{users[0].username}-spend",
                                                                          fingerprint="s"))
        (spent,) = [r for r in before if r[9] == f"{users[0].username}-spend"]
        assert (again.replayed, again.transaction.id, again.transaction.balance_after) == (True, spent[0], spent[4])
        # And the wallets work on: a new spend after the move.
        after = services.wallet_spend(user_id=users[0].id, amount=1_000, description="after").transaction
        assert_ledger_consistent(users[0].id)

        _migrate(BEFORE)
        back = _rows(f"SELECT {', '.join(ENTRY_COLUMNS)} FROM ledger_journalentry ORDER BY id")  # noqa: S608
        assert [row for row in back if row[0] != after.id] == before
        (moved_back,) = [row for row in back if row[0] == after.id]
        assert moved_back[1:5] == ("SPEND", users[0].id, 1_000, after.balance_after)
        assert _rows("SELECT user_id, held FROM wallets_wallet ORDER BY user_id") == held_before
    finally:
        _migrate(latest)

"""Long histories written set-based (``INSERT … SELECT generate_series``), for the history benchmark
(bench/history.py) and the tests that check a hot read's plan on tables large enough for the planner
to show its hand.

Each user's history is ``entries`` operations of their wallet, alternately a charge of 3 won and a spend
of 1 won, a second apart (``spacing_s``) and ending an hour ago (``end``): journal entries, their two
postings (the wallet's with its balance after, the system account's), the operations; then the wallet's
balance is its last posting's.
Every entry sums to zero and every wallet agrees with its postings, so the ledger stays balanced and the
reconcile finds nothing. The users' wallets (opened if need be) must have no postings yet. Ids are derived from
``seed`` and the row's place, so a run can be told apart from another.
"""

from datetime import UTC, datetime, timedelta

FILL_SQL = """
WITH system AS MATERIALIZED (
  SELECT wallet_payment_clearing_account() AS clearing, wallet_merchant_settlement_account() AS merchant
), wallet AS (
  SELECT w.user_id, w.account_id FROM wallets_wallet w WHERE w.user_id = ANY(%(user_ids)s)
), rows AS (
  SELECT w.user_id, w.account_id, i,
         md5(%(seed)s || ':' || w.user_id || ':' || i)::uuid AS id,
         CASE WHEN i %% 2 = 1 THEN 'CHARGE' ELSE 'SPEND' END AS kind,
         CASE WHEN i %% 2 = 1 THEN 3 ELSE 1 END AS amount,
         3 * ((i + 1) / 2) - i / 2 AS balance_after,
         %(end)s::timestamptz - (%(entries)s::integer - i) * %(spacing_s)s::float8 * interval '1 second'
           - w.user_id * interval '1 microsecond' AS created_at
    FROM wallet w CROSS JOIN generate_series(%(first)s::integer, %(last)s::integer) AS i
), entries AS (
  INSERT INTO ledger_journalentry (id, kind, description, created_at)
  SELECT id, kind, 'history ' || i, created_at FROM rows
), postings AS (
  INSERT INTO ledger_posting (entry_id, account_id, amount, balance_after, created_at)
  SELECT id, account_id, CASE WHEN kind = 'CHARGE' THEN amount ELSE -amount END, balance_after, created_at
    FROM rows
  UNION ALL
  SELECT id, CASE WHEN kind = 'CHARGE' THEN system.clearing ELSE system.merchant END,
         CASE WHEN kind = 'CHARGE' THEN -amount ELSE amount END, NULL, created_at
    FROM rows CROSS JOIN system
)
INSERT INTO wallets_operation (id, kind, user_id, amount, payment_key, order_id, description, idempotency_key,
                               created_at)
SELECT id, kind, user_id, amount, CASE WHEN kind = 'CHARGE' THEN 'history-key-' || id ELSE '' END,
       CASE WHEN kind = 'CHARGE' THEN 'history-' || id ELSE '' END,
       'history ' || i, '', created_at
  FROM rows
"""

BALANCE_SQL = """
UPDATE wallets_wallet
   SET balance = 3 * ((%(entries)s::integer + 1) / 2) - %(entries)s::integer / 2, updated_at = clock_timestamp()
 WHERE user_id = ANY(%(user_ids)s)
"""


def history_fill(cursor, *, user_ids: list[int], entries: int, seed: str = "history", first: int = 1,
                 last: int | None = None, spacing_s: float = 1, end: datetime | None = None) -> None:
    """Write entries ``first``..``last`` (default: all) of each user's history of ``entries``, ``spacing_s``
    apart, the last at ``end`` (default: an hour ago), and, with the last of them, set the wallets' balances.
    Callers that write a long history call it in slices, each its own transaction (the deferred balance
    checks of a transaction are kept until it commits), with the same ``end``."""
    last = entries if last is None else last
    end = end or datetime.now(UTC) - timedelta(hours=1)
    cursor.execute("SELECT wallet_open(u, 'KRW') FROM unnest(%s::integer[]) AS u", [user_ids])
    cursor.execute(FILL_SQL, {"user_ids": user_ids, "entries": entries, "seed": seed, "first": first, "last": last,
                              "spacing_s": spacing_s, "end": end})
    if last == entries:
        cursor.execute(BALANCE_SQL, {"user_ids": user_ids, "entries": entries})

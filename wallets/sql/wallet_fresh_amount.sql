-- What came into the user's wallet after p_since and is still there to be counted: every credit posting
-- (a charge, a transfer received, a spend's reversal) less what was later reversed of it (a card refund,
-- a transfer returned). Money is spent oldest first, so of the balance this much is younger than p_since
-- and the rest, greatest(0, balance - this), is older: what expires (wallet_expire) or will (notices).
CREATE OR REPLACE FUNCTION wallet_fresh_amount(p_user_id integer, p_since timestamptz) RETURNS bigint
LANGUAGE sql STABLE AS $$
  SELECT (coalesce(sum(p.amount), 0)
          - coalesce(sum((SELECT sum(r.amount) FROM wallets_operation r
                           WHERE r.reverses_id = p.entry_id AND r.user_id = p_user_id)), 0))::bigint
    FROM wallets_wallet w JOIN ledger_posting p ON p.account_id = w.account_id
   WHERE w.user_id = p_user_id AND p.amount > 0 AND p.created_at > p_since;
$$;

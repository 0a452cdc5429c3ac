-- How much of the user's balance came in after p_since: the credit postings (a charge, a transfer received,
-- a spend's reversal), each less what was later reversed of it (a card refund, a transfer returned), added
-- newest first until they make up the balance. Money is spent oldest first, so the balance is the newest
-- credits: this much of it is younger than p_since and the rest, balance - this, is older: what expires
-- (wallet_expire) or will (notices). It stops at the balance, so it reads the credits that make up the
-- balance, never the years of history behind them: pages of 100 read backwards on (account, time).
CREATE OR REPLACE FUNCTION wallet_fresh_amount(p_user_id integer, p_since timestamptz) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
  wallet wallets_wallet;
  credit record;
  fresh bigint := 0::bigint;
  read integer;
  edge_at timestamptz := clock_timestamp();  -- the last credit read (at first: after every credit)
  edge_id bigint := 0::bigint;
BEGIN
  SELECT * INTO wallet FROM wallets_wallet WHERE user_id = p_user_id;
  IF wallet.id IS NULL OR wallet.balance <= 0 THEN
    RETURN 0;
  END IF;
  LOOP
    read := 0;
    FOR credit IN SELECT p.id, p.entry_id, p.amount, p.created_at FROM ledger_posting p
                   WHERE p.account_id = wallet.account_id AND p.created_at > p_since AND p.amount > 0
                     AND (p.created_at, p.id) < (edge_at, edge_id)
                   ORDER BY p.created_at DESC, p.id DESC LIMIT 100 LOOP
      read := read + 1;
      edge_at := credit.created_at;
      edge_id := credit.id;
      fresh := fresh + credit.amount - coalesce((SELECT sum(r.amount) FROM wallets_operation r
                                                 WHERE r.reverses_id = credit.entry_id AND r.user_id = p_user_id), 0);
      IF fresh >= wallet.balance THEN
        RETURN wallet.balance;  -- every credit adds (none is reversed beyond itself): the rest cannot lower it
      END IF;
    END LOOP;
    EXIT WHEN read < 100;
  END LOOP;
  RETURN fresh;
END $$;

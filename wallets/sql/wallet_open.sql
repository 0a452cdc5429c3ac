-- The user's wallet and its ledger account, opened if missing (by a first charge, or a first transfer
-- received); safe when two transactions open the same wallet at once.
CREATE OR REPLACE FUNCTION wallet_open(p_user_id integer, p_currency text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM wallets_wallet WHERE user_id = p_user_id) THEN
    RETURN;
  END IF;
  INSERT INTO ledger_account (code, kind, currency, created_at)
  VALUES ('wallet:' || p_user_id, 'WALLET', p_currency, now()) ON CONFLICT (code) DO NOTHING;
  INSERT INTO wallets_wallet (user_id, account_id, currency, balance, created_at, updated_at)
  SELECT p_user_id, a.id, p_currency, 0, now(), now() FROM ledger_account a WHERE a.code = 'wallet:' || p_user_id
  ON CONFLICT (user_id) DO NOTHING;
END $$;

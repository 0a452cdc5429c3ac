-- The balance of the operation's user's wallet right after the operation (its posting's), for a replay.
CREATE OR REPLACE FUNCTION wallet_operation_balance_after(p_operation wallets_operation) RETURNS bigint
LANGUAGE sql STABLE AS $$
  SELECT p.balance_after FROM ledger_posting p JOIN wallets_wallet w ON w.account_id = p.account_id
   WHERE p.entry_id = p_operation.id AND w.user_id = p_operation.user_id;
$$;

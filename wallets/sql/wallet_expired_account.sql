-- A user's expired-balance account ("expired:<user id>"), opened on first use: what expired from the wallet,
-- still owed to the user in part (WALLET_EXPIRED_REFUND_PERCENT) until the limitation period ends. Like a
-- system account it takes the wallet's opposite side: an expiry posts +amount here.
CREATE OR REPLACE FUNCTION wallet_expired_account(p_user_id integer) RETURNS bigint LANGUAGE sql AS $$
  SELECT ledger_system_account_id('expired:' || p_user_id, 'EXPIRED_BALANCE', 'KRW');
$$;

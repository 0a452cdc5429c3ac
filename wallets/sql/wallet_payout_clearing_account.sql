-- The counter account of payouts: money paid from wallets (and expired balances) to users' bank accounts.
CREATE OR REPLACE FUNCTION wallet_payout_clearing_account() RETURNS bigint LANGUAGE sql AS $$
  SELECT ledger_system_account_id('system:payout-clearing', 'PAYOUT_CLEARING', 'KRW');
$$;

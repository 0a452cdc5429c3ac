-- The counter account of spends and of the reversals of spends.
CREATE OR REPLACE FUNCTION wallet_merchant_settlement_account() RETURNS bigint LANGUAGE sql AS $$
  SELECT ledger_system_account_id('system:merchant-settlement', 'MERCHANT_SETTLEMENT', 'KRW');
$$;

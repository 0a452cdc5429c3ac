-- The issuer's share of the expired balances it refunds (what WALLET_EXPIRED_REFUND_PERCENT does not pay).
CREATE OR REPLACE FUNCTION wallet_expiry_income_account() RETURNS bigint LANGUAGE sql AS $$
  SELECT ledger_system_account_id('system:expiry-income', 'EXPIRY_INCOME', 'KRW');
$$;

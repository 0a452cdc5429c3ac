-- The counter account of charges and of the reversals of charges.
CREATE OR REPLACE FUNCTION wallet_payment_clearing_account() RETURNS bigint LANGUAGE sql AS $$
  SELECT ledger_system_account_id('system:payment-clearing', 'PAYMENT_CLEARING', 'KRW');
$$;

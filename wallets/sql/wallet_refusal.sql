-- A rule said no: the code (wallets.errors.WalletErrorCode) and the numbers its message needs.
CREATE OR REPLACE FUNCTION wallet_refusal(p_code text, p_detail jsonb) RETURNS wallet_operation_result
LANGUAGE sql IMMUTABLE AS $$
  SELECT ROW('refused', p_code, p_detail, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::wallet_operation_result;
$$;

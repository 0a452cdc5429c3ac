-- A wallet operation as an operation's answer (done, or replayed), with the wallet's balance after it.
CREATE OR REPLACE FUNCTION wallet_entry_result(p_outcome text, p_operation wallets_operation, p_balance_after bigint)
RETURNS wallet_operation_result LANGUAGE sql IMMUTABLE AS $$
  SELECT ROW(p_outcome, NULL, NULL, p_operation.id, p_operation.kind, p_operation.amount, p_balance_after,
             p_operation.reverses_id, p_operation.payment_key, p_operation.order_id, p_operation.description,
             p_operation.created_at, NULL)::wallet_operation_result;
$$;

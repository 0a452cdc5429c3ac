-- The refund's answer while it runs: outcome 'refunding', the gateway (in the detail), the
-- planned reversal entry's id, the amount, the charge it reverses, the payment to cancel.
CREATE OR REPLACE FUNCTION wallet_refund_result(p_refund wallets_refund, p_payment wallets_payment)
RETURNS wallet_operation_result LANGUAGE sql IMMUTABLE AS $$
  SELECT ROW('refunding', NULL, jsonb_build_object('gateway', p_payment.gateway), p_refund.reversal_id, 'REVERSAL', p_refund.amount, NULL, p_payment.entry_id,
             p_payment.payment_key, p_payment.order_id, p_refund.reason, p_refund.created_at,
             p_payment.id)::wallet_operation_result;
$$;

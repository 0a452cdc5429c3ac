-- A charge the gateway declined: the payment FAILED (if still PENDING), the refusal recorded under the key.
CREATE OR REPLACE FUNCTION wallet_charge_decline(p_payment_id bigint, p_key text, p_code text, p_message text)
RETURNS wallet_operation_result LANGUAGE plpgsql AS $$
DECLARE
  payment wallets_payment;
BEGIN
  UPDATE wallets_payment SET status = 'FAILED', failure_code = left(p_code, 64), failure_message = left(p_message, 500),
                             updated_at = now()
   WHERE id = p_payment_id AND status = 'PENDING';
  SELECT * INTO payment FROM wallets_payment WHERE id = p_payment_id;
  RETURN wallet_idempotency_answer(payment.user_id, p_key,
    wallet_refusal('payment_declined', jsonb_build_object('gatewayCode', p_code, 'gatewayMessage', p_message)));
END $$;

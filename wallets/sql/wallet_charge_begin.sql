-- A charge, first step: claim the key, check the balance cap of the wallet's tier, record the payment PENDING
-- (or resume the PENDING payment of the same charge). The key stays in flight until the
-- charge is credited or declined.
CREATE OR REPLACE FUNCTION wallet_charge_begin(
  p_user_id integer, p_amount bigint, p_payment_key text, p_order_id text, p_gateway text, p_key text,
  p_fingerprint text, p_limits jsonb, p_key_ttl interval, p_in_flight_timeout interval
) RETURNS wallet_operation_result LANGUAGE plpgsql AS $$
DECLARE
  answer wallet_operation_result;
  balance bigint;
  tier text;
  balance_max bigint;
  payment wallets_payment;
BEGIN
  IF p_key IS NOT NULL THEN
    answer := wallet_idempotency_claim(p_user_id, p_key, p_fingerprint, p_key_ttl, p_in_flight_timeout);
    IF answer.outcome IS NOT NULL THEN
      RETURN answer;
    END IF;
  END IF;
  SELECT w.balance, w.tier INTO balance, tier FROM wallets_wallet w WHERE w.user_id = p_user_id;
  tier := coalesce(tier, 'unverified');  -- no wallet yet: a new one's
  balance_max := wallet_tier_limit(p_limits, tier, 'balanceMax');
  IF coalesce(balance, 0) + p_amount > balance_max THEN
    RETURN wallet_idempotency_answer(p_user_id, p_key,
      wallet_refusal('balance_limit_exceeded', jsonb_build_object('balanceMax', balance_max, 'tier', tier)));
  END IF;
  INSERT INTO wallets_payment (user_id, order_id, payment_key, amount, status, gateway, failure_code,
                               failure_message, attempts, created_at, updated_at)
  VALUES (p_user_id, p_order_id, p_payment_key, p_amount, 'PENDING', p_gateway, '', '', 1, now(), now())
  ON CONFLICT (order_id) DO NOTHING
  RETURNING * INTO payment;
  IF payment.id IS NULL THEN
    SELECT * INTO payment FROM wallets_payment WHERE order_id = p_order_id FOR UPDATE;
    IF payment.status <> 'PENDING'
       OR (payment.user_id, payment.payment_key, payment.amount) IS DISTINCT FROM (p_user_id, p_payment_key, p_amount) THEN
      RETURN wallet_idempotency_answer(p_user_id, p_key,
        wallet_refusal('duplicate_order', jsonb_build_object('orderId', p_order_id)));
    END IF;
    -- A retry of a charge whose first attempt died before crediting resumes it.
    UPDATE wallets_payment SET attempts = attempts + 1, updated_at = now() WHERE id = payment.id;
  END IF;
  RETURN ROW('started', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
             payment.id)::wallet_operation_result;
END $$;

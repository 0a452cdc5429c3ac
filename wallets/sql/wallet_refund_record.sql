-- Book what the gateway cancelled without us (its console): p_cancelled_total is all it has
-- cancelled of the payment; what our refunds do not account for is reversed now if the
-- wallet covers it, else recorded UNCOVERED for an operator. Nothing to book: refused 'nothing_to_book'.
CREATE OR REPLACE FUNCTION wallet_refund_record(
  p_payment_id bigint, p_cancelled_total bigint, p_transaction_key text, p_reversal_id uuid, p_event_id uuid,
  p_topic text, p_reason text
) RETURNS wallet_operation_result LANGUAGE plpgsql AS $$
DECLARE
  payment wallets_payment;
  wallet wallets_wallet;
  excess bigint;
  available bigint;
BEGIN
  SELECT * INTO payment FROM wallets_payment WHERE id = p_payment_id;
  SELECT * INTO wallet FROM wallets_wallet WHERE user_id = payment.user_id FOR UPDATE;
  SELECT * INTO payment FROM wallets_payment WHERE id = p_payment_id FOR UPDATE;
  excess := p_cancelled_total - coalesce((SELECT sum(amount) FROM wallets_refund WHERE payment_id = payment.id
                                           AND status IN ('REQUESTED', 'SUCCEEDED', 'UNCOVERED')), 0);
  IF payment.status <> 'CREDITED' OR excess <= 0 THEN
    RETURN wallet_refusal('nothing_to_book', NULL);
  END IF;
  available := wallet.balance - wallet_held(payment.user_id);
  IF available >= excess THEN  -- held for the moment the reversal takes it (wallet_refund_complete, next)
    INSERT INTO wallets_hold (id, user_id, purpose, amount, captured, status, description, idempotency_key,
                              expires_at, created_at)
    VALUES (p_reversal_id, payment.user_id, 'REFUND', excess, 0, 'ACTIVE', p_reason, '', NULL, clock_timestamp());
  END IF;
  INSERT INTO wallets_refund (user_id, payment_id, reversal_id, hold_id, amount, reason, status, key,
                              gateway_transaction_key, failure_code, failure_message, attempts, created_at, updated_at)
  VALUES (payment.user_id, payment.id, p_reversal_id, CASE WHEN available >= excess THEN p_reversal_id END, excess,
          p_reason, CASE WHEN available >= excess THEN 'REQUESTED' ELSE 'UNCOVERED' END, '',
          left(p_transaction_key, 64), '', '', 1, now(), now());
  IF available < excess THEN
    RETURN wallet_refusal('insufficient_funds', jsonb_build_object('amount', excess, 'balance', available,
                                                                   'reversal', true));
  END IF;
  RETURN wallet_refund_complete(p_reversal_id, p_event_id, p_topic, p_transaction_key);
END $$;

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
BEGIN
  SELECT * INTO payment FROM wallets_payment WHERE id = p_payment_id;
  SELECT * INTO wallet FROM wallets_wallet WHERE user_id = payment.user_id FOR UPDATE;
  SELECT * INTO payment FROM wallets_payment WHERE id = p_payment_id FOR UPDATE;
  excess := p_cancelled_total - coalesce((SELECT sum(amount) FROM wallets_refund WHERE payment_id = payment.id
                                           AND status IN ('REQUESTED', 'SUCCEEDED', 'UNCOVERED')), 0);
  IF payment.status <> 'CREDITED' OR excess <= 0 THEN
    RETURN wallet_refusal('nothing_to_book', NULL);
  END IF;
  INSERT INTO wallets_refund (user_id, payment_id, reversal_id, amount, reason, status, key, gateway_transaction_key,
                              failure_code, failure_message, attempts, created_at, updated_at)
  VALUES (payment.user_id, payment.id, p_reversal_id, excess, p_reason,
          CASE WHEN wallet.balance - wallet.held >= excess THEN 'REQUESTED' ELSE 'UNCOVERED' END, '',
          left(p_transaction_key, 64), '', '', 1, now(), now());
  IF wallet.balance - wallet.held < excess THEN
    RETURN wallet_refusal('insufficient_funds', jsonb_build_object('amount', excess, 'balance',
                          wallet.balance - wallet.held, 'reversal', true));
  END IF;
  UPDATE wallets_wallet SET held = held + excess WHERE id = wallet.id;
  RETURN wallet_refund_complete(p_reversal_id, p_event_id, p_topic, p_transaction_key);
END $$;

-- A charge the gateway confirmed: credit it, once (the payment must still be PENDING), creating
-- the wallet on the user's first charge.
CREATE OR REPLACE FUNCTION wallet_charge_credit(
  p_payment_id bigint, p_key text, p_entry_id uuid, p_event_id uuid, p_topic text, p_currency text
) RETURNS wallet_operation_result LANGUAGE plpgsql AS $$
DECLARE
  answer wallet_operation_result;
  payment wallets_payment;
  wallet wallets_wallet;
BEGIN
  SELECT * INTO payment FROM wallets_payment WHERE id = p_payment_id FOR UPDATE;
  IF payment.status <> 'PENDING' THEN
    -- Credited (or failed) by a concurrent attempt: never twice.
    RETURN wallet_idempotency_answer(payment.user_id, p_key,
      wallet_refusal('duplicate_order', jsonb_build_object('orderId', payment.order_id)));
  END IF;
  PERFORM wallet_open(payment.user_id, p_currency);  -- the user's first charge opens the wallet
  SELECT * INTO wallet FROM wallets_wallet WHERE user_id = payment.user_id FOR UPDATE;
  -- The money has been taken from the card: it is credited even if the balance cap
  -- (checked before confirming) was crossed meanwhile.
  answer := wallet_entry_apply(
    wallet, 'CHARGE', payment.amount, wallet_payment_clearing_account(), p_entry_id, p_event_id, 'CHARGE_COMPLETED',
    jsonb_build_object('amount', payment.amount, 'paymentKey', payment.payment_key, 'orderId', payment.order_id),
    '{}', NULL, payment.payment_key, payment.order_id, '', p_key, p_topic, NULL);
  UPDATE wallets_payment SET status = 'CREDITED', entry_id = p_entry_id, updated_at = now() WHERE id = payment.id;
  RETURN wallet_idempotency_answer(payment.user_id, p_key, answer);
END $$;

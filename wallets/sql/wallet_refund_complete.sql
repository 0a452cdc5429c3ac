-- The gateway cancelled: the reversal captures the refund's hold and is written (once); the key is answered.
CREATE OR REPLACE FUNCTION wallet_refund_complete(p_reversal_id uuid, p_event_id uuid, p_topic text, p_transaction_key text)
RETURNS wallet_operation_result LANGUAGE plpgsql AS $$
DECLARE
  refund wallets_refund;
  payment wallets_payment;
  wallet wallets_wallet;
  done wallets_operation;
  answer wallet_operation_result;
BEGIN
  SELECT * INTO wallet FROM wallets_wallet
   WHERE user_id = (SELECT user_id FROM wallets_refund WHERE reversal_id = p_reversal_id) FOR UPDATE;
  SELECT * INTO refund FROM wallets_refund WHERE reversal_id = p_reversal_id FOR UPDATE;
  IF refund.id IS NULL THEN
    RAISE EXCEPTION 'no refund %', p_reversal_id USING ERRCODE = 'no_data_found';
  ELSIF refund.status = 'SUCCEEDED' THEN  -- completed by a concurrent attempt: never twice
    SELECT * INTO done FROM wallets_operation WHERE id = refund.entry_id;
    RETURN wallet_entry_result('replayed', done, wallet_operation_balance_after(done));
  ELSIF refund.status <> 'REQUESTED' THEN
    RAISE EXCEPTION 'refund % is %, the gateway cancelled it', p_reversal_id, refund.status
      USING ERRCODE = 'check_violation';
  END IF;
  SELECT * INTO payment FROM wallets_payment WHERE id = refund.payment_id;
  UPDATE wallets_hold SET captured = amount, status = 'CAPTURED', ended_at = clock_timestamp() WHERE id = refund.hold_id;
  answer := wallet_entry_apply(
    wallet, 'REVERSAL', -refund.amount, wallet_payment_clearing_account(), refund.reversal_id, p_event_id,
    'REVERSAL_COMPLETED', jsonb_build_object('reversedAmount', refund.amount, 'reason', refund.reason),
    jsonb_build_object('reversedTransactionId', payment.entry_id, 'reversedTransactionType', 'CHARGE'),
    payment.entry_id, '', '', refund.reason, nullif(refund.key, ''), p_topic, NULL);
  UPDATE wallets_refund SET status = 'SUCCEEDED', entry_id = refund.reversal_id,
                            gateway_transaction_key = left(p_transaction_key, 64), updated_at = now()
   WHERE id = refund.id;
  RETURN wallet_idempotency_answer(refund.user_id, nullif(refund.key, ''), answer);
END $$;

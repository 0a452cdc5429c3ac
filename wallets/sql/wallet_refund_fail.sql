-- The gateway refused: the refund's hold is voided, nothing written, the refusal is the key's answer.
CREATE OR REPLACE FUNCTION wallet_refund_fail(p_reversal_id uuid, p_code text, p_message text)
RETURNS wallet_operation_result LANGUAGE plpgsql AS $$
DECLARE
  refund wallets_refund;
BEGIN
  PERFORM 1 FROM wallets_wallet
   WHERE user_id = (SELECT user_id FROM wallets_refund WHERE reversal_id = p_reversal_id) FOR UPDATE;
  SELECT * INTO refund FROM wallets_refund WHERE reversal_id = p_reversal_id FOR UPDATE;
  IF refund.id IS NULL THEN
    RAISE EXCEPTION 'no refund %', p_reversal_id USING ERRCODE = 'no_data_found';
  ELSIF refund.status = 'REQUESTED' THEN
    PERFORM wallet_hold_release(h, 'VOIDED', NULL, NULL) FROM wallets_hold h WHERE h.id = refund.hold_id FOR UPDATE;
    UPDATE wallets_refund SET status = 'FAILED', failure_code = left(p_code, 64),
                              failure_message = left(p_message, 500), updated_at = now()
     WHERE id = refund.id;
  ELSIF refund.status <> 'FAILED' THEN
    RAISE EXCEPTION 'refund % is %, the gateway refused it', p_reversal_id, refund.status
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN wallet_idempotency_answer(refund.user_id, nullif(refund.key, ''),
    wallet_refusal('refund_refused', jsonb_build_object('gatewayCode', p_code, 'gatewayMessage', p_message)));
END $$;

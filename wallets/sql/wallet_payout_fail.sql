-- The payout gateway refused: the payout's hold (from the wallet) is released, nothing written; the money stays
-- where it was (wallet_refund_request_settle tells the user).
CREATE OR REPLACE FUNCTION wallet_payout_fail(p_payout_id uuid, p_code text, p_message text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  payout wallets_payout;
BEGIN
  PERFORM 1 FROM wallets_wallet WHERE user_id = (SELECT user_id FROM wallets_payout WHERE id = p_payout_id) FOR UPDATE;
  SELECT * INTO payout FROM wallets_payout WHERE id = p_payout_id FOR UPDATE;
  IF payout.id IS NULL THEN
    RAISE EXCEPTION 'no payout %', p_payout_id USING ERRCODE = 'no_data_found';
  ELSIF payout.status = 'REQUESTED' THEN
    PERFORM wallet_hold_release(h, 'VOIDED', NULL, NULL) FROM wallets_hold h WHERE h.id = payout.hold_id FOR UPDATE;
    UPDATE wallets_payout SET status = 'FAILED', failure_code = left(p_code, 64), failure_message = left(p_message, 500),
                              updated_at = clock_timestamp()
     WHERE id = payout.id;
  ELSIF payout.status <> 'FAILED' THEN
    RAISE EXCEPTION 'payout % is %, the gateway refused it', p_payout_id, payout.status
      USING ERRCODE = 'check_violation';
  END IF;
END $$;

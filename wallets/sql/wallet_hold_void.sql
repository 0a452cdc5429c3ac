-- Void an active hold: what is left of it is released (HOLD_RELEASED, reason voided). The wallet is
-- locked before the hold, as every hold operation locks them.
CREATE OR REPLACE FUNCTION wallet_hold_void(
  p_user_id integer, p_hold_id uuid, p_key text, p_fingerprint text, p_event_id uuid, p_topic text,
  p_key_ttl interval, p_in_flight_timeout interval
) RETURNS wallet_hold_result LANGUAGE plpgsql AS $$
DECLARE
  claimed wallet_operation_result;
  hold wallets_hold;
BEGIN
  IF p_key IS NOT NULL THEN
    claimed := wallet_idempotency_claim(p_user_id, p_key, p_fingerprint, p_key_ttl, p_in_flight_timeout);
    IF claimed.outcome = 'replayed' AND coalesce(claimed.error_code, '') = '' THEN
      SELECT * INTO hold FROM wallets_hold WHERE id = p_hold_id;
      RETURN wallet_hold_answer('replayed', hold);
    ELSIF claimed.outcome IS NOT NULL THEN
      RETURN wallet_hold_refusal(p_user_id, p_key, claimed);
    END IF;
  END IF;
  PERFORM 1 FROM wallets_wallet WHERE user_id = p_user_id FOR UPDATE;
  SELECT * INTO hold FROM wallets_hold WHERE id = p_hold_id AND user_id = p_user_id AND purpose = 'CLIENT' FOR UPDATE;
  IF hold.id IS NULL THEN
    RETURN wallet_hold_refusal(p_user_id, p_key, wallet_refusal('hold_not_found',
                                                                jsonb_build_object('holdId', p_hold_id)));
  ELSIF hold.status <> 'ACTIVE' OR hold.expires_at <= now() THEN
    RETURN wallet_hold_refusal(p_user_id, p_key, wallet_refusal('hold_not_active', jsonb_build_object(
      'holdId', p_hold_id, 'status', CASE WHEN hold.status = 'ACTIVE' THEN 'EXPIRED' ELSE hold.status END)));
  END IF;
  hold := wallet_hold_release(hold, 'VOIDED', p_event_id, p_topic);
  PERFORM wallet_idempotency_answer(p_user_id, p_key, ROW('done', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                                    NULL, NULL, NULL, NULL)::wallet_operation_result);
  RETURN wallet_hold_answer('done', hold);
END $$;

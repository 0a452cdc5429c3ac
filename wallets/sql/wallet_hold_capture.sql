-- Capture part or all of an active hold (a spend from it: a CAPTURE operation, HOLD_CAPTURED). The hold
-- ends when used up, or with p_final (what is left is released). Never more than what is left; never
-- after it ended or expired: the wallet is locked first, then the hold, as the expiry sweep locks them.
CREATE OR REPLACE FUNCTION wallet_hold_capture(
  p_user_id integer, p_hold_id uuid, p_amount bigint, p_final boolean, p_key text, p_fingerprint text,
  p_entry_id uuid, p_event_id uuid, p_topic text, p_key_ttl interval, p_in_flight_timeout interval
) RETURNS wallet_operation_result LANGUAGE plpgsql AS $$
DECLARE
  answer wallet_operation_result;
  wallet wallets_wallet;
  hold wallets_hold;
  remaining bigint;
  taken bigint;
BEGIN
  IF p_key IS NOT NULL THEN
    answer := wallet_idempotency_claim(p_user_id, p_key, p_fingerprint, p_key_ttl, p_in_flight_timeout);
    IF answer.outcome IS NOT NULL THEN
      RETURN answer;
    END IF;
  END IF;
  SELECT * INTO wallet FROM wallets_wallet WHERE user_id = p_user_id FOR UPDATE;
  SELECT * INTO hold FROM wallets_hold WHERE id = p_hold_id AND user_id = p_user_id AND purpose = 'CLIENT' FOR UPDATE;
  IF hold.id IS NULL THEN
    answer := wallet_refusal('hold_not_found', jsonb_build_object('holdId', p_hold_id));
  ELSIF hold.status <> 'ACTIVE' OR hold.expires_at <= now() THEN
    answer := wallet_refusal('hold_not_active', jsonb_build_object(
      'holdId', p_hold_id, 'status', CASE WHEN hold.status = 'ACTIVE' THEN 'EXPIRED' ELSE hold.status END));
  ELSE
    remaining := hold.amount - hold.captured;
    taken := coalesce(p_amount, remaining);
    IF taken > remaining THEN
      answer := wallet_refusal('capture_exceeds_hold', jsonb_build_object('amount', taken, 'remaining', remaining));
    ELSE
      UPDATE wallets_hold
         SET captured = captured + taken,
             status = CASE WHEN captured + taken = amount OR p_final THEN 'CAPTURED' ELSE 'ACTIVE' END,
             ended_at = CASE WHEN captured + taken = amount OR p_final THEN clock_timestamp() END
       WHERE id = hold.id
      RETURNING * INTO hold;
      answer := wallet_entry_apply(
        wallet, 'CAPTURE', -taken, wallet_merchant_settlement_account(), p_entry_id, p_event_id, 'HOLD_CAPTURED',
        jsonb_build_object('holdId', hold.id, 'amount', taken, 'description', hold.description,
                           'remaining', CASE WHEN hold.status = 'ACTIVE' THEN hold.amount - hold.captured ELSE 0 END,
                           'released', CASE WHEN hold.status = 'ACTIVE' THEN 0 ELSE hold.amount - hold.captured END),
        '{}', NULL, '', '', hold.description, p_key, p_topic, hold.id);
    END IF;
  END IF;
  RETURN wallet_idempotency_answer(p_user_id, p_key, answer);
END $$;

-- Place a hold: the available balance (balance less active holds) must cover it; the balance stays.
-- HOLD_PLACED is its event. A repeated key answers the hold its first request placed.
CREATE OR REPLACE FUNCTION wallet_hold_place(
  p_user_id integer, p_hold_id uuid, p_amount bigint, p_description text, p_expires_at timestamptz, p_key text,
  p_fingerprint text, p_event_id uuid, p_topic text, p_key_ttl interval, p_in_flight_timeout interval
) RETURNS wallet_hold_result LANGUAGE plpgsql AS $$
DECLARE
  claimed wallet_operation_result;
  wallet wallets_wallet;
  hold wallets_hold;
  available bigint;
BEGIN
  IF p_key IS NOT NULL THEN
    claimed := wallet_idempotency_claim(p_user_id, p_key, p_fingerprint, p_key_ttl, p_in_flight_timeout);
    IF claimed.outcome = 'replayed' AND coalesce(claimed.error_code, '') = '' THEN
      SELECT * INTO hold FROM wallets_hold WHERE user_id = p_user_id AND idempotency_key = p_key
       ORDER BY created_at DESC LIMIT 1;
      RETURN wallet_hold_answer('replayed', hold);
    ELSIF claimed.outcome IS NOT NULL THEN
      RETURN wallet_hold_refusal(p_user_id, p_key, claimed);
    END IF;
  END IF;
  SELECT * INTO wallet FROM wallets_wallet WHERE user_id = p_user_id FOR UPDATE;
  available := coalesce(wallet.balance - wallet_held(p_user_id), 0);
  IF available < p_amount THEN
    RETURN wallet_hold_refusal(p_user_id, p_key, wallet_refusal('insufficient_funds',
                               jsonb_build_object('amount', p_amount, 'balance', available)));
  END IF;
  INSERT INTO wallets_hold (id, user_id, purpose, amount, captured, status, description, idempotency_key, expires_at,
                            created_at)
  VALUES (p_hold_id, p_user_id, 'CLIENT', p_amount, 0, 'ACTIVE', p_description, coalesce(p_key, ''), p_expires_at,
          clock_timestamp())
  RETURNING * INTO hold;
  PERFORM wallet_event_record(p_event_id, 'HOLD_PLACED', p_topic, p_user_id, NULL, wallet.balance, hold.created_at,
    jsonb_build_object('holdId', hold.id, 'amount', p_amount, 'description', p_description,
                       'expiresAt', to_char(p_expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),
                       'availableBalance', available - p_amount), '{}');
  PERFORM wallet_idempotency_answer(p_user_id, p_key, ROW('done', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                                    NULL, NULL, NULL, NULL)::wallet_operation_result);
  RETURN wallet_hold_answer('done', hold);
END $$;

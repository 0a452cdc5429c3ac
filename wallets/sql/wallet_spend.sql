-- A spend: the available balance (balance less what active holds keep) must cover it.
CREATE OR REPLACE FUNCTION wallet_spend(
  p_user_id integer, p_amount bigint, p_description text, p_key text, p_fingerprint text, p_entry_id uuid,
  p_event_id uuid, p_topic text, p_key_ttl interval, p_in_flight_timeout interval
) RETURNS wallet_operation_result LANGUAGE plpgsql AS $$
DECLARE
  answer wallet_operation_result;
  wallet wallets_wallet;
  available bigint;
BEGIN
  IF p_key IS NOT NULL THEN
    answer := wallet_idempotency_claim(p_user_id, p_key, p_fingerprint, p_key_ttl, p_in_flight_timeout);
    IF answer.outcome IS NOT NULL THEN
      RETURN answer;
    END IF;
  END IF;
  SELECT * INTO wallet FROM wallets_wallet WHERE user_id = p_user_id FOR UPDATE;
  available := coalesce(wallet.balance - wallet_held(p_user_id), 0);  -- holds keep the rest
  IF available < p_amount THEN
    answer := wallet_refusal('insufficient_funds', jsonb_build_object('amount', p_amount, 'balance', available));
  ELSE
    answer := wallet_entry_apply(wallet, 'SPEND', -p_amount, wallet_merchant_settlement_account(), p_entry_id,
                                 p_event_id,
                                 'SPEND_COMPLETED', jsonb_build_object('amount', p_amount, 'description', p_description),
                                 '{}', NULL, '', '', p_description, p_key, p_topic, NULL);
  END IF;
  RETURN wallet_idempotency_answer(p_user_id, p_key, answer);
END $$;

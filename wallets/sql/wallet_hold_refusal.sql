-- A hold operation's refusal (or the refusal a key's first request got, replayed), recorded under the key.
CREATE OR REPLACE FUNCTION wallet_hold_refusal(p_user_id integer, p_key text, p_refusal wallet_operation_result)
RETURNS wallet_hold_result LANGUAGE plpgsql AS $$
BEGIN
  IF p_refusal.outcome = 'refused' THEN
    PERFORM wallet_idempotency_answer(p_user_id, p_key, p_refusal);
  END IF;
  RETURN ROW(p_refusal.outcome, p_refusal.error_code, p_refusal.error_detail, NULL, NULL, NULL, NULL, NULL, NULL,
             NULL, NULL, NULL, NULL)::wallet_hold_result;
END $$;

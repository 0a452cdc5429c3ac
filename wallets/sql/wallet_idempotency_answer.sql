-- Record the answer under the key (no key: nothing to record); return the answer.
CREATE OR REPLACE FUNCTION wallet_idempotency_answer(p_user_id integer, p_key text, p_result wallet_operation_result)
RETURNS wallet_operation_result LANGUAGE plpgsql AS $$
BEGIN
  IF p_key IS NOT NULL THEN
    UPDATE wallets_idempotencyrecord
       SET entry_id = p_result.entry_id, error_code = coalesce(p_result.error_code, ''),
           error_detail = p_result.error_detail, completed_at = now()
     WHERE user_id = p_user_id AND key = p_key;
  END IF;
  RETURN p_result;
END $$;

-- Claim (user, key) for this request, in the caller's transaction. NULL: run the operation.
-- Otherwise the answer: the first request's result replayed, or a refusal.
CREATE OR REPLACE FUNCTION wallet_idempotency_claim(p_user_id integer, p_key text, p_fingerprint text, p_ttl interval,
                                         p_in_flight_timeout interval)
RETURNS wallet_operation_result LANGUAGE plpgsql AS $$
DECLARE
  claimed wallets_idempotencyrecord;
  earlier wallets_operation;
BEGIN
  -- A transaction still running with this key holds the lock until it ends.
  IF NOT pg_try_advisory_xact_lock(hashtextextended(p_user_id::text || ':' || p_key, 7310)) THEN
    RETURN wallet_refusal('idempotency_request_in_flight', NULL);
  END IF;
  INSERT INTO wallets_idempotencyrecord (user_id, key, fingerprint, error_code, created_at)
  VALUES (p_user_id, p_key, p_fingerprint, '', now())
  ON CONFLICT (user_id, key) DO NOTHING;
  IF FOUND THEN
    RETURN NULL;
  END IF;
  SELECT * INTO claimed FROM wallets_idempotencyrecord WHERE user_id = p_user_id AND key = p_key FOR UPDATE;
  IF claimed.created_at <= now() - p_ttl THEN
    -- Expired (the purge has not deleted it yet): the key is free again.
    UPDATE wallets_idempotencyrecord
       SET fingerprint = p_fingerprint, created_at = now(), completed_at = NULL, entry_id = NULL, error_code = '',
           error_detail = NULL
     WHERE id = claimed.id;
    RETURN NULL;
  END IF;
  IF claimed.fingerprint <> p_fingerprint THEN
    RETURN wallet_refusal('idempotency_key_reused', NULL);
  END IF;
  IF claimed.completed_at IS NULL THEN
    -- A charge whose request is still waiting for the gateway, or died doing so.
    IF claimed.created_at <= now() - p_in_flight_timeout THEN
      UPDATE wallets_idempotencyrecord SET created_at = now() WHERE id = claimed.id;  -- taken over, once
      RETURN NULL;
    END IF;
    RETURN wallet_refusal('idempotency_request_in_flight', NULL);
  END IF;
  IF claimed.entry_id IS NOT NULL THEN
    SELECT * INTO earlier FROM wallets_operation WHERE id = claimed.entry_id;
    RETURN wallet_entry_result('replayed', earlier, wallet_operation_balance_after(earlier));
  END IF;
  RETURN ROW('replayed', claimed.error_code, claimed.error_detail, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
             NULL, NULL)::wallet_operation_result;
END $$;

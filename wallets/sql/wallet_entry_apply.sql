-- Move p_delta won into (or, negative, out of) a locked wallet: journal entry and postings, the
-- wallet operation, balance, outbox event. p_hold_id: the hold a capture takes from. p_event_fields: the event's fields of its type (prepaid/events.py).
CREATE OR REPLACE FUNCTION wallet_entry_apply(
  p_wallet wallets_wallet, p_kind text, p_delta bigint, p_counter_account bigint, p_entry_id uuid, p_event_id uuid,
  p_event_type text, p_event_fields jsonb, p_event_metadata jsonb, p_reverses_id uuid, p_payment_key text,
  p_order_id text, p_description text, p_idempotency_key text, p_topic text, p_hold_id uuid
) RETURNS wallet_operation_result LANGUAGE plpgsql AS $$
DECLARE
  new_balance bigint := p_wallet.balance + p_delta;
  created timestamptz := clock_timestamp();
  operation wallets_operation;
BEGIN
  IF new_balance < 0 THEN
    RAISE EXCEPTION 'wallet % would go negative: % %', p_wallet.id, p_wallet.balance, p_delta
      USING ERRCODE = 'check_violation';
  END IF;
  PERFORM ledger_entry_append(p_entry_id, p_kind, p_description, created,
                              ARRAY[p_wallet.account_id, p_counter_account], ARRAY[p_delta, -p_delta],
                              ARRAY[new_balance, NULL]);
  INSERT INTO wallets_operation (id, kind, user_id, amount, reverses_id, hold_id, payment_key, order_id, description,
                                 idempotency_key, created_at)
  VALUES (p_entry_id, p_kind, p_wallet.user_id, abs(p_delta), p_reverses_id, p_hold_id, p_payment_key, p_order_id,
          p_description, coalesce(p_idempotency_key, ''), created)
  RETURNING * INTO operation;
  UPDATE wallets_wallet SET balance = new_balance, updated_at = created WHERE id = p_wallet.id;
  PERFORM wallet_event_record(p_event_id, p_event_type, p_topic, p_wallet.user_id, p_entry_id, new_balance, created,
                              p_event_fields, p_event_metadata);
  RETURN wallet_entry_result('done', operation, new_balance);
END $$;

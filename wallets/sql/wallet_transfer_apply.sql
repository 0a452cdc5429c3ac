-- Move p_amount won from one locked wallet to another: one journal entry with the two wallet postings,
-- the operation (its user the payer, its counterparty the payee), both balances, and an event for each:
-- TRANSFER_SENT keyed by the payer, TRANSFER_RECEIVED keyed by the payee. A return (p_reverses_id, the
-- transfer it sends back) is the same movement the other way.
CREATE OR REPLACE FUNCTION wallet_transfer_apply(
  p_from wallets_wallet, p_to wallets_wallet, p_amount bigint, p_kind text, p_reverses_id uuid, p_message text,
  p_key text, p_entry_id uuid, p_sent_event_id uuid, p_received_event_id uuid, p_topic text
) RETURNS wallet_operation_result LANGUAGE plpgsql AS $$
DECLARE
  created timestamptz := clock_timestamp();
  from_balance bigint := p_from.balance - p_amount;
  to_balance bigint := p_to.balance + p_amount;
  operation wallets_operation;
  metadata jsonb := '{}'::jsonb;
BEGIN
  IF from_balance < wallet_held(p_from.user_id) THEN
    RAISE EXCEPTION 'wallet % would go below what it holds: % - %', p_from.id, p_from.balance, p_amount
      USING ERRCODE = 'check_violation';
  END IF;
  PERFORM ledger_entry_append(p_entry_id, p_kind, p_message, created, ARRAY[p_from.account_id, p_to.account_id],
                              ARRAY[-p_amount, p_amount], ARRAY[from_balance, to_balance]);
  INSERT INTO wallets_operation (id, kind, user_id, counterparty_id, amount, reverses_id, payment_key, order_id,
                                 description, idempotency_key, created_at)
  VALUES (p_entry_id, p_kind, p_from.user_id, p_to.user_id, p_amount, p_reverses_id, '', '', p_message,
          coalesce(p_key, ''), created)
  RETURNING * INTO operation;
  UPDATE wallets_wallet SET balance = from_balance, updated_at = created WHERE id = p_from.id;
  UPDATE wallets_wallet SET balance = to_balance, updated_at = created WHERE id = p_to.id;
  IF p_reverses_id IS NOT NULL THEN
    metadata := jsonb_build_object('returnedTransactionId', p_reverses_id);
  END IF;
  PERFORM wallet_event_record(p_sent_event_id, 'TRANSFER_SENT', p_topic, p_from.user_id, p_entry_id, from_balance,
    created, jsonb_build_object('amount', p_amount, 'message', p_message,
                                'counterparty', (SELECT username FROM auth_user WHERE id = p_to.user_id)), metadata);
  PERFORM wallet_event_record(p_received_event_id, 'TRANSFER_RECEIVED', p_topic, p_to.user_id, p_entry_id, to_balance,
    created, jsonb_build_object('amount', p_amount, 'message', p_message,
                                'counterparty', (SELECT username FROM auth_user WHERE id = p_from.user_id)), metadata);
  RETURN wallet_entry_result('done', operation, from_balance);
END $$;

-- A journal entry as an operation's answer (done, or replayed).
CREATE OR REPLACE FUNCTION wallet_entry_result(p_outcome text, p_entry ledger_journalentry) RETURNS wallet_operation_result
LANGUAGE sql IMMUTABLE AS $$
  SELECT ROW(p_outcome, NULL, NULL, p_entry.id, p_entry.kind, p_entry.amount, p_entry.balance_after,
             p_entry.reverses_id, p_entry.payment_key, p_entry.order_id, p_entry.description, p_entry.created_at,
             NULL)::wallet_operation_result;
$$;

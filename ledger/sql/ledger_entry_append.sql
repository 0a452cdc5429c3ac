-- A journal entry with its postings, checked before it is written (two or more postings, none zero,
-- summing to zero, a positive amount); the deferred triggers check it again at commit.
CREATE OR REPLACE FUNCTION ledger_entry_append(
  p_entry_id uuid, p_kind text, p_user_id integer, p_amount bigint, p_balance_after bigint,
  p_account_ids bigint[], p_amounts bigint[], p_reverses_id uuid, p_payment_key text, p_order_id text,
  p_description text, p_idempotency_key text, p_created_at timestamptz
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF cardinality(p_account_ids) < 2 OR cardinality(p_account_ids) IS DISTINCT FROM cardinality(p_amounts) THEN
    RAISE EXCEPTION 'ledger: a journal entry needs two or more postings, got % account(s) and % amount(s)',
      cardinality(p_account_ids), cardinality(p_amounts) USING ERRCODE = 'check_violation';
  END IF;
  IF 0 = ANY(p_amounts) THEN
    RAISE EXCEPTION 'ledger: a posting amount is never zero: %', p_amounts USING ERRCODE = 'check_violation';
  END IF;
  IF (SELECT sum(a) FROM unnest(p_amounts) AS a) <> 0 THEN
    RAISE EXCEPTION 'ledger: postings must sum to zero: %', p_amounts USING ERRCODE = 'check_violation';
  END IF;
  IF p_amount IS NULL OR p_amount <= 0 THEN
    RAISE EXCEPTION 'ledger: an entry amount is positive won, got %', p_amount USING ERRCODE = 'check_violation';
  END IF;
  INSERT INTO ledger_journalentry (id, kind, user_id, amount, balance_after, reverses_id, payment_key, order_id,
                                   description, idempotency_key, created_at)
  VALUES (p_entry_id, p_kind, p_user_id, p_amount, p_balance_after, p_reverses_id, p_payment_key, p_order_id,
          p_description, p_idempotency_key, p_created_at);
  INSERT INTO ledger_posting (entry_id, account_id, amount)
  SELECT p_entry_id, account_id, amount FROM unnest(p_account_ids, p_amounts) AS leg(account_id, amount);
END $$;

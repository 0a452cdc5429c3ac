-- A journal entry with its postings, checked before it is written (two or more postings, none zero,
-- summing to zero); the deferred triggers check it again at commit. p_balances_after: each account's
-- balance after its posting, where the writer keeps it (a wallet's, under its lock), else NULL.
CREATE OR REPLACE FUNCTION ledger_entry_append(
  p_entry_id uuid, p_kind text, p_description text, p_created_at timestamptz,
  p_account_ids bigint[], p_amounts bigint[], p_balances_after bigint[]
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF cardinality(p_account_ids) < 2 OR cardinality(p_account_ids) IS DISTINCT FROM cardinality(p_amounts)
     OR cardinality(p_account_ids) IS DISTINCT FROM cardinality(p_balances_after) THEN
    RAISE EXCEPTION 'ledger: a journal entry needs two or more postings, got % account(s), % amount(s), % balance(s)',
      cardinality(p_account_ids), cardinality(p_amounts), cardinality(p_balances_after) USING ERRCODE = 'check_violation';
  END IF;
  IF 0 = ANY(p_amounts) THEN
    RAISE EXCEPTION 'ledger: a posting amount is never zero: %', p_amounts USING ERRCODE = 'check_violation';
  END IF;
  IF (SELECT sum(a) FROM unnest(p_amounts) AS a) <> 0 THEN
    RAISE EXCEPTION 'ledger: postings must sum to zero: %', p_amounts USING ERRCODE = 'check_violation';
  END IF;
  INSERT INTO ledger_journalentry (id, kind, description, created_at)
  VALUES (p_entry_id, p_kind, p_description, p_created_at);
  INSERT INTO ledger_posting (entry_id, account_id, amount, balance_after, created_at)
  SELECT p_entry_id, account_id, amount, balance_after, p_created_at
    FROM unnest(p_account_ids, p_amounts, p_balances_after) AS leg(account_id, amount, balance_after);
END $$;

-- An entry has two or more postings summing to zero, or this raises (check_violation). Called at commit by
-- the balanced-entry triggers, whatever code wrote the entry.
CREATE OR REPLACE FUNCTION ledger_entry_balance_check(p_entry_id uuid) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  posting_count integer;
  posting_sum numeric;
BEGIN
  SELECT count(*), coalesce(sum(amount), 0) INTO posting_count, posting_sum
    FROM ledger_posting WHERE entry_id = p_entry_id;
  IF posting_count < 2 OR posting_sum <> 0 THEN
    RAISE EXCEPTION 'journal entry % is unbalanced: % posting(s) summing to %', p_entry_id, posting_count, posting_sum
      USING ERRCODE = 'check_violation';
  END IF;
END $$;

-- At commit (a deferred constraint trigger), postings that leave their entry unbalanced fail.
CREATE OR REPLACE FUNCTION ledger_check_posting_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM ledger_entry_balance_check(NEW.entry_id);
  RETURN NULL;
END $$;

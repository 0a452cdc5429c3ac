-- At commit (a deferred constraint trigger), a journal entry written without its postings fails.
CREATE OR REPLACE FUNCTION ledger_check_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM ledger_entry_balance_check(NEW.id);
  RETURN NULL;
END $$;

-- An entry written without its postings fails at commit.
CREATE CONSTRAINT TRIGGER ledger_journalentry_balanced AFTER INSERT ON ledger_journalentry
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_entry_balanced();

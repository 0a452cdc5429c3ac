-- Journal entries are append-only: UPDATE and DELETE raise (TRUNCATE, an administrator's tool, is left alone).
CREATE TRIGGER ledger_journalentry_append_only BEFORE UPDATE OR DELETE ON ledger_journalentry
  FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();

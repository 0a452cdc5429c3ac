"""The database itself keeps the ledger honest, whatever code writes to it.

- Journal entries and postings are append-only: UPDATE and DELETE raise.
  (TRUNCATE, an administrator's tool, is left alone.)
- At commit, every journal entry written in the transaction must have at least
  two postings summing to zero (deferred constraint triggers).
"""

from django.db import migrations

FORWARD = """
CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'restrict_violation';
END $$;

CREATE TRIGGER ledger_journalentry_append_only BEFORE UPDATE OR DELETE ON ledger_journalentry
  FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_posting_append_only BEFORE UPDATE OR DELETE ON ledger_posting
  FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();

CREATE FUNCTION ledger_check_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  checked_entry uuid;
  posting_count integer;
  posting_sum numeric;
BEGIN
  IF TG_TABLE_NAME = 'ledger_posting' THEN checked_entry := NEW.entry_id; ELSE checked_entry := NEW.id; END IF;
  SELECT count(*), coalesce(sum(amount), 0) INTO posting_count, posting_sum
    FROM ledger_posting WHERE entry_id = checked_entry;
  IF posting_count < 2 OR posting_sum <> 0 THEN
    RAISE EXCEPTION 'journal entry % is unbalanced: % posting(s) summing to %', checked_entry, posting_count, posting_sum
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER ledger_posting_balanced AFTER INSERT ON ledger_posting
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_entry_balanced();
CREATE CONSTRAINT TRIGGER ledger_journalentry_balanced AFTER INSERT ON ledger_journalentry
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_entry_balanced();
"""

BACKWARD = """
DROP TRIGGER ledger_journalentry_balanced ON ledger_journalentry;
DROP TRIGGER ledger_posting_balanced ON ledger_posting;
DROP FUNCTION ledger_check_entry_balanced();
DROP TRIGGER ledger_posting_append_only ON ledger_posting;
DROP TRIGGER ledger_journalentry_append_only ON ledger_journalentry;
DROP FUNCTION ledger_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]

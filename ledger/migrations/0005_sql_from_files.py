"""The SQL moves to files (``<app>/sql/``, prepaid/sql.py): from here on, a function, type or
trigger is changed by editing its file and running ``makemigrations``.

State only: the objects exist already, created by earlier migrations with this same code
(``prepaid/tests/test_sql.py`` checks the database against the files), so nothing is run
forwards or backwards; django-migrate-sql learns what the database holds.
"""

import django_migrate_sql.operations
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('ledger', '0004_idempotency_key_not_unique_on_entries'),
    ]

    operations = [migrations.SeparateDatabaseAndState(state_operations=[
        django_migrate_sql.operations.CreateSQL(
            name='ledger_entry_append',
            sql="-- A journal entry with its postings, checked before it is written (two or more postings, none zero,\n-- summing to zero, a positive amount); the deferred triggers check it again at commit.\nCREATE OR REPLACE FUNCTION ledger_entry_append(\n  p_entry_id uuid, p_kind text, p_user_id integer, p_amount bigint, p_balance_after bigint,\n  p_account_ids bigint[], p_amounts bigint[], p_reverses_id uuid, p_payment_key text, p_order_id text,\n  p_description text, p_idempotency_key text, p_created_at timestamptz\n) RETURNS void LANGUAGE plpgsql AS $$\nBEGIN\n  IF cardinality(p_account_ids) < 2 OR cardinality(p_account_ids) IS DISTINCT FROM cardinality(p_amounts) THEN\n    RAISE EXCEPTION 'ledger: a journal entry needs two or more postings, got % account(s) and % amount(s)',\n      cardinality(p_account_ids), cardinality(p_amounts) USING ERRCODE = 'check_violation';\n  END IF;\n  IF 0 = ANY(p_amounts) THEN\n    RAISE EXCEPTION 'ledger: a posting amount is never zero: %', p_amounts USING ERRCODE = 'check_violation';\n  END IF;\n  IF (SELECT sum(a) FROM unnest(p_amounts) AS a) <> 0 THEN\n    RAISE EXCEPTION 'ledger: postings must sum to zero: %', p_amounts USING ERRCODE = 'check_violation';\n  END IF;\n  IF p_amount IS NULL OR p_amount <= 0 THEN\n    RAISE EXCEPTION 'ledger: an entry amount is positive won, got %', p_amount USING ERRCODE = 'check_violation';\n  END IF;\n  INSERT INTO ledger_journalentry (id, kind, user_id, amount, balance_after, reverses_id, payment_key, order_id,\n                                   description, idempotency_key, created_at)\n  VALUES (p_entry_id, p_kind, p_user_id, p_amount, p_balance_after, p_reverses_id, p_payment_key, p_order_id,\n          p_description, p_idempotency_key, p_created_at);\n  INSERT INTO ledger_posting (entry_id, account_id, amount)\n  SELECT p_entry_id, account_id, amount FROM unnest(p_account_ids, p_amounts) AS leg(account_id, amount);\nEND $$;\n",
            reverse_sql='DROP FUNCTION ledger_entry_append(uuid, text, integer, bigint, bigint, bigint[], bigint[], uuid, text, text, text, text, timestamptz);',
        ),
        django_migrate_sql.operations.CreateSQL(
            name='ledger_check_entry_balanced',
            sql="-- At commit (deferred constraint triggers), every journal entry written in the transaction has two or\n-- more postings summing to zero, whatever code wrote it.\nCREATE OR REPLACE FUNCTION ledger_check_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$\nDECLARE\n  checked_entry uuid;\n  posting_count integer;\n  posting_sum numeric;\nBEGIN\n  IF TG_TABLE_NAME = 'ledger_posting' THEN checked_entry := NEW.entry_id; ELSE checked_entry := NEW.id; END IF;\n  SELECT count(*), coalesce(sum(amount), 0) INTO posting_count, posting_sum\n    FROM ledger_posting WHERE entry_id = checked_entry;\n  IF posting_count < 2 OR posting_sum <> 0 THEN\n    RAISE EXCEPTION 'journal entry % is unbalanced: % posting(s) summing to %', checked_entry, posting_count, posting_sum\n      USING ERRCODE = 'check_violation';\n  END IF;\n  RETURN NULL;\nEND $$;\n",
            reverse_sql='DROP FUNCTION ledger_check_entry_balanced();',
        ),
        django_migrate_sql.operations.CreateSQL(
            name='ledger_system_account_id',
            sql="-- A system account's id by its code, the account created on first use. Looked up inside the caller's\n-- statement (an index probe, no round trip), so no process keeps an id the database may no longer have.\nCREATE OR REPLACE FUNCTION ledger_system_account_id(p_code text, p_kind text, p_currency text) RETURNS bigint\nLANGUAGE plpgsql AS $$\nDECLARE\n  found bigint;\nBEGIN\n  SELECT id INTO found FROM ledger_account WHERE code = p_code;\n  IF found IS NULL THEN\n    INSERT INTO ledger_account (code, kind, currency, created_at) VALUES (p_code, p_kind, p_currency, now())\n    ON CONFLICT (code) DO NOTHING;\n    SELECT id INTO found FROM ledger_account WHERE code = p_code;\n  END IF;\n  RETURN found;\nEND $$;\n",
            reverse_sql='DROP FUNCTION ledger_system_account_id(text, text, text);',
        ),
        django_migrate_sql.operations.CreateSQL(
            name='ledger_refuse_change',
            sql="-- The append-only triggers' function.\nCREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n  RAISE EXCEPTION 'the ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME\n    USING ERRCODE = 'restrict_violation';\nEND $$;\n",
            reverse_sql='DROP FUNCTION ledger_refuse_change();',
        ),
        django_migrate_sql.operations.CreateSQL(
            name='ledger_posting_balanced',
            sql='-- Postings that leave their entry unbalanced fail at commit.\nCREATE CONSTRAINT TRIGGER ledger_posting_balanced AFTER INSERT ON ledger_posting\n  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_entry_balanced();\n',
            reverse_sql='DROP TRIGGER ledger_posting_balanced ON ledger_posting;',
            dependencies=[('ledger', 'ledger_check_entry_balanced')],
        ),
        django_migrate_sql.operations.CreateSQL(
            name='ledger_journalentry_balanced',
            sql='-- An entry written without its postings fails at commit.\nCREATE CONSTRAINT TRIGGER ledger_journalentry_balanced AFTER INSERT ON ledger_journalentry\n  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_entry_balanced();\n',
            reverse_sql='DROP TRIGGER ledger_journalentry_balanced ON ledger_journalentry;',
            dependencies=[('ledger', 'ledger_check_entry_balanced')],
        ),
        django_migrate_sql.operations.CreateSQL(
            name='ledger_posting_append_only',
            sql='-- Postings are append-only: UPDATE and DELETE raise.\nCREATE TRIGGER ledger_posting_append_only BEFORE UPDATE OR DELETE ON ledger_posting\n  FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();\n',
            reverse_sql='DROP TRIGGER ledger_posting_append_only ON ledger_posting;',
            dependencies=[('ledger', 'ledger_refuse_change')],
        ),
        django_migrate_sql.operations.CreateSQL(
            name='ledger_journalentry_append_only',
            sql="-- Journal entries are append-only: UPDATE and DELETE raise (TRUNCATE, an administrator's tool, is left alone).\nCREATE TRIGGER ledger_journalentry_append_only BEFORE UPDATE OR DELETE ON ledger_journalentry\n  FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();\n",
            reverse_sql='DROP TRIGGER ledger_journalentry_append_only ON ledger_journalentry;',
            dependencies=[('ledger', 'ledger_refuse_change')],
        ),
    ])]

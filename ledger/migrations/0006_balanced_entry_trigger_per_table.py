"""The balanced-entry check becomes one function (ledger/sql/ledger_entry_balance_check.sql) with a trigger
function per table, so that plpgsql_check can check each against its table (one function read NEW.entry_id or
NEW.id by TG_TABLE_NAME)."""

import django_migrate_sql.operations
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('ledger', '0005_sql_from_files'),
    ]

    operations = [
        django_migrate_sql.operations.ReverseAlterSQL(
            name='ledger_posting_balanced',
            sql='DROP TRIGGER ledger_posting_balanced ON ledger_posting;',
            reverse_sql='-- Postings that leave their entry unbalanced fail at commit.\nCREATE CONSTRAINT TRIGGER ledger_posting_balanced AFTER INSERT ON ledger_posting\n  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_entry_balanced();\n',
        ),
        django_migrate_sql.operations.AlterSQL(
            name='ledger_check_entry_balanced',
            sql='-- At commit (a deferred constraint trigger), a journal entry written without its postings fails.\nCREATE OR REPLACE FUNCTION ledger_check_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n  PERFORM ledger_entry_balance_check(NEW.id);\n  RETURN NULL;\nEND $$;\n',
            reverse_sql="-- At commit (deferred constraint triggers), every journal entry written in the transaction has two or\n-- more postings summing to zero, whatever code wrote it.\nCREATE OR REPLACE FUNCTION ledger_check_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$\nDECLARE\n  checked_entry uuid;\n  posting_count integer;\n  posting_sum numeric;\nBEGIN\n  IF TG_TABLE_NAME = 'ledger_posting' THEN checked_entry := NEW.entry_id; ELSE checked_entry := NEW.id; END IF;\n  SELECT count(*), coalesce(sum(amount), 0) INTO posting_count, posting_sum\n    FROM ledger_posting WHERE entry_id = checked_entry;\n  IF posting_count < 2 OR posting_sum <> 0 THEN\n    RAISE EXCEPTION 'journal entry % is unbalanced: % posting(s) summing to %', checked_entry, posting_count, posting_sum\n      USING ERRCODE = 'check_violation';\n  END IF;\n  RETURN NULL;\nEND $$;\n",
            state_reverse_sql='DROP FUNCTION ledger_check_entry_balanced();',
        ),
        django_migrate_sql.operations.CreateSQL(
            name='ledger_check_posting_balanced',
            sql='-- At commit (a deferred constraint trigger), postings that leave their entry unbalanced fail.\nCREATE OR REPLACE FUNCTION ledger_check_posting_balanced() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n  PERFORM ledger_entry_balance_check(NEW.entry_id);\n  RETURN NULL;\nEND $$;\n',
            reverse_sql='DROP FUNCTION ledger_check_posting_balanced();',
        ),
        django_migrate_sql.operations.CreateSQL(
            name='ledger_entry_balance_check',
            sql="-- An entry has two or more postings summing to zero, or this raises (check_violation). Called at commit by\n-- the balanced-entry triggers, whatever code wrote the entry.\nCREATE OR REPLACE FUNCTION ledger_entry_balance_check(p_entry_id uuid) RETURNS void LANGUAGE plpgsql AS $$\nDECLARE\n  posting_count integer;\n  posting_sum numeric;\nBEGIN\n  SELECT count(*), coalesce(sum(amount), 0) INTO posting_count, posting_sum\n    FROM ledger_posting WHERE entry_id = p_entry_id;\n  IF posting_count < 2 OR posting_sum <> 0 THEN\n    RAISE EXCEPTION 'journal entry % is unbalanced: % posting(s) summing to %', p_entry_id, posting_count, posting_sum\n      USING ERRCODE = 'check_violation';\n  END IF;\nEND $$;\n",
            reverse_sql='DROP FUNCTION ledger_entry_balance_check(uuid);',
        ),
        django_migrate_sql.operations.AlterSQL(
            name='ledger_posting_balanced',
            sql='-- Postings that leave their entry unbalanced fail at commit.\nCREATE CONSTRAINT TRIGGER ledger_posting_balanced AFTER INSERT ON ledger_posting\n  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_posting_balanced();\n',
            reverse_sql='DROP TRIGGER ledger_posting_balanced ON ledger_posting;',
        ),
        django_migrate_sql.operations.AlterSQLState(
            name='ledger_posting_balanced',
            add_dependencies=(('ledger', 'ledger_check_posting_balanced'),),
            remove_dependencies=(('ledger', 'ledger_check_entry_balanced'),),
        ),
    ]

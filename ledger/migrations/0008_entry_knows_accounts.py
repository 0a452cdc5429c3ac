"""The ledger knows accounts, not wallets: a journal entry is an id, a kind, a description and a time;
its wallet fields (kept in wallets_operation since wallets 0008) go. Reversible: back, they are
filled again from the operations and the wallet postings."""

import django.db.models.deletion
import django_migrate_sql.operations
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('ledger', '0007_posting_balance_after_and_time'),
        ('wallets', '0009_operations_in_sql'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='journalentry',
            name='entry_amount_positive',
        ),
        migrations.RemoveConstraint(
            model_name='journalentry',
            name='entry_balance_after_non_negative',
        ),
        migrations.RemoveConstraint(
            model_name='journalentry',
            name='entry_reverses_only_for_reversals',
        ),
        migrations.RemoveConstraint(
            model_name='journalentry',
            name='entry_charge_order_unique',
        ),
        migrations.RemoveIndex(
            model_name='journalentry',
            name='entry_user_created_idx',
        ),
        migrations.AlterField(
            model_name='journalentry',
            name='user',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='journal_entries', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name='journalentry',
            name='amount',
            field=models.BigIntegerField(null=True),
        ),
        migrations.AlterField(
            model_name='journalentry',
            name='balance_after',
            field=models.BigIntegerField(null=True),
        ),
        migrations.RunSQL(
            sql='',
            reverse_sql="\n-- Back: the wallet fields return to the journal entries, the balance after from the wallet posting.\nALTER TABLE ledger_journalentry DISABLE TRIGGER ledger_journalentry_append_only;\nUPDATE ledger_journalentry e\n   SET user_id = o.user_id, amount = o.amount, reverses_id = o.reverses_id, payment_key = o.payment_key,\n       order_id = o.order_id, idempotency_key = o.idempotency_key,\n       balance_after = (SELECT p.balance_after FROM ledger_posting p JOIN ledger_account a ON a.id = p.account_id\n                         WHERE p.entry_id = e.id AND a.code = 'wallet:' || o.user_id)\n  FROM wallets_operation o\n WHERE o.id = e.id;\nALTER TABLE ledger_journalentry ENABLE TRIGGER ledger_journalentry_append_only;\n",
        ),
        migrations.RemoveField(
            model_name='journalentry',
            name='amount',
        ),
        migrations.RemoveField(
            model_name='journalentry',
            name='balance_after',
        ),
        migrations.RemoveField(
            model_name='journalentry',
            name='idempotency_key',
        ),
        migrations.RemoveField(
            model_name='journalentry',
            name='order_id',
        ),
        migrations.RemoveField(
            model_name='journalentry',
            name='payment_key',
        ),
        migrations.RemoveField(
            model_name='journalentry',
            name='reverses',
        ),
        migrations.RemoveField(
            model_name='journalentry',
            name='user',
        ),
        migrations.AlterField(
            model_name='posting',
            name='created_at',
            field=models.DateTimeField(),
        ),
        migrations.AddIndex(
            model_name='posting',
            index=models.Index(fields=['account', 'created_at'], name='posting_account_time_idx'),
        ),
        django_migrate_sql.operations.AlterSQL(
            name='ledger_entry_append',
            sql="-- A journal entry with its postings, checked before it is written (two or more postings, none zero,\n-- summing to zero); the deferred triggers check it again at commit. p_balances_after: each account's\n-- balance after its posting, where the writer keeps it (a wallet's, under its lock), else NULL.\nCREATE OR REPLACE FUNCTION ledger_entry_append(\n  p_entry_id uuid, p_kind text, p_description text, p_created_at timestamptz,\n  p_account_ids bigint[], p_amounts bigint[], p_balances_after bigint[]\n) RETURNS void LANGUAGE plpgsql AS $$\nBEGIN\n  IF cardinality(p_account_ids) < 2 OR cardinality(p_account_ids) IS DISTINCT FROM cardinality(p_amounts)\n     OR cardinality(p_account_ids) IS DISTINCT FROM cardinality(p_balances_after) THEN\n    RAISE EXCEPTION 'ledger: a journal entry needs two or more postings, got % account(s), % amount(s), % balance(s)',\n      cardinality(p_account_ids), cardinality(p_amounts), cardinality(p_balances_after) USING ERRCODE = 'check_violation';\n  END IF;\n  IF 0 = ANY(p_amounts) THEN\n    RAISE EXCEPTION 'ledger: a posting amount is never zero: %', p_amounts USING ERRCODE = 'check_violation';\n  END IF;\n  IF (SELECT sum(a) FROM unnest(p_amounts) AS a) <> 0 THEN\n    RAISE EXCEPTION 'ledger: postings must sum to zero: %', p_amounts USING ERRCODE = 'check_violation';\n  END IF;\n  INSERT INTO ledger_journalentry (id, kind, description, created_at)\n  VALUES (p_entry_id, p_kind, p_description, p_created_at);\n  INSERT INTO ledger_posting (entry_id, account_id, amount, balance_after, created_at)\n  SELECT p_entry_id, account_id, amount, balance_after, p_created_at\n    FROM unnest(p_account_ids, p_amounts, p_balances_after) AS leg(account_id, amount, balance_after);\nEND $$;\n",
            reverse_sql="-- A journal entry with its postings, checked before it is written (two or more postings, none zero,\n-- summing to zero, a positive amount); the deferred triggers check it again at commit.\nCREATE OR REPLACE FUNCTION ledger_entry_append(\n  p_entry_id uuid, p_kind text, p_user_id integer, p_amount bigint, p_balance_after bigint,\n  p_account_ids bigint[], p_amounts bigint[], p_reverses_id uuid, p_payment_key text, p_order_id text,\n  p_description text, p_idempotency_key text, p_created_at timestamptz\n) RETURNS void LANGUAGE plpgsql AS $$\nBEGIN\n  IF cardinality(p_account_ids) < 2 OR cardinality(p_account_ids) IS DISTINCT FROM cardinality(p_amounts) THEN\n    RAISE EXCEPTION 'ledger: a journal entry needs two or more postings, got % account(s) and % amount(s)',\n      cardinality(p_account_ids), cardinality(p_amounts) USING ERRCODE = 'check_violation';\n  END IF;\n  IF 0 = ANY(p_amounts) THEN\n    RAISE EXCEPTION 'ledger: a posting amount is never zero: %', p_amounts USING ERRCODE = 'check_violation';\n  END IF;\n  IF (SELECT sum(a) FROM unnest(p_amounts) AS a) <> 0 THEN\n    RAISE EXCEPTION 'ledger: postings must sum to zero: %', p_amounts USING ERRCODE = 'check_violation';\n  END IF;\n  IF p_amount IS NULL OR p_amount <= 0 THEN\n    RAISE EXCEPTION 'ledger: an entry amount is positive won, got %', p_amount USING ERRCODE = 'check_violation';\n  END IF;\n  INSERT INTO ledger_journalentry (id, kind, user_id, amount, balance_after, reverses_id, payment_key, order_id,\n                                   description, idempotency_key, created_at)\n  VALUES (p_entry_id, p_kind, p_user_id, p_amount, p_balance_after, p_reverses_id, p_payment_key, p_order_id,\n          p_description, p_idempotency_key, p_created_at);\n  INSERT INTO ledger_posting (entry_id, account_id, amount)\n  SELECT p_entry_id, account_id, amount FROM unnest(p_account_ids, p_amounts) AS leg(account_id, amount);\nEND $$;\n",
            state_reverse_sql='DROP FUNCTION ledger_entry_append(uuid, text, text, timestamptz, bigint[], bigint[], bigint[]);',
        ),
        migrations.RunSQL(
            sql='DROP FUNCTION ledger_entry_append(uuid, text, integer, bigint, bigint, bigint[], bigint[], uuid, text, text, text, text, timestamptz);',
            reverse_sql='DROP FUNCTION ledger_entry_append(uuid, text, text, timestamptz, bigint[], bigint[], bigint[]);',
        ),
    ]

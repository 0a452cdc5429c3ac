"""Wallet operations: what made a journal entry a wallet operation moves out of the ledger into
wallets_operation (same ids), and each wallet posting takes the balance after it."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('auth', '__first__'),
        ('ledger', '0007_posting_balance_after_and_time'),
        ('wallets', '0007_wallet_reversible_amount'),
    ]

    operations = [
        migrations.CreateModel(
            name='Operation',
            fields=[
                ('entry', models.OneToOneField(db_column='id', on_delete=django.db.models.deletion.PROTECT, primary_key=True, related_name='operation', serialize=False, to='ledger.journalentry')),
                ('kind', models.CharField(choices=[('CHARGE', 'Charge'), ('SPEND', 'Spend'), ('REVERSAL', 'Reversal')], max_length=16)),
                ('amount', models.BigIntegerField()),
                ('payment_key', models.CharField(blank=True, default='', max_length=200)),
                ('order_id', models.CharField(blank=True, default='', max_length=64)),
                ('description', models.CharField(blank=True, default='', max_length=500)),
                ('idempotency_key', models.CharField(blank=True, default='', max_length=255)),
                ('created_at', models.DateTimeField()),
            ],
            options={
                'ordering': ['-created_at', '-entry'],
            },
        ),
        migrations.AddField(
            model_name='operation',
            name='reverses',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='reversals', to='wallets.operation'),
        ),
        migrations.AddField(
            model_name='operation',
            name='user',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='wallet_operations', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddIndex(
            model_name='operation',
            index=models.Index(fields=['user', '-created_at'], name='operation_user_created_idx'),
        ),
        migrations.AddConstraint(
            model_name='operation',
            constraint=models.CheckConstraint(condition=models.Q(('amount__gt', 0)), name='operation_amount_positive'),
        ),
        migrations.AddConstraint(
            model_name='operation',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('kind', 'REVERSAL'), ('reverses__isnull', False)), models.Q(models.Q(('kind', 'REVERSAL'), _negated=True), ('reverses__isnull', True)), _connector='OR'), name='operation_reverses_only_for_reversals'),
        ),
        migrations.AddConstraint(
            model_name='operation',
            constraint=models.UniqueConstraint(condition=models.Q(('kind', 'CHARGE')), fields=('order_id',), name='operation_charge_order_unique'),
        ),
        migrations.RunSQL(
            sql="\n-- Every journal entry so far is one wallet operation: its wallet fields move to wallets_operation,\n-- and its balance after becomes the wallet posting's; every posting takes its entry's time.\nINSERT INTO wallets_operation (id, kind, user_id, amount, reverses_id, payment_key, order_id, description,\n                               idempotency_key, created_at)\nSELECT id, kind, user_id, amount, reverses_id, payment_key, order_id, description, idempotency_key, created_at\n  FROM ledger_journalentry ORDER BY created_at, id;\nALTER TABLE ledger_posting DISABLE TRIGGER ledger_posting_append_only;\nUPDATE ledger_posting p\n   SET created_at = e.created_at,\n       balance_after = CASE WHEN a.code = 'wallet:' || e.user_id THEN e.balance_after END\n  FROM ledger_journalentry e, ledger_account a\n WHERE e.id = p.entry_id AND a.id = p.account_id;\nALTER TABLE ledger_posting ENABLE TRIGGER ledger_posting_append_only;\n",
            reverse_sql='',
        ),
    ]

"""Idempotency records keep the answer itself (the entry, or a refusal's code and detail), not a
rendered HTTP response: the SQL operations of migration 0003 write it in the operation's own
transaction, and the API renders it the same way the first time and on every replay.

Existing records: a completed success keeps its entry (from the recorded body's transactionId).
Refusals and keys still in flight are dropped: no money moved for them, so a retry is decided
afresh (a refusal may then succeed if the balance changed meanwhile).
"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


def keep_successful_answers(apps, schema_editor):
    IdempotencyRecord = apps.get_model("wallets", "IdempotencyRecord")
    JournalEntry = apps.get_model("ledger", "JournalEntry")
    for record in IdempotencyRecord.objects.filter(response_status=201).iterator():
        transaction_id = (record.response_body or {}).get("transactionId")
        entry = JournalEntry.objects.filter(id=transaction_id, user_id=record.user_id).first() if transaction_id else None
        if entry is None:
            record.delete()
        else:
            IdempotencyRecord.objects.filter(id=record.id).update(entry=entry)
    IdempotencyRecord.objects.exclude(response_status=201).delete()


class Migration(migrations.Migration):

    dependencies = [
        ('ledger', '0002_append_only_and_balanced_triggers'),
        ('wallets', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='idempotencyrecord',
            name='entry',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT,
                                    related_name='+', to='ledger.journalentry'),
        ),
        migrations.AddField(
            model_name='idempotencyrecord',
            name='error_code',
            field=models.CharField(blank=True, default='', max_length=64),
        ),
        migrations.AddField(
            model_name='idempotencyrecord',
            name='error_detail',
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.RunPython(keep_successful_answers, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name='idempotencyrecord',
            name='method',
        ),
        migrations.RemoveField(
            model_name='idempotencyrecord',
            name='path',
        ),
        migrations.RemoveField(
            model_name='idempotencyrecord',
            name='response_body',
        ),
        migrations.RemoveField(
            model_name='idempotencyrecord',
            name='response_status',
        ),
        migrations.AlterField(
            model_name='idempotencyrecord',
            name='created_at',
            field=models.DateTimeField(db_index=True, default=django.utils.timezone.now),
        ),
    ]

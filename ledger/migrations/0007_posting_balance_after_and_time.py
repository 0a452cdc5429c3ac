"""Postings gain their account's balance after them and their entry's time (filled by wallets 0008)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('ledger', '0006_balanced_entry_trigger_per_table'),
    ]

    operations = [
        migrations.AddField(
            model_name='posting',
            name='balance_after',
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='posting',
            name='created_at',
            field=models.DateTimeField(null=True),
        ),
        migrations.AlterField(
            model_name='journalentry',
            name='kind',
            field=models.CharField(max_length=32),
        ),
    ]

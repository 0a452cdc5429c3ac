"""API tokens moved to django-rest-knox (stored hashed). DRF's authtoken table held each
token in plain text: it goes, with every token in it (their users create new ones)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("knox", "0009_extend_authtoken_field")]

    operations = [
        migrations.RunSQL("DROP TABLE IF EXISTS authtoken_token", reverse_sql=migrations.RunSQL.noop),
    ]

from django.db import migrations


class Migration(migrations.Migration):
    """The sign-in log (django-axes' access log, a row per sign-in) is purged by its time
    (accounts.services.sign_in_records_purge): an index on it, so that each batch is found, not scanned for."""

    dependencies = [("accounts", "0004_field_labels"), ("axes", "0010_accessattemptexpiration")]

    operations = [
        migrations.RunSQL("CREATE INDEX IF NOT EXISTS access_log_time_idx ON axes_accesslog (attempt_time)",
                          reverse_sql="DROP INDEX IF EXISTS access_log_time_idx"),
    ]

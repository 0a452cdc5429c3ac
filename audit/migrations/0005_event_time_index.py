from django.db import migrations


class Migration(migrations.Migration):
    """The staff list and the admin read the newest events first across users: an index on the time (on the
    partitioned table: one on each partition, and on those created later)."""

    dependencies = [("audit", "0004_field_labels")]

    operations = [
        migrations.RunSQL("CREATE INDEX audit_event_time_idx ON audit_auditevent (occurred_at)",
                          reverse_sql="DROP INDEX audit_event_time_idx"),
    ]

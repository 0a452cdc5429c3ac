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
        ('outbox', '0003_outbox_event_record'),
    ]

    operations = [migrations.SeparateDatabaseAndState(state_operations=[
        django_migrate_sql.operations.CreateSQL(
            name='outbox_event_record',
            sql="-- The outbox's one write, for writers that are themselves SQL (the wallet operations).\nCREATE OR REPLACE FUNCTION outbox_event_record(p_event_id uuid, p_event_type text, p_topic text, p_key text, p_payload jsonb)\nRETURNS void LANGUAGE sql AS $$\n  INSERT INTO outbox_outboxevent (event_id, event_type, topic, key, payload, created_at, attempts, last_error)\n  VALUES (p_event_id, p_event_type, p_topic, p_key, p_payload, clock_timestamp(), 0, '');\n$$;\n",
            reverse_sql='DROP FUNCTION outbox_event_record(uuid, text, text, text, jsonb);',
        ),
    ])]

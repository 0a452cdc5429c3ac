"""The outbox's one write, as a PostgreSQL function, for writers that are themselves SQL
(the wallet operations, wallets migration 0003). ``outbox.services.outbox_event_record``
is the same write from Python."""

from django.db import migrations

FORWARD = """
CREATE FUNCTION outbox_event_record(p_event_id uuid, p_event_type text, p_topic text, p_key text, p_payload jsonb)
RETURNS void LANGUAGE sql AS $$
  INSERT INTO outbox_outboxevent (event_id, event_type, topic, key, payload, created_at, attempts, last_error)
  VALUES (p_event_id, p_event_type, p_topic, p_key, p_payload, clock_timestamp(), 0, '');
$$;
"""

BACKWARD = "DROP FUNCTION outbox_event_record(uuid, text, text, text, jsonb);"


class Migration(migrations.Migration):
    dependencies = [("outbox", "0002_event_id_stored_once_headers_derived")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]

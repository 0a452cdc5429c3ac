-- The outbox's one write, for writers that are themselves SQL (the wallet operations).
CREATE OR REPLACE FUNCTION outbox_event_record(p_event_id uuid, p_event_type text, p_topic text, p_key text, p_payload jsonb)
RETURNS void LANGUAGE sql AS $$
  INSERT INTO outbox_outboxevent (event_id, event_type, topic, key, payload, created_at, attempts, last_error)
  VALUES (p_event_id, p_event_type, p_topic, p_key, p_payload, clock_timestamp(), 0, '');
$$;

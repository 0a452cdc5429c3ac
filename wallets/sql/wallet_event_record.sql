-- A wallet event in the outbox, keyed by its user: the envelope every event type shares
-- (prepaid/events.py, prepaid/schemas/wallet-event.v1.schema.json) and p_fields, its type's own; a hold's
-- placement and release have no journal entry (p_entry_id NULL: no transactionId).
CREATE OR REPLACE FUNCTION wallet_event_record(
  p_event_id uuid, p_event_type text, p_topic text, p_user_id integer, p_entry_id uuid, p_new_balance bigint,
  p_occurred timestamptz, p_fields jsonb, p_metadata jsonb
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM outbox_event_record(
    p_event_id, p_event_type, p_topic, p_user_id::text,
    jsonb_build_object(
      'schemaVersion', 1,
      'eventType', p_event_type,
      'userId', p_user_id,
      'occurredAt', to_char(p_occurred AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),
      'metadata', jsonb_strip_nulls(jsonb_build_object('transactionId', p_entry_id, 'currency', 'KRW')) || p_metadata,
      'newBalance', p_new_balance
    ) || p_fields
  );
END $$;

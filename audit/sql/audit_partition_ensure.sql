-- The month partition of the audit store that holds p_at, created if missing; returns its name.
CREATE OR REPLACE FUNCTION audit_partition_ensure(p_at timestamptz) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  month_start timestamptz := date_trunc('month', p_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
  name text := 'audit_auditevent_p' || to_char(p_at AT TIME ZONE 'UTC', 'YYYYMM');
BEGIN
  IF to_regclass(name) IS NULL THEN
    EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF audit_auditevent FOR VALUES FROM (%L) TO (%L)',
                   name, month_start, month_start + interval '1 month');
  END IF;
  RETURN name;
END $$;

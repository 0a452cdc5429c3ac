-- A system account's id by its code, the account created on first use. Looked up inside the caller's
-- statement (an index probe, no round trip), so no process keeps an id the database may no longer have.
CREATE OR REPLACE FUNCTION ledger_system_account_id(p_code text, p_kind text, p_currency text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  found bigint;
BEGIN
  SELECT id INTO found FROM ledger_account WHERE code = p_code;
  IF found IS NULL THEN
    INSERT INTO ledger_account (code, kind, currency, created_at) VALUES (p_code, p_kind, p_currency, now())
    ON CONFLICT (code) DO NOTHING;
    SELECT id INTO found FROM ledger_account WHERE code = p_code;
  END IF;
  RETURN found;
END $$;

-- A limit of a verification tier, from the limits the caller passes (settings: WALLET_BALANCE_MAX_<TIER>_WON,
-- TRANSFER_DAILY_MAX_<TIER>_WON), e.g. {"unverified": {"balanceMax": 500000, "transferDailyMax": 500000}, ...}.
-- A tier or limit missing from them is an error, never "no limit".
CREATE OR REPLACE FUNCTION wallet_tier_limit(p_limits jsonb, p_tier text, p_name text)
RETURNS bigint LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  found bigint := (p_limits -> p_tier ->> p_name)::bigint;
BEGIN
  IF found IS NULL THEN
    RAISE EXCEPTION 'no limit % for the tier % in %', p_name, p_tier, p_limits;
  END IF;
  RETURN found;
END $$;

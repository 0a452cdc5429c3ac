-- The expiry sweep, for one hold: if it is still active and past its expiry, what is left is released
-- (HOLD_RELEASED, reason expired). The wallet is locked before the hold, as a capture locks them: a
-- capture racing the expiry waits for it or wins before it, and what one takes the other cannot.
-- Returns whether it expired the hold.
CREATE OR REPLACE FUNCTION wallet_hold_expire(p_hold_id uuid, p_event_id uuid, p_topic text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  hold wallets_hold;
BEGIN
  PERFORM 1 FROM wallets_wallet WHERE user_id = (SELECT user_id FROM wallets_hold WHERE id = p_hold_id) FOR UPDATE;
  SELECT * INTO hold FROM wallets_hold WHERE id = p_hold_id FOR UPDATE;
  IF hold.status IS DISTINCT FROM 'ACTIVE' OR hold.expires_at IS NULL OR hold.expires_at > now() THEN
    RETURN false;
  END IF;
  PERFORM wallet_hold_release(hold, 'EXPIRED', p_event_id, p_topic);
  RETURN true;
END $$;

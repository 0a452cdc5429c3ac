-- End a locked active hold without capturing what is left (p_status VOIDED or EXPIRED): the available
-- balance rises by it. A client's hold tells its user (HOLD_RELEASED); a refund's is internal.
CREATE OR REPLACE FUNCTION wallet_hold_release(p_hold wallets_hold, p_status text, p_event_id uuid, p_topic text)
RETURNS wallets_hold LANGUAGE plpgsql AS $$
DECLARE
  released wallets_hold;
  wallet wallets_wallet;
BEGIN
  UPDATE wallets_hold SET status = p_status, ended_at = clock_timestamp() WHERE id = p_hold.id
  RETURNING * INTO released;
  IF released.purpose = 'CLIENT' THEN
    SELECT * INTO wallet FROM wallets_wallet WHERE user_id = released.user_id;
    PERFORM wallet_event_record(p_event_id, 'HOLD_RELEASED', p_topic, released.user_id, NULL, wallet.balance,
      released.ended_at, jsonb_build_object('holdId', released.id, 'releasedAmount', released.amount - released.captured,
                                            'reason', lower(p_status),
                                            'availableBalance', wallet.balance - wallet_held(released.user_id)), '{}');
  END IF;
  RETURN released;
END $$;

-- Expire what of the wallet is older than p_validity (wallet_fresh_amount: oldest spent first), as far as
-- the available balance goes (held money is promised; it expires once released): an EXPIRY entry moves it
-- to the user's expired-balance account, BALANCE_EXPIRED tells the user what is refundable and until when.
-- Nothing due: refused 'nothing_expired'.
CREATE OR REPLACE FUNCTION wallet_expire(
  p_user_id integer, p_validity interval, p_refundable interval, p_refund_percent integer, p_entry_id uuid,
  p_event_id uuid, p_topic text
) RETURNS wallet_operation_result LANGUAGE plpgsql AS $$
DECLARE
  wallet wallets_wallet;
  due bigint;
BEGIN
  SELECT * INTO wallet FROM wallets_wallet WHERE user_id = p_user_id FOR UPDATE;
  due := greatest(0, least(wallet.balance - wallet_fresh_amount(p_user_id, clock_timestamp() - p_validity),
                           wallet.balance - wallet_held(p_user_id)));
  IF wallet.id IS NULL OR due = 0 THEN
    RETURN wallet_refusal('nothing_expired', NULL);
  END IF;
  RETURN wallet_entry_apply(
    wallet, 'EXPIRY', -due, wallet_expired_account(p_user_id), p_entry_id, p_event_id, 'BALANCE_EXPIRED',
    jsonb_build_object('amount', due, 'refundablePercent', p_refund_percent,
                       'refundableUntil', to_char((clock_timestamp() + p_refundable) AT TIME ZONE 'UTC',
                                                  'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')),
    '{}', NULL, '', '', '', NULL, p_topic, NULL);
END $$;

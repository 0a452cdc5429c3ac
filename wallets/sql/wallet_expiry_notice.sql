-- Tell the user what of the wallet expires within p_days_before days (as wallet_expire will reckon it then,
-- if nothing else happens; held money is not counted: it expires, if ever, once released): an ExpiryNotice and its BALANCE_EXPIRY_NOTICE event, at most one for each
-- p_days_before in any p_days_before days. Returns the amount noticed (0: none due, or told already).
CREATE OR REPLACE FUNCTION wallet_expiry_notice(
  p_user_id integer, p_days_before double precision, p_validity interval, p_notice_id uuid, p_event_id uuid,
  p_topic text
) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  wallet wallets_wallet;
  ahead interval := p_days_before * interval '1 day';
  due bigint;
  created timestamptz := clock_timestamp();
BEGIN
  SELECT * INTO wallet FROM wallets_wallet WHERE user_id = p_user_id FOR UPDATE;
  due := greatest(0, coalesce(least(wallet.balance - wallet_fresh_amount(p_user_id, clock_timestamp() + ahead - p_validity),
                                    wallet.balance - wallet_held(p_user_id)), 0));
  IF due = 0 OR EXISTS (SELECT 1 FROM wallets_expirynotice WHERE user_id = p_user_id AND days_before = p_days_before
                                                               AND created_at > clock_timestamp() - ahead) THEN
    RETURN 0;
  END IF;
  INSERT INTO wallets_expirynotice (id, user_id, days_before, amount, expires_by, created_at)
  VALUES (p_notice_id, p_user_id, p_days_before, due, clock_timestamp() + ahead, created);
  PERFORM wallet_event_record(p_event_id, 'BALANCE_EXPIRY_NOTICE', p_topic, p_user_id, NULL, wallet.balance, created,
    jsonb_build_object('noticeId', p_notice_id, 'amount', due, 'daysBefore', p_days_before,
                       'expiresBy', to_char((clock_timestamp() + ahead) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')),
    '{}');
  RETURN due;
END $$;

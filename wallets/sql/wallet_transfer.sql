-- A transfer (송금) to another user's wallet, opened if it has none. Both wallets are locked in one
-- order, by wallet id, so A->B and B->A at once never deadlock. Refused: to oneself, more than the
-- sender's available balance (balance less what refunds and holds keep), beyond the daily limit of the
-- sender's tier (transfers since p_day_start), or beyond the balance cap of the recipient's tier. Final for the sender;
-- the recipient may return it (wallet_reverse).
CREATE OR REPLACE FUNCTION wallet_transfer(
  p_user_id integer, p_recipient_id integer, p_amount bigint, p_message text, p_key text, p_fingerprint text,
  p_entry_id uuid, p_sent_event_id uuid, p_received_event_id uuid, p_topic text, p_limits jsonb,
  p_day_start timestamptz, p_key_ttl interval, p_in_flight_timeout interval
) RETURNS wallet_operation_result LANGUAGE plpgsql AS $$
DECLARE
  answer wallet_operation_result;
  sender wallets_wallet;
  recipient wallets_wallet;
  sent_today bigint;
  daily_max bigint;
BEGIN
  IF p_key IS NOT NULL THEN
    answer := wallet_idempotency_claim(p_user_id, p_key, p_fingerprint, p_key_ttl, p_in_flight_timeout);
    IF answer.outcome IS NOT NULL THEN
      RETURN answer;
    END IF;
  END IF;
  IF p_recipient_id = p_user_id THEN
    RETURN wallet_idempotency_answer(p_user_id, p_key, wallet_refusal('transfer_to_self', NULL));
  END IF;
  PERFORM wallet_open(p_recipient_id, 'KRW');
  PERFORM 1 FROM wallets_wallet WHERE user_id IN (p_user_id, p_recipient_id) ORDER BY id FOR UPDATE;
  SELECT * INTO sender FROM wallets_wallet WHERE user_id = p_user_id;
  SELECT * INTO recipient FROM wallets_wallet WHERE user_id = p_recipient_id;
  daily_max := wallet_tier_limit(p_limits, coalesce(sender.tier, 'unverified'), 'transferDailyMax');  -- no wallet: a new one's
  sent_today := coalesce((SELECT sum(amount) FROM wallets_operation
                           WHERE user_id = p_user_id AND kind = 'TRANSFER' AND created_at >= p_day_start), 0);
  IF coalesce(sender.balance - wallet_held(p_user_id), 0) < p_amount THEN
    answer := wallet_refusal('insufficient_funds', jsonb_build_object(
      'amount', p_amount, 'balance', coalesce(sender.balance - wallet_held(p_user_id), 0)));
  ELSIF sent_today + p_amount > daily_max THEN
    answer := wallet_refusal('transfer_daily_limit_exceeded', jsonb_build_object(
      'amount', p_amount, 'dailyMax', daily_max, 'sentToday', sent_today, 'tier', sender.tier));
  ELSIF recipient.balance + p_amount > wallet_tier_limit(p_limits, recipient.tier, 'balanceMax') THEN
    answer := wallet_refusal('recipient_balance_limit_exceeded', jsonb_build_object('amount', p_amount));
  ELSE
    answer := wallet_transfer_apply(sender, recipient, p_amount, 'TRANSFER', NULL, p_message, p_key, p_entry_id,
                                    p_sent_event_id, p_received_event_id, p_topic);
  END IF;
  RETURN wallet_idempotency_answer(p_user_id, p_key, answer);
END $$;

-- A remaining-balance refund (잔액환불), its plan written in one transaction: the request; for what the wallet has
-- available (when the user may have it: p_ground 'used_share' and the last charge used enough, p_rules; or an
-- operator's ground), a card refund of each charge it can go back to, newest first (a held REQUESTED refund:
-- the refund saga of wallet_reverse), and a held payout to the bank account for the rest; and a payout of
-- p_rules' share of the expired balance. The caller then asks the gateways; the wallet is debited as each
-- completes (wallet_refund_complete, wallet_payout_complete), and wallet_refund_request_settle ends it.
-- REFUND_REQUESTED tells the user the plan. p_account_number comes sealed (prepaid/crypto.py), with its mask. The key is answered at once (a repeat finds the request by it).
CREATE OR REPLACE FUNCTION wallet_refund_request_begin(
  p_user_id integer, p_request_id uuid, p_ground text, p_by text, p_bank_code text, p_account_number text,
  p_account_masked text, p_holder_name text, p_rules jsonb, p_payout_gateway text, p_key text, p_fingerprint text, p_event_id uuid,
  p_topic text, p_key_ttl interval, p_in_flight_timeout interval, p_note text,
  p_expired_window interval
) RETURNS wallet_operation_result LANGUAGE plpgsql AS $$
DECLARE
  answer wallet_operation_result;
  wallet wallets_wallet;
  found_id uuid;
  last_charge record;
  used bigint := 0;
  required integer;
  eligible boolean;
  available bigint;
  amount bigint;
  expired bigint;
  expired_refund bigint;
  to_cards bigint := 0;
  charge record;
  take bigint;
  refund_id uuid;
  card_payments bigint[] := ARRAY[]::bigint[];
  card_amounts bigint[] := ARRAY[]::bigint[];
  created timestamptz := clock_timestamp();
BEGIN
  IF p_key IS NOT NULL THEN
    answer := wallet_idempotency_claim(p_user_id, p_key, p_fingerprint, p_key_ttl, p_in_flight_timeout);
    IF answer.outcome = 'replayed' AND coalesce(answer.error_code, '') = '' THEN
      SELECT id INTO found_id FROM wallets_refundrequest WHERE user_id = p_user_id AND idempotency_key = p_key
       ORDER BY created_at DESC LIMIT 1;
      RETURN ROW('replayed', NULL, NULL, found_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                 NULL)::wallet_operation_result;
    ELSIF answer.outcome IS NOT NULL THEN
      RETURN answer;
    END IF;
  END IF;
  SELECT * INTO wallet FROM wallets_wallet WHERE user_id = p_user_id FOR UPDATE;
  SELECT id INTO found_id FROM wallets_refundrequest WHERE user_id = p_user_id AND status = 'PROCESSING';
  IF found_id IS NOT NULL THEN
    RETURN wallet_idempotency_answer(p_user_id, p_key,
      wallet_refusal('refund_request_open', jsonb_build_object('requestId', found_id)));
  END IF;
  available := coalesce(wallet.balance - wallet_held(p_user_id), 0);
  expired := wallet_expired_refundable(p_user_id, p_expired_window);
  expired_refund := ceil(expired * (p_rules->>'expiredRefundPercent')::integer / 100.0)::bigint;
  -- The last charge not reversed in full, and what was used since it (spends and captures, less their reversals).
  SELECT o.id, o.created_at,
         o.amount - coalesce((SELECT sum(r.amount) FROM wallets_operation r WHERE r.reverses_id = o.id), 0) AS net
    INTO last_charge
    FROM wallets_operation o
   WHERE o.user_id = p_user_id AND o.kind = 'CHARGE'
     AND o.amount > coalesce((SELECT sum(r.amount) FROM wallets_operation r WHERE r.reverses_id = o.id), 0)
   ORDER BY o.created_at DESC LIMIT 1;
  IF last_charge.id IS NOT NULL THEN
    SELECT coalesce(sum(CASE WHEN o.kind = 'REVERSAL' THEN -o.amount ELSE o.amount END), 0) INTO used
      FROM wallets_operation o
     WHERE o.user_id = p_user_id AND o.created_at > last_charge.created_at
       AND (o.kind IN ('SPEND', 'CAPTURE')
            OR (o.kind = 'REVERSAL' AND o.counterparty_id IS NULL
                AND (SELECT s.kind FROM wallets_operation s WHERE s.id = o.reverses_id) IN ('SPEND', 'CAPTURE')));
  END IF;
  required := CASE WHEN last_charge.net <= (p_rules->>'smallChargeMaxWon')::bigint
                   THEN (p_rules->>'smallChargeUsedPercentMin')::integer
                   ELSE (p_rules->>'usedPercentMin')::integer END;
  eligible := p_ground <> 'used_share' OR (last_charge.id IS NOT NULL AND used * 100 >= required * last_charge.net);
  amount := CASE WHEN eligible THEN available ELSE 0 END;
  IF NOT eligible AND expired = 0 THEN
    RETURN wallet_idempotency_answer(p_user_id, p_key, wallet_refusal('refund_not_eligible', jsonb_build_object(
      'lastCharge', coalesce(last_charge.net, 0), 'used', greatest(used, 0), 'requiredPercent', required)));
  ELSIF amount = 0 AND expired = 0 THEN
    RETURN wallet_idempotency_answer(p_user_id, p_key, wallet_refusal('nothing_to_refund', NULL));
  END IF;
  -- The cards first, newest charge first, each as far as it can still be reversed.
  FOR charge IN
    SELECT p.id AS payment_id, o.id AS entry_id FROM wallets_operation o JOIN wallets_payment p ON p.entry_id = o.id
     WHERE o.user_id = p_user_id AND o.kind = 'CHARGE' AND p.status = 'CREDITED' ORDER BY o.created_at DESC
  LOOP
    EXIT WHEN to_cards >= amount;
    take := least(wallet_reversible_amount(charge.entry_id), amount - to_cards);
    IF take > 0 THEN
      card_payments := card_payments || charge.payment_id;
      card_amounts := card_amounts || take;
      to_cards := to_cards + take;
    END IF;
  END LOOP;
  IF (amount > to_cards OR expired_refund > 0) AND coalesce(p_account_number, '') = '' THEN
    RETURN wallet_idempotency_answer(p_user_id, p_key, wallet_refusal('bank_account_required', jsonb_build_object(
      'amount', amount - to_cards + expired_refund)));
  END IF;
  INSERT INTO wallets_refundrequest (id, user_id, ground, status, amount, to_cards, expired_amount, expired_refund,
                                     bank_code, account_number, account_masked, holder_name, by, idempotency_key,
                                     created_at)
  VALUES (p_request_id, p_user_id, p_ground, 'PROCESSING', amount, to_cards, expired, expired_refund,
          coalesce(p_bank_code, ''), coalesce(p_account_number, ''), coalesce(p_account_masked, ''),
          coalesce(p_holder_name, ''), coalesce(p_by, ''),
          coalesce(p_key, ''), created);
  FOR i IN 1 .. coalesce(array_length(card_payments, 1), 0) LOOP
    refund_id := gen_random_uuid();
    INSERT INTO wallets_hold (id, user_id, purpose, amount, captured, status, description, idempotency_key,
                              expires_at, created_at)
    VALUES (refund_id, p_user_id, 'REFUND', card_amounts[i], 0, 'ACTIVE', p_note, '', NULL, created);
    INSERT INTO wallets_refund (user_id, payment_id, request_id, reversal_id, hold_id, amount, reason, status, key,
                                gateway_transaction_key, failure_code, failure_message, attempts, created_at, updated_at)
    VALUES (p_user_id, card_payments[i], p_request_id, refund_id, refund_id, card_amounts[i], p_note, 'REQUESTED', '',
            '', '', '', 0, created, created);
  END LOOP;
  PERFORM wallet_payout_begin(p_request_id, gen_random_uuid(), p_payout_gateway, p_note);
  IF expired_refund > 0 THEN
    INSERT INTO wallets_payout (id, request_id, user_id, amount, from_expired, status, gateway, hold_id,
                                gateway_transaction_key, failure_code, failure_message, attempts, created_at, updated_at)
    VALUES (gen_random_uuid(), p_request_id, p_user_id, expired_refund, expired, 'REQUESTED', p_payout_gateway, NULL,
            '', '', '', 0, created, created);
  END IF;
  PERFORM wallet_event_record(p_event_id, 'REFUND_REQUESTED', p_topic, p_user_id, NULL, coalesce(wallet.balance, 0),
    created, jsonb_build_object('requestId', p_request_id, 'amount', amount, 'toCards', to_cards,
                                'toBank', amount - to_cards, 'expiredAmount', expired, 'expiredRefund', expired_refund),
    '{}');
  PERFORM wallet_idempotency_answer(p_user_id, p_key, ROW('done', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                                    NULL, NULL, NULL, NULL)::wallet_operation_result);
  RETURN ROW('started', NULL, NULL, p_request_id, NULL, amount, NULL, NULL, NULL, NULL, NULL, created,
             NULL)::wallet_operation_result;
END $$;

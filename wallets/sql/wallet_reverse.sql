-- A reversal of a charge, a spend or a transfer received, in part or in full. A charge made through a gateway is a refund
-- saga: no entry yet, a REQUESTED refund whose amount a hold keeps in the wallet (spends and other
-- reversals cannot take it), answered 'refunding'; the caller asks the gateway to cancel, then
-- wallet_refund_complete or wallet_refund_fail ends it. The client's key stays in flight meanwhile,
-- and a retry after the in-flight timeout resumes that refund. A transfer is final for its sender; its
-- recipient (or an operator, for them) may return it: the money goes back to the sender's wallet, both
-- wallets locked in one order as a transfer locks them. What is left to reverse: wallet_reversible_amount.
CREATE OR REPLACE FUNCTION wallet_reverse(
  p_user_id integer, p_transaction_id uuid, p_amount bigint, p_reason text, p_key text, p_fingerprint text,
  p_entry_id uuid, p_event_id uuid, p_topic text, p_key_ttl interval, p_in_flight_timeout interval
) RETURNS wallet_operation_result LANGUAGE plpgsql AS $$
DECLARE
  answer wallet_operation_result;
  wallet wallets_wallet;
  sender wallets_wallet;
  original wallets_operation;
  payment wallets_payment;
  refund wallets_refund;
  remaining bigint;
  reversed bigint;
BEGIN
  IF p_key IS NOT NULL THEN
    answer := wallet_idempotency_claim(p_user_id, p_key, p_fingerprint, p_key_ttl, p_in_flight_timeout);
    IF answer.outcome IS NOT NULL THEN
      RETURN answer;
    END IF;
    -- The key taken over from a request that died while its refund ran: resume that refund.
    SELECT * INTO refund FROM wallets_refund WHERE user_id = p_user_id AND key = p_key AND status = 'REQUESTED';
    IF refund.id IS NOT NULL THEN
      SELECT * INTO payment FROM wallets_payment WHERE id = refund.payment_id;
      RETURN wallet_refund_result(refund, payment);
    END IF;
  END IF;
  -- Another user's operation is "not found" too: its existence is not disclosed. (Operations never
  -- change: read before the locks.)
  SELECT * INTO original FROM wallets_operation
   WHERE id = p_transaction_id AND (user_id = p_user_id OR (kind = 'TRANSFER' AND counterparty_id = p_user_id));
  IF original.kind = 'TRANSFER' AND original.counterparty_id = p_user_id THEN
    PERFORM 1 FROM wallets_wallet WHERE user_id IN (original.user_id, p_user_id) ORDER BY id FOR UPDATE;
    SELECT * INTO sender FROM wallets_wallet WHERE user_id = original.user_id;
  ELSE
    PERFORM 1 FROM wallets_wallet WHERE user_id = p_user_id FOR UPDATE;
  END IF;
  SELECT * INTO wallet FROM wallets_wallet WHERE user_id = p_user_id;
  IF original.id IS NULL THEN
    answer := wallet_refusal('transaction_not_found', jsonb_build_object('transactionId', p_transaction_id));
  ELSIF original.kind IN ('REVERSAL', 'PAYOUT', 'EXPIRY') THEN  -- a payout is final; an expiry is refunded apart
    answer := wallet_refusal('not_reversible', jsonb_build_object('transactionId', p_transaction_id));
  ELSIF original.kind = 'TRANSFER' AND original.user_id = p_user_id THEN
    answer := wallet_refusal('not_reversible', jsonb_build_object('transactionId', p_transaction_id,
                                                                  'transfer', true));
  ELSE
    SELECT * INTO payment FROM wallets_payment WHERE entry_id = original.id;
    remaining := wallet_reversible_amount(original.id);
    IF remaining < 0 THEN
      RAISE EXCEPTION 'entry % is reversed beyond its amount', original.id USING ERRCODE = 'check_violation';
    END IF;
    reversed := coalesce(p_amount, remaining);
    IF remaining = 0 THEN
      answer := wallet_refusal('already_fully_reversed', jsonb_build_object('transactionId', p_transaction_id));
    ELSIF reversed > remaining THEN
      answer := wallet_refusal('reversal_exceeds_remaining',
                               jsonb_build_object('amount', reversed, 'remaining', remaining));
    ELSIF original.kind IN ('CHARGE', 'TRANSFER') AND wallet.balance - wallet_held(p_user_id) < reversed THEN
      answer := wallet_refusal('insufficient_funds', jsonb_build_object(
        'amount', reversed, 'balance', wallet.balance - wallet_held(p_user_id), 'reversal', true));
    ELSIF original.kind = 'TRANSFER' THEN  -- a return
      answer := wallet_transfer_apply(wallet, sender, reversed, 'REVERSAL', original.id, p_reason, p_key, p_entry_id,
                                      p_event_id, gen_random_uuid(), p_topic);
    ELSIF payment.id IS NOT NULL THEN
      -- A charge through a gateway: hold the amount, ask the gateway to cancel it (the caller, next).
      INSERT INTO wallets_hold (id, user_id, purpose, amount, captured, status, description, idempotency_key,
                                expires_at, created_at)
      VALUES (p_entry_id, p_user_id, 'REFUND', reversed, 0, 'ACTIVE', p_reason, '', NULL, clock_timestamp());
      INSERT INTO wallets_refund (user_id, payment_id, reversal_id, hold_id, amount, reason, status, key,
                                  gateway_transaction_key, failure_code, failure_message, attempts, created_at,
                                  updated_at)
      VALUES (p_user_id, payment.id, p_entry_id, p_entry_id, reversed, p_reason, 'REQUESTED', coalesce(p_key, ''), '',
              '', '', 1, now(), now())
      RETURNING * INTO refund;
      RETURN wallet_refund_result(refund, payment);  -- the key stays in flight until the refund ends
    ELSE
      answer := wallet_entry_apply(
        wallet, 'REVERSAL',
        CASE WHEN original.kind IN ('SPEND', 'CAPTURE') THEN reversed ELSE -reversed END,
        CASE WHEN original.kind IN ('SPEND', 'CAPTURE') THEN wallet_merchant_settlement_account()
             ELSE wallet_payment_clearing_account() END,
        p_entry_id, p_event_id, 'REVERSAL_COMPLETED',
        jsonb_build_object('reversedAmount', reversed, 'reason', p_reason),
        jsonb_build_object('reversedTransactionId', original.id, 'reversedTransactionType', original.kind),
        original.id, '', '', p_reason, p_key, p_topic, NULL);
    END IF;
  END IF;
  RETURN wallet_idempotency_answer(p_user_id, p_key, answer);
END $$;

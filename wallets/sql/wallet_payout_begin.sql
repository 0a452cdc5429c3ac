-- The payout of what a processing refund request still has to refund from the wallet: its amount less its card
-- refunds that did not fail and its wallet payouts so far (a refused payout is not tried again: that money
-- stays in the wallet), as far as the available balance goes, held until the gateway answers. Only with a
-- bank account. Returns the amount (0: nothing to pay).
CREATE OR REPLACE FUNCTION wallet_payout_begin(p_request_id uuid, p_payout_id uuid, p_gateway text, p_note text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  request wallets_refundrequest;
  short bigint;
  created timestamptz := clock_timestamp();
BEGIN
  PERFORM 1 FROM wallets_wallet
   WHERE user_id = (SELECT user_id FROM wallets_refundrequest WHERE id = p_request_id) FOR UPDATE;
  SELECT * INTO request FROM wallets_refundrequest WHERE id = p_request_id FOR UPDATE;
  IF request.status IS DISTINCT FROM 'PROCESSING' OR request.account_number = '' THEN
    RETURN 0;
  END IF;
  short := least(request.amount
                 - coalesce((SELECT sum(f.amount) FROM wallets_refund f
                              WHERE f.request_id = request.id AND f.status <> 'FAILED'), 0)
                 - coalesce((SELECT sum(o.amount) FROM wallets_payout o
                              WHERE o.request_id = request.id AND o.from_expired = 0), 0),
                 (SELECT w.balance FROM wallets_wallet w WHERE w.user_id = request.user_id)
                 - wallet_held(request.user_id));
  IF short <= 0 THEN
    RETURN 0;
  END IF;
  INSERT INTO wallets_hold (id, user_id, purpose, amount, captured, status, description, idempotency_key, expires_at,
                            created_at)
  VALUES (p_payout_id, request.user_id, 'REFUND', short, 0, 'ACTIVE', p_note, '', NULL, created);
  INSERT INTO wallets_payout (id, request_id, user_id, amount, from_expired, status, gateway, hold_id,
                              gateway_transaction_key, failure_code, failure_message, attempts, created_at, updated_at)
  VALUES (p_payout_id, request.id, request.user_id, short, 0, 'REQUESTED', p_gateway, p_payout_id, '', '', '', 0,
          created, created);
  RETURN short;
END $$;

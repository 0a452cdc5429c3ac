-- End a refund request whose card refunds and payouts have all ended (and that has nothing left it could still
-- pay out: wallet_payout_begin first): COMPLETED when everything it set out to refund was, else PARTIAL (what a
-- card and the bank both refused stays in the wallet). REFUND_REQUEST_COMPLETED tells the user. Returns the
-- request's status (PROCESSING: not yet).
CREATE OR REPLACE FUNCTION wallet_refund_request_settle(p_request_id uuid, p_event_id uuid, p_topic text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  request wallets_refundrequest;
  wallet wallets_wallet;
  refunded bigint;
  paid bigint;
  expired_paid bigint;
  settled text;
  created timestamptz := clock_timestamp();
BEGIN
  SELECT * INTO wallet FROM wallets_wallet
   WHERE user_id = (SELECT user_id FROM wallets_refundrequest WHERE id = p_request_id) FOR UPDATE;
  SELECT * INTO request FROM wallets_refundrequest WHERE id = p_request_id FOR UPDATE;
  IF request.status IS DISTINCT FROM 'PROCESSING' THEN
    RETURN request.status;
  END IF;
  IF EXISTS (SELECT 1 FROM wallets_refund WHERE request_id = request.id AND status = 'REQUESTED')
     OR EXISTS (SELECT 1 FROM wallets_payout WHERE request_id = request.id AND status = 'REQUESTED') THEN
    RETURN 'PROCESSING';
  END IF;
  refunded := coalesce((SELECT sum(amount) FROM wallets_refund WHERE request_id = request.id AND status = 'SUCCEEDED'), 0);
  paid := coalesce((SELECT sum(amount) FROM wallets_payout
                     WHERE request_id = request.id AND status = 'SUCCEEDED' AND from_expired = 0), 0);
  expired_paid := coalesce((SELECT sum(amount) FROM wallets_payout
                             WHERE request_id = request.id AND status = 'SUCCEEDED' AND from_expired > 0), 0);
  IF request.account_number <> '' AND refunded + paid < request.amount
     AND NOT EXISTS (SELECT 1 FROM wallets_payout WHERE request_id = request.id AND status = 'FAILED' AND from_expired = 0)
     AND wallet.balance - wallet_held(request.user_id) > 0 THEN
    RETURN 'PROCESSING';  -- a card refused: its part goes to the bank account (wallet_payout_begin) before the end
  END IF;
  settled := CASE WHEN refunded + paid = request.amount AND expired_paid = request.expired_refund THEN 'COMPLETED'
                  ELSE 'PARTIAL' END;
  UPDATE wallets_refundrequest SET status = settled, completed_at = created WHERE id = request.id;
  PERFORM wallet_event_record(p_event_id, 'REFUND_REQUEST_COMPLETED', p_topic, request.user_id, NULL, wallet.balance,
    created, jsonb_build_object('requestId', request.id, 'status', settled, 'amount', request.amount,
                                'refundedToCards', refunded, 'paidOut', paid + expired_paid,
                                'leftInWallet', request.amount - refunded - paid,
                                'expiredRefund', expired_paid), '{}');
  RETURN settled;
END $$;

-- The payout gateway paid: the payout's entry is written (once) and PAYOUT_COMPLETED tells the user. From the
-- wallet: its hold captured, a PAYOUT operation debits the wallet to payout clearing. From the expired
-- balance: the expired-balance account gives what it settles, payout clearing takes what was paid and the
-- issuer's income the rest; the wallet does not move.
CREATE OR REPLACE FUNCTION wallet_payout_complete(p_payout_id uuid, p_event_id uuid, p_topic text,
                                                  p_transaction_key text, p_note text)
RETURNS wallet_operation_result LANGUAGE plpgsql AS $$
DECLARE
  payout wallets_payout;
  request wallets_refundrequest;
  wallet wallets_wallet;
  answer wallet_operation_result;
  fields jsonb;
  created timestamptz := clock_timestamp();
BEGIN
  SELECT * INTO wallet FROM wallets_wallet
   WHERE user_id = (SELECT user_id FROM wallets_payout WHERE id = p_payout_id) FOR UPDATE;
  SELECT * INTO payout FROM wallets_payout WHERE id = p_payout_id FOR UPDATE;
  IF payout.id IS NULL THEN
    RAISE EXCEPTION 'no payout %', p_payout_id USING ERRCODE = 'no_data_found';
  ELSIF payout.status = 'SUCCEEDED' THEN  -- completed by a concurrent attempt: never twice
    RETURN ROW('replayed', NULL, NULL, payout.id, 'PAYOUT', payout.amount, wallet.balance, NULL, NULL, NULL, NULL,
               payout.updated_at, NULL)::wallet_operation_result;
  ELSIF payout.status <> 'REQUESTED' THEN
    RAISE EXCEPTION 'payout % is %, the gateway paid it', p_payout_id, payout.status USING ERRCODE = 'check_violation';
  END IF;
  SELECT * INTO request FROM wallets_refundrequest WHERE id = payout.request_id;
  fields := jsonb_build_object('payoutId', payout.id, 'requestId', payout.request_id, 'amount', payout.amount,
                               'fromExpired', payout.from_expired, 'bankCode', request.bank_code,
                               'accountNumber', request.account_masked);
  IF payout.from_expired = 0 THEN
    UPDATE wallets_hold SET captured = amount, status = 'CAPTURED', ended_at = created WHERE id = payout.hold_id;
    answer := wallet_entry_apply(wallet, 'PAYOUT', -payout.amount, wallet_payout_clearing_account(), payout.id,
                                 p_event_id, 'PAYOUT_COMPLETED', fields, '{}', NULL, '', '', p_note, NULL, p_topic,
                                 NULL);
  ELSE
    IF payout.from_expired > payout.amount THEN
      PERFORM ledger_entry_append(payout.id, 'PAYOUT', p_note, created,
        ARRAY[wallet_expired_account(payout.user_id), wallet_payout_clearing_account(), wallet_expiry_income_account()],
        ARRAY[-payout.from_expired, payout.amount, payout.from_expired - payout.amount], ARRAY[NULL, NULL, NULL]::bigint[]);
    ELSE
      PERFORM ledger_entry_append(payout.id, 'PAYOUT', p_note, created,
        ARRAY[wallet_expired_account(payout.user_id), wallet_payout_clearing_account()],
        ARRAY[-payout.from_expired, payout.amount], ARRAY[NULL, NULL]::bigint[]);
    END IF;
    PERFORM wallet_event_record(p_event_id, 'PAYOUT_COMPLETED', p_topic, payout.user_id, NULL, wallet.balance, created,
                                fields, '{}');
    answer := ROW('done', NULL, NULL, payout.id, 'PAYOUT', payout.amount, wallet.balance, NULL, NULL, NULL, NULL,
                  created, NULL)::wallet_operation_result;
  END IF;
  UPDATE wallets_payout SET status = 'SUCCEEDED', entry_id = payout.id, gateway_transaction_key = left(p_transaction_key, 64),
                            updated_at = created
   WHERE id = payout.id;
  RETURN answer;
END $$;

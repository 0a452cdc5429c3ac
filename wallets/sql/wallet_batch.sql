-- A batch of one user's operations in one statement: one round trip, one transaction. Each item runs
-- the function it would run alone (spend, transfer, reversal, hold capture), with its own Idempotency-Key,
-- its own answer and its own events; the answers come back in the items' order.
--
-- Every wallet the batch may touch is locked first, at once, in wallet id order (the caller's, each
-- transfer's recipient's, the sender's of each transfer received being returned), as a single transfer
-- locks its two: a batch never deadlocks with another batch or with a single operation.
--
-- p_atomic: all or nothing. At the first item that is not done (refused, a refusal replayed, or a card
-- refund, whose gateway cannot be part of a transaction) everything the batch did is rolled back,
-- its recorded answers included, and the answers are that item's refusal and 'not_applied' for every
-- other (a retry with the same keys runs them afresh). Otherwise each item stands on its own, and a
-- reversal answered 'refunding' is finished by the caller, as alone (the gateway, then
-- wallet_refund_complete or wallet_refund_fail).
CREATE OR REPLACE FUNCTION wallet_batch(
  p_user_id integer, p_items jsonb, p_atomic boolean, p_topic text, p_limits jsonb,
  p_day_start timestamptz, p_key_ttl interval, p_in_flight_timeout interval
) RETURNS SETOF wallet_operation_result LANGUAGE plpgsql AS $$
DECLARE
  item jsonb;
  answer wallet_operation_result;
  answers wallet_operation_result[] := ARRAY[]::wallet_operation_result[];
  recipient integer;
  involved integer[];
  failed integer;
BEGIN
  involved := ARRAY[p_user_id]
    || ARRAY(SELECT u.id FROM auth_user u
              WHERE u.is_active AND u.username IN (SELECT i->>'to' FROM jsonb_array_elements(p_items) AS i
                                                    WHERE i->>'type' = 'transfer'))
    || ARRAY(SELECT o.user_id FROM wallets_operation o
              WHERE o.kind = 'TRANSFER' AND o.counterparty_id = p_user_id
                AND o.id IN (SELECT (i->>'transactionId')::uuid FROM jsonb_array_elements(p_items) AS i
                              WHERE i->>'type' = 'reversal'));
  PERFORM wallet_open(u, 'KRW') FROM unnest(involved) AS u WHERE u <> p_user_id;
  PERFORM 1 FROM wallets_wallet WHERE user_id = ANY(involved) ORDER BY id FOR UPDATE;
  BEGIN
    FOR item IN SELECT value FROM jsonb_array_elements(p_items) LOOP
      CASE item->>'type'
        WHEN 'spend' THEN
          answer := wallet_spend(p_user_id, (item->>'amount')::bigint, item->>'description', item->>'key',
                                 item->>'fingerprint', (item->>'entryId')::uuid, (item->>'eventId')::uuid, p_topic,
                                 p_key_ttl, p_in_flight_timeout);
        WHEN 'transfer' THEN
          SELECT id INTO recipient FROM auth_user WHERE username = item->>'to' AND is_active;
          IF recipient IS NULL THEN
            answer := wallet_refusal('recipient_not_found', jsonb_build_object('to', item->>'to'));
          ELSE
            answer := wallet_transfer(p_user_id, recipient, (item->>'amount')::bigint, item->>'message',
                                      item->>'key', item->>'fingerprint', (item->>'entryId')::uuid,
                                      (item->>'eventId')::uuid, (item->>'receivedEventId')::uuid, p_topic,
                                      p_limits, p_day_start, p_key_ttl, p_in_flight_timeout);
          END IF;
        WHEN 'reversal' THEN
          answer := wallet_reverse(p_user_id, (item->>'transactionId')::uuid, (item->>'amount')::bigint,
                                   item->>'reason', item->>'key', item->>'fingerprint', (item->>'entryId')::uuid,
                                   (item->>'eventId')::uuid, p_topic, p_key_ttl, p_in_flight_timeout);
          IF p_atomic AND answer.outcome = 'refunding' THEN
            answer := wallet_refusal('refund_not_in_atomic_batch',
                                     jsonb_build_object('transactionId', item->>'transactionId'));
          END IF;
        WHEN 'capture' THEN
          answer := wallet_hold_capture(p_user_id, (item->>'holdId')::uuid, (item->>'amount')::bigint,
                                        coalesce((item->>'final')::boolean, false), item->>'key',
                                        item->>'fingerprint', (item->>'entryId')::uuid, (item->>'eventId')::uuid,
                                        p_topic, p_key_ttl, p_in_flight_timeout);
      END CASE;
      answers := answers || answer;
      IF p_atomic AND (answer.outcome NOT IN ('done', 'replayed') OR coalesce(answer.error_code, '') <> '') THEN
        failed := cardinality(answers);
        RAISE EXCEPTION 'batch item % not done', failed USING ERRCODE = 'PB001';
      END IF;
    END LOOP;
  EXCEPTION WHEN SQLSTATE 'PB001' THEN
    -- Rolled back to the block's start: nothing of the batch stays but its locks.
    FOR n IN 1 .. jsonb_array_length(p_items) LOOP
      answer := CASE WHEN n = failed THEN answers[n]
                     ELSE ROW('not_applied', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                              NULL)::wallet_operation_result END;
      RETURN NEXT answer;
    END LOOP;
    RETURN;
  END;
  RETURN QUERY SELECT * FROM unnest(answers);
END $$;

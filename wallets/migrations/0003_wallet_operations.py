"""Wallet operations as PostgreSQL functions: each operation is one statement, so one round trip.

Each function runs in the statement's own transaction (the caller is in autocommit)
and does all of an operation: the Idempotency-Key claim, the wallet lock, the
checks, the journal entry with its postings (``ledger_entry_append``), the balance,
the outbox event (``outbox_event_record``) and the idempotency record's answer.
Either all of it commits or none of it does, so "committed but its answer not
recorded" cannot happen.

They return a ``wallet_operation_result``:

- ``outcome``: ``done`` (the entry was written), ``replayed`` (the same request was
  answered before: its entry or its refusal), ``refused`` (a rule said no:
  ``error_code``, with ``error_detail`` for the message), ``started`` (a charge was
  claimed and its payment recorded; the gateway is asked next, outside any
  transaction);
- the journal entry's columns (done, replayed), or the payment id (started).

Refusals are answers too: with a key, they are recorded and replayed.

Concurrency: a user's operations lock the wallet row first (``FOR UPDATE``), so
they run one at a time, each seeing the previous balance; a charge locks its
payment row before the wallet and nothing locks in the other order. A request
whose key is held by a transaction still running (a transaction-level advisory
lock on user and key) is answered ``idempotency_request_in_flight`` at once
rather than made to wait.

Error codes returned here are ``wallets.errors.WalletErrorCode`` values; the
Python side turns a code and its detail into the message and the HTTP status.
"""

from django.db import migrations

FORWARD = r"""
CREATE TYPE wallet_operation_result AS (
  outcome text,
  error_code text,
  error_detail jsonb,
  entry_id uuid,
  kind text,
  amount bigint,
  balance_after bigint,
  reverses_id uuid,
  payment_key text,
  order_id text,
  description text,
  created_at timestamptz,
  payment_id bigint
);

CREATE FUNCTION wallet_refusal(p_code text, p_detail jsonb) RETURNS wallet_operation_result
LANGUAGE sql IMMUTABLE AS $$
  SELECT ROW('refused', p_code, p_detail, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::wallet_operation_result;
$$;

CREATE FUNCTION wallet_entry_result(p_outcome text, p_entry ledger_journalentry) RETURNS wallet_operation_result
LANGUAGE sql IMMUTABLE AS $$
  SELECT ROW(p_outcome, NULL, NULL, p_entry.id, p_entry.kind, p_entry.amount, p_entry.balance_after,
             p_entry.reverses_id, p_entry.payment_key, p_entry.order_id, p_entry.description, p_entry.created_at,
             NULL)::wallet_operation_result;
$$;

-- The counter accounts of wallet operations (ledger.models.Account's system account codes).
CREATE FUNCTION wallet_merchant_settlement_account() RETURNS bigint LANGUAGE sql AS $$
  SELECT ledger_system_account_id('system:merchant-settlement', 'MERCHANT_SETTLEMENT', 'KRW');
$$;

CREATE FUNCTION wallet_payment_clearing_account() RETURNS bigint LANGUAGE sql AS $$
  SELECT ledger_system_account_id('system:payment-clearing', 'PAYMENT_CLEARING', 'KRW');
$$;

-- Claim (user, key) for this request, in the caller's transaction. NULL: run the operation.
-- Otherwise the answer: the first request's result replayed, or a refusal.
CREATE FUNCTION wallet_idempotency_claim(p_user_id integer, p_key text, p_fingerprint text, p_ttl interval,
                                         p_in_flight_timeout interval)
RETURNS wallet_operation_result LANGUAGE plpgsql AS $$
DECLARE
  claimed wallets_idempotencyrecord;
  earlier ledger_journalentry;
BEGIN
  -- A transaction still running with this key holds the lock until it ends.
  IF NOT pg_try_advisory_xact_lock(hashtextextended(p_user_id::text || ':' || p_key, 7310)) THEN
    RETURN wallet_refusal('idempotency_request_in_flight', NULL);
  END IF;
  INSERT INTO wallets_idempotencyrecord (user_id, key, fingerprint, error_code, created_at)
  VALUES (p_user_id, p_key, p_fingerprint, '', now())
  ON CONFLICT (user_id, key) DO NOTHING;
  IF FOUND THEN
    RETURN NULL;
  END IF;
  SELECT * INTO claimed FROM wallets_idempotencyrecord WHERE user_id = p_user_id AND key = p_key FOR UPDATE;
  IF claimed.created_at <= now() - p_ttl THEN
    -- Expired (the purge has not deleted it yet): the key is free again.
    UPDATE wallets_idempotencyrecord
       SET fingerprint = p_fingerprint, created_at = now(), completed_at = NULL, entry_id = NULL, error_code = '',
           error_detail = NULL
     WHERE id = claimed.id;
    RETURN NULL;
  END IF;
  IF claimed.fingerprint <> p_fingerprint THEN
    RETURN wallet_refusal('idempotency_key_reused', NULL);
  END IF;
  IF claimed.completed_at IS NULL THEN
    -- A charge whose request is still waiting for the gateway, or died doing so.
    IF claimed.created_at <= now() - p_in_flight_timeout THEN
      UPDATE wallets_idempotencyrecord SET created_at = now() WHERE id = claimed.id;  -- taken over, once
      RETURN NULL;
    END IF;
    RETURN wallet_refusal('idempotency_request_in_flight', NULL);
  END IF;
  IF claimed.entry_id IS NOT NULL THEN
    SELECT * INTO earlier FROM ledger_journalentry WHERE id = claimed.entry_id;
    RETURN wallet_entry_result('replayed', earlier);
  END IF;
  RETURN ROW('replayed', claimed.error_code, claimed.error_detail, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
             NULL, NULL)::wallet_operation_result;
END $$;

-- Record the answer under the key (no key: nothing to record); return the answer.
CREATE FUNCTION wallet_idempotency_answer(p_user_id integer, p_key text, p_result wallet_operation_result)
RETURNS wallet_operation_result LANGUAGE plpgsql AS $$
BEGIN
  IF p_key IS NOT NULL THEN
    UPDATE wallets_idempotencyrecord
       SET entry_id = p_result.entry_id, error_code = coalesce(p_result.error_code, ''),
           error_detail = p_result.error_detail, completed_at = now()
     WHERE user_id = p_user_id AND key = p_key;
  END IF;
  RETURN p_result;
END $$;

-- Move p_delta won into (or, negative, out of) a locked wallet: journal entry and postings,
-- balance, outbox event. p_event_fields: the event's fields of its type (prepaid/events.py).
CREATE FUNCTION wallet_entry_apply(
  p_wallet wallets_wallet, p_kind text, p_delta bigint, p_counter_account bigint, p_entry_id uuid, p_event_id uuid,
  p_event_type text, p_event_fields jsonb, p_event_metadata jsonb, p_reverses_id uuid, p_payment_key text,
  p_order_id text, p_description text, p_idempotency_key text, p_topic text
) RETURNS wallet_operation_result LANGUAGE plpgsql AS $$
DECLARE
  new_balance bigint := p_wallet.balance + p_delta;
  created timestamptz := clock_timestamp();
  entry ledger_journalentry;
BEGIN
  IF new_balance < 0 THEN
    RAISE EXCEPTION 'wallet % would go negative: % %', p_wallet.id, p_wallet.balance, p_delta
      USING ERRCODE = 'check_violation';
  END IF;
  PERFORM ledger_entry_append(p_entry_id, p_kind, p_wallet.user_id, abs(p_delta), new_balance,
                              ARRAY[p_wallet.account_id, p_counter_account], ARRAY[p_delta, -p_delta],
                              p_reverses_id, p_payment_key, p_order_id, p_description,
                              coalesce(p_idempotency_key, ''), created);
  UPDATE wallets_wallet SET balance = new_balance, updated_at = created WHERE id = p_wallet.id;
  PERFORM outbox_event_record(
    p_event_id, p_event_type, p_topic, p_wallet.user_id::text,
    jsonb_build_object(
      'schemaVersion', 1,
      'eventType', p_event_type,
      'userId', p_wallet.user_id,
      'occurredAt', to_char(created AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),
      'metadata', jsonb_build_object('transactionId', p_entry_id, 'currency', p_wallet.currency) || p_event_metadata,
      'newBalance', new_balance
    ) || p_event_fields
  );
  entry.id := p_entry_id;
  entry.kind := p_kind;
  entry.amount := abs(p_delta);
  entry.balance_after := new_balance;
  entry.reverses_id := p_reverses_id;
  entry.payment_key := p_payment_key;
  entry.order_id := p_order_id;
  entry.description := p_description;
  entry.created_at := created;
  RETURN wallet_entry_result('done', entry);
END $$;

CREATE FUNCTION wallet_spend(
  p_user_id integer, p_amount bigint, p_description text, p_key text, p_fingerprint text, p_entry_id uuid,
  p_event_id uuid, p_topic text, p_key_ttl interval, p_in_flight_timeout interval
) RETURNS wallet_operation_result LANGUAGE plpgsql AS $$
DECLARE
  answer wallet_operation_result;
  wallet wallets_wallet;
BEGIN
  IF p_key IS NOT NULL THEN
    answer := wallet_idempotency_claim(p_user_id, p_key, p_fingerprint, p_key_ttl, p_in_flight_timeout);
    IF answer.outcome IS NOT NULL THEN
      RETURN answer;
    END IF;
  END IF;
  SELECT * INTO wallet FROM wallets_wallet WHERE user_id = p_user_id FOR UPDATE;
  IF coalesce(wallet.balance, 0) < p_amount THEN
    answer := wallet_refusal('insufficient_funds',
                             jsonb_build_object('amount', p_amount, 'balance', coalesce(wallet.balance, 0)));
  ELSE
    answer := wallet_entry_apply(wallet, 'SPEND', -p_amount, wallet_merchant_settlement_account(), p_entry_id,
                                 p_event_id,
                                 'SPEND_COMPLETED', jsonb_build_object('amount', p_amount, 'description', p_description),
                                 '{}', NULL, '', '', p_description, p_key, p_topic);
  END IF;
  RETURN wallet_idempotency_answer(p_user_id, p_key, answer);
END $$;

CREATE FUNCTION wallet_reverse(
  p_user_id integer, p_transaction_id uuid, p_amount bigint, p_reason text, p_key text, p_fingerprint text,
  p_entry_id uuid, p_event_id uuid, p_topic text, p_key_ttl interval, p_in_flight_timeout interval
) RETURNS wallet_operation_result LANGUAGE plpgsql AS $$
DECLARE
  answer wallet_operation_result;
  wallet wallets_wallet;
  original ledger_journalentry;
  remaining bigint;
  reversed bigint;
BEGIN
  IF p_key IS NOT NULL THEN
    answer := wallet_idempotency_claim(p_user_id, p_key, p_fingerprint, p_key_ttl, p_in_flight_timeout);
    IF answer.outcome IS NOT NULL THEN
      RETURN answer;
    END IF;
  END IF;
  SELECT * INTO wallet FROM wallets_wallet WHERE user_id = p_user_id FOR UPDATE;
  -- Another user's entry is "not found" too: its existence is not disclosed.
  SELECT * INTO original FROM ledger_journalentry WHERE id = p_transaction_id AND user_id = p_user_id;
  IF original.id IS NULL THEN
    answer := wallet_refusal('transaction_not_found', jsonb_build_object('transactionId', p_transaction_id));
  ELSIF original.kind = 'REVERSAL' THEN
    answer := wallet_refusal('not_reversible', jsonb_build_object('transactionId', p_transaction_id));
  ELSE
    remaining := original.amount - coalesce(
      (SELECT sum(amount) FROM ledger_journalentry WHERE reverses_id = original.id), 0);
    IF remaining < 0 THEN
      RAISE EXCEPTION 'entry % is reversed beyond its amount', original.id USING ERRCODE = 'check_violation';
    END IF;
    reversed := coalesce(p_amount, remaining);
    IF remaining = 0 THEN
      answer := wallet_refusal('already_fully_reversed', jsonb_build_object('transactionId', p_transaction_id));
    ELSIF reversed > remaining THEN
      answer := wallet_refusal('reversal_exceeds_remaining',
                               jsonb_build_object('amount', reversed, 'remaining', remaining));
    ELSIF original.kind = 'CHARGE' AND wallet.balance < reversed THEN
      answer := wallet_refusal('insufficient_funds',
                               jsonb_build_object('amount', reversed, 'balance', wallet.balance, 'reversal', true));
    ELSE
      answer := wallet_entry_apply(
        wallet, 'REVERSAL',
        CASE original.kind WHEN 'SPEND' THEN reversed ELSE -reversed END,
        CASE original.kind WHEN 'SPEND' THEN wallet_merchant_settlement_account() ELSE wallet_payment_clearing_account() END,
        p_entry_id, p_event_id, 'REVERSAL_COMPLETED',
        jsonb_build_object('reversedAmount', reversed, 'reason', p_reason),
        jsonb_build_object('reversedTransactionId', original.id, 'reversedTransactionType', original.kind),
        original.id, '', '', p_reason, p_key, p_topic);
    END IF;
  END IF;
  RETURN wallet_idempotency_answer(p_user_id, p_key, answer);
END $$;

-- A charge, first step: claim the key, check the balance cap, record the payment PENDING
-- (or resume the PENDING payment of the same charge). The key stays in flight until the
-- charge is credited or declined.
CREATE FUNCTION wallet_charge_begin(
  p_user_id integer, p_amount bigint, p_payment_key text, p_order_id text, p_gateway text, p_key text,
  p_fingerprint text, p_balance_max bigint, p_key_ttl interval, p_in_flight_timeout interval
) RETURNS wallet_operation_result LANGUAGE plpgsql AS $$
DECLARE
  answer wallet_operation_result;
  balance bigint;
  payment wallets_payment;
BEGIN
  IF p_key IS NOT NULL THEN
    answer := wallet_idempotency_claim(p_user_id, p_key, p_fingerprint, p_key_ttl, p_in_flight_timeout);
    IF answer.outcome IS NOT NULL THEN
      RETURN answer;
    END IF;
  END IF;
  balance := coalesce((SELECT w.balance FROM wallets_wallet w WHERE w.user_id = p_user_id), 0);
  IF balance + p_amount > p_balance_max THEN
    RETURN wallet_idempotency_answer(p_user_id, p_key,
      wallet_refusal('balance_limit_exceeded', jsonb_build_object('balanceMax', p_balance_max)));
  END IF;
  INSERT INTO wallets_payment (user_id, order_id, payment_key, amount, status, gateway, failure_code,
                               failure_message, attempts, created_at, updated_at)
  VALUES (p_user_id, p_order_id, p_payment_key, p_amount, 'PENDING', p_gateway, '', '', 1, now(), now())
  ON CONFLICT (order_id) DO NOTHING
  RETURNING * INTO payment;
  IF payment.id IS NULL THEN
    SELECT * INTO payment FROM wallets_payment WHERE order_id = p_order_id FOR UPDATE;
    IF payment.status <> 'PENDING'
       OR (payment.user_id, payment.payment_key, payment.amount) IS DISTINCT FROM (p_user_id, p_payment_key, p_amount) THEN
      RETURN wallet_idempotency_answer(p_user_id, p_key,
        wallet_refusal('duplicate_order', jsonb_build_object('orderId', p_order_id)));
    END IF;
    -- A retry of a charge whose first attempt died before crediting resumes it.
    UPDATE wallets_payment SET attempts = attempts + 1, updated_at = now() WHERE id = payment.id;
  END IF;
  RETURN ROW('started', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
             payment.id)::wallet_operation_result;
END $$;

-- A charge the gateway confirmed: credit it, once (the payment must still be PENDING), creating
-- the wallet on the user's first charge.
CREATE FUNCTION wallet_charge_credit(
  p_payment_id bigint, p_key text, p_entry_id uuid, p_event_id uuid, p_topic text, p_currency text
) RETURNS wallet_operation_result LANGUAGE plpgsql AS $$
DECLARE
  answer wallet_operation_result;
  payment wallets_payment;
  wallet wallets_wallet;
BEGIN
  SELECT * INTO payment FROM wallets_payment WHERE id = p_payment_id FOR UPDATE;
  IF payment.status <> 'PENDING' THEN
    -- Credited (or failed) by a concurrent attempt: never twice.
    RETURN wallet_idempotency_answer(payment.user_id, p_key,
      wallet_refusal('duplicate_order', jsonb_build_object('orderId', payment.order_id)));
  END IF;
  SELECT * INTO wallet FROM wallets_wallet WHERE user_id = payment.user_id FOR UPDATE;
  IF wallet.id IS NULL THEN
    -- The user's first charge opens the wallet and its ledger account (a concurrent first
    -- charge may win the race; then its wallet is the one locked).
    INSERT INTO ledger_account (code, kind, currency, created_at)
    VALUES ('wallet:' || payment.user_id, 'WALLET', p_currency, now()) ON CONFLICT (code) DO NOTHING;
    INSERT INTO wallets_wallet (user_id, account_id, currency, balance, created_at, updated_at)
    SELECT payment.user_id, a.id, p_currency, 0, now(), now() FROM ledger_account a
     WHERE a.code = 'wallet:' || payment.user_id
    ON CONFLICT (user_id) DO NOTHING;
    SELECT * INTO wallet FROM wallets_wallet WHERE user_id = payment.user_id FOR UPDATE;
  END IF;
  -- The money has been taken from the card: it is credited even if the balance cap
  -- (checked before confirming) was crossed meanwhile.
  answer := wallet_entry_apply(
    wallet, 'CHARGE', payment.amount, wallet_payment_clearing_account(), p_entry_id, p_event_id, 'CHARGE_COMPLETED',
    jsonb_build_object('amount', payment.amount, 'paymentKey', payment.payment_key, 'orderId', payment.order_id),
    '{}', NULL, payment.payment_key, payment.order_id, '', p_key, p_topic);
  UPDATE wallets_payment SET status = 'CREDITED', entry_id = p_entry_id, updated_at = now() WHERE id = payment.id;
  RETURN wallet_idempotency_answer(payment.user_id, p_key, answer);
END $$;

-- A charge the gateway declined: the payment FAILED (if still PENDING), the refusal recorded under the key.
CREATE FUNCTION wallet_charge_decline(p_payment_id bigint, p_key text, p_code text, p_message text)
RETURNS wallet_operation_result LANGUAGE plpgsql AS $$
DECLARE
  payment wallets_payment;
BEGIN
  UPDATE wallets_payment SET status = 'FAILED', failure_code = left(p_code, 64), failure_message = left(p_message, 500),
                             updated_at = now()
   WHERE id = p_payment_id AND status = 'PENDING';
  SELECT * INTO payment FROM wallets_payment WHERE id = p_payment_id;
  RETURN wallet_idempotency_answer(payment.user_id, p_key,
    wallet_refusal('payment_declined', jsonb_build_object('gatewayCode', p_code, 'gatewayMessage', p_message)));
END $$;
"""

BACKWARD = """
DROP FUNCTION wallet_charge_decline(bigint, text, text, text);
DROP FUNCTION wallet_charge_credit(bigint, text, uuid, uuid, text, text);
DROP FUNCTION wallet_charge_begin(integer, bigint, text, text, text, text, text, bigint, interval, interval);
DROP FUNCTION wallet_reverse(integer, uuid, bigint, text, text, text, uuid, uuid, text, interval, interval);
DROP FUNCTION wallet_spend(integer, bigint, text, text, text, uuid, uuid, text, interval, interval);
DROP FUNCTION wallet_entry_apply(wallets_wallet, text, bigint, bigint, uuid, uuid, text, jsonb, jsonb, uuid, text,
                                 text, text, text, text);
DROP FUNCTION wallet_idempotency_answer(integer, text, wallet_operation_result);
DROP FUNCTION wallet_idempotency_claim(integer, text, text, interval, interval);
DROP FUNCTION wallet_entry_result(text, ledger_journalentry);
DROP FUNCTION wallet_refusal(text, jsonb);
DROP FUNCTION wallet_payment_clearing_account();
DROP FUNCTION wallet_merchant_settlement_account();
DROP TYPE wallet_operation_result;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("wallets", "0002_idempotency_record_answers"),
        ("ledger", "0003_ledger_entry_append"),
        ("outbox", "0003_outbox_event_record"),
    ]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]

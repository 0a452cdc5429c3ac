-- What every wallet operation returns (one statement, one round trip):
--   outcome: done (the entry was written), replayed (the same request was answered before: its
--            entry or its refusal), refused (a rule said no: error_code, with error_detail for the
--            message; wallets.errors.WalletErrorCode), started (a charge was claimed and its payment
--            recorded; the gateway is asked next), refunding (a refund's hold is placed; the gateway
--            is asked next);
--   the journal entry's columns (done, replayed), or the payment id (started, refunding).
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

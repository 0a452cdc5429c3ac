-- What a hold's placement or void returns (one statement, one round trip): the outcome as
-- wallet_operation_result's (done, replayed, refused with error_code and error_detail), the hold, and
-- the wallet's balance and available balance after it.
CREATE TYPE wallet_hold_result AS (
  outcome text,
  error_code text,
  error_detail jsonb,
  hold_id uuid,
  amount bigint,
  captured bigint,
  status text,
  description text,
  expires_at timestamptz,
  created_at timestamptz,
  ended_at timestamptz,
  balance bigint,
  available bigint
);

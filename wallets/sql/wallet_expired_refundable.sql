-- What of the user's expired balance may still be refunded: what expired within p_window (the limitation
-- period; oldest taken first, as in the wallet), no more than the expired-balance account holds.
CREATE OR REPLACE FUNCTION wallet_expired_refundable(p_user_id integer, p_window interval) RETURNS bigint
LANGUAGE sql STABLE AS $$
  SELECT greatest(0, least(coalesce(sum(p.amount), 0),
                           coalesce(sum(p.amount) FILTER (WHERE p.amount > 0 AND p.created_at > clock_timestamp() - p_window), 0)
                           ))::bigint
    FROM ledger_account a JOIN ledger_posting p ON p.account_id = a.id
   WHERE a.code = 'expired:' || p_user_id;
$$;

-- What the user's active holds keep of the balance (what is left of each; a hold past its expiry keeps
-- nothing, swept or not). The available balance is the balance less this.
CREATE OR REPLACE FUNCTION wallet_held(p_user_id integer) RETURNS bigint LANGUAGE sql STABLE AS $$
  SELECT coalesce(sum(amount - captured), 0)::bigint FROM wallets_hold
   WHERE user_id = p_user_id AND status = 'ACTIVE' AND (expires_at IS NULL OR expires_at > now());
$$;

-- A hold as an answer (p_outcome: done or replayed), with its wallet's balance and available balance now.
CREATE OR REPLACE FUNCTION wallet_hold_answer(p_outcome text, p_hold wallets_hold) RETURNS wallet_hold_result
LANGUAGE sql STABLE AS $$
  SELECT ROW(p_outcome, NULL, NULL, p_hold.id, p_hold.amount, p_hold.captured, p_hold.status, p_hold.description,
             p_hold.expires_at, p_hold.created_at, p_hold.ended_at, w.balance,
             w.balance - wallet_held(p_hold.user_id))::wallet_hold_result
    FROM wallets_wallet w WHERE w.user_id = p_hold.user_id;
$$;

-- What is left to reverse of an entry: a charge's or a spend's amount less its reversals and less the
-- refunds on their way or cancelled without cover (their reversal entries are not written yet); a
-- reversal, a payout or an expiry, nothing. The one rule: wallet_reverse refuses beyond it, the API and the page show it.
CREATE OR REPLACE FUNCTION wallet_reversible_amount(p_entry_id uuid) RETURNS bigint
LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN e.kind IN ('REVERSAL', 'PAYOUT', 'EXPIRY') THEN 0 ELSE
           e.amount
           - coalesce((SELECT sum(r.amount) FROM wallets_operation r WHERE r.reverses_id = e.id), 0)
           - coalesce((SELECT sum(f.amount) FROM wallets_refund f JOIN wallets_payment p ON p.id = f.payment_id
                        WHERE p.entry_id = e.id AND f.status IN ('REQUESTED', 'UNCOVERED')), 0)
         END::bigint
    FROM wallets_operation e WHERE e.id = p_entry_id;
$$;

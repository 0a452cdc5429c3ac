"""Refunds: reversing a charge cancels that amount on the card, as a small saga.

1. ``wallet_reverse`` (replaced): for a charge made through a gateway it writes no
   entry; it records a ``REQUESTED`` refund and puts its amount on hold in the wallet
   (``held``: spends and other reversals cannot use it), in one statement. The
   client's Idempotency-Key stays in flight.
2. The gateway is asked to cancel that amount, with the refund's ``reversal_id`` as
   the gateway's Idempotency-Key (outside any transaction).
3. ``wallet_refund_complete``: the gateway cancelled. The hold is released and the
   reversal entry written (id ``reversal_id``), with its event and the key's answer.
   Or ``wallet_refund_fail``: the gateway refused. The hold is released, nothing is
   written, the refusal is the key's answer.

The gateway's cancel is the point of no return: before it, a refund can still fail
and leave the wallet as it was; after it, the money is back on the card and the debit
must happen. It always can, because the hold kept the amount in the wallet. A process
that dies between 1 and 3 leaves a REQUESTED refund, which recovery asks again with
the same gateway key (the gateway answers what it did the first time, and cancels
once), then completes or fails. ``wallet_refund_record`` books cancels made at the
gateway without us (Toss's console), as its webhook reports them.

Also: a spend can use only ``balance - held``; a reversal of a charge can take only
what no other reversal or refund (requested or done) has taken.
"""

import importlib
import re

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

FORWARD = r"""
CREATE OR REPLACE FUNCTION wallet_spend(
  p_user_id integer, p_amount bigint, p_description text, p_key text, p_fingerprint text, p_entry_id uuid,
  p_event_id uuid, p_topic text, p_key_ttl interval, p_in_flight_timeout interval
) RETURNS wallet_operation_result LANGUAGE plpgsql AS $$
DECLARE
  answer wallet_operation_result;
  wallet wallets_wallet;
  available bigint;
BEGIN
  IF p_key IS NOT NULL THEN
    answer := wallet_idempotency_claim(p_user_id, p_key, p_fingerprint, p_key_ttl, p_in_flight_timeout);
    IF answer.outcome IS NOT NULL THEN
      RETURN answer;
    END IF;
  END IF;
  SELECT * INTO wallet FROM wallets_wallet WHERE user_id = p_user_id FOR UPDATE;
  available := coalesce(wallet.balance - wallet.held, 0);  -- refunds on their way hold the rest
  IF available < p_amount THEN
    answer := wallet_refusal('insufficient_funds', jsonb_build_object('amount', p_amount, 'balance', available));
  ELSE
    answer := wallet_entry_apply(wallet, 'SPEND', -p_amount, wallet_merchant_settlement_account(), p_entry_id,
                                 p_event_id,
                                 'SPEND_COMPLETED', jsonb_build_object('amount', p_amount, 'description', p_description),
                                 '{}', NULL, '', '', p_description, p_key, p_topic);
  END IF;
  RETURN wallet_idempotency_answer(p_user_id, p_key, answer);
END $$;

-- The refund's answer while it runs: outcome 'refunding', the gateway (in the detail), the
-- planned reversal entry's id, the amount, the charge it reverses, the payment to cancel.
CREATE FUNCTION wallet_refund_result(p_refund wallets_refund, p_payment wallets_payment)
RETURNS wallet_operation_result LANGUAGE sql IMMUTABLE AS $$
  SELECT ROW('refunding', NULL, jsonb_build_object('gateway', p_payment.gateway), p_refund.reversal_id, 'REVERSAL', p_refund.amount, NULL, p_payment.entry_id,
             p_payment.payment_key, p_payment.order_id, p_refund.reason, p_refund.created_at,
             p_payment.id)::wallet_operation_result;
$$;

CREATE OR REPLACE FUNCTION wallet_reverse(
  p_user_id integer, p_transaction_id uuid, p_amount bigint, p_reason text, p_key text, p_fingerprint text,
  p_entry_id uuid, p_event_id uuid, p_topic text, p_key_ttl interval, p_in_flight_timeout interval
) RETURNS wallet_operation_result LANGUAGE plpgsql AS $$
DECLARE
  answer wallet_operation_result;
  wallet wallets_wallet;
  original ledger_journalentry;
  payment wallets_payment;
  refund wallets_refund;
  remaining bigint;
  reversed bigint;
BEGIN
  IF p_key IS NOT NULL THEN
    answer := wallet_idempotency_claim(p_user_id, p_key, p_fingerprint, p_key_ttl, p_in_flight_timeout);
    IF answer.outcome IS NOT NULL THEN
      RETURN answer;
    END IF;
    -- The key taken over from a request that died while its refund ran: resume that refund.
    SELECT * INTO refund FROM wallets_refund WHERE user_id = p_user_id AND key = p_key AND status = 'REQUESTED';
    IF refund.id IS NOT NULL THEN
      SELECT * INTO payment FROM wallets_payment WHERE id = refund.payment_id;
      RETURN wallet_refund_result(refund, payment);
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
    SELECT * INTO payment FROM wallets_payment WHERE entry_id = original.id;
    -- Taken already: reversal entries, and refunds on their way or cancelled without cover.
    remaining := original.amount
      - coalesce((SELECT sum(amount) FROM ledger_journalentry WHERE reverses_id = original.id), 0)
      - coalesce((SELECT sum(amount) FROM wallets_refund
                   WHERE payment_id = payment.id AND status IN ('REQUESTED', 'UNCOVERED')), 0);
    IF remaining < 0 THEN
      RAISE EXCEPTION 'entry % is reversed beyond its amount', original.id USING ERRCODE = 'check_violation';
    END IF;
    reversed := coalesce(p_amount, remaining);
    IF remaining = 0 THEN
      answer := wallet_refusal('already_fully_reversed', jsonb_build_object('transactionId', p_transaction_id));
    ELSIF reversed > remaining THEN
      answer := wallet_refusal('reversal_exceeds_remaining',
                               jsonb_build_object('amount', reversed, 'remaining', remaining));
    ELSIF original.kind = 'CHARGE' AND wallet.balance - wallet.held < reversed THEN
      answer := wallet_refusal('insufficient_funds', jsonb_build_object(
        'amount', reversed, 'balance', wallet.balance - wallet.held, 'reversal', true));
    ELSIF payment.id IS NOT NULL THEN
      -- A charge through a gateway: hold the amount, ask the gateway to cancel it (the caller, next).
      INSERT INTO wallets_refund (user_id, payment_id, reversal_id, amount, reason, status, key,
                                  gateway_transaction_key, failure_code, failure_message, attempts, created_at,
                                  updated_at)
      VALUES (p_user_id, payment.id, p_entry_id, reversed, p_reason, 'REQUESTED', coalesce(p_key, ''), '', '', '', 1,
              now(), now())
      RETURNING * INTO refund;
      UPDATE wallets_wallet SET held = held + reversed, updated_at = now() WHERE id = wallet.id;
      RETURN wallet_refund_result(refund, payment);  -- the key stays in flight until the refund ends
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

-- The gateway cancelled: release the hold, write the reversal (once), answer the key.
CREATE FUNCTION wallet_refund_complete(p_reversal_id uuid, p_event_id uuid, p_topic text, p_transaction_key text)
RETURNS wallet_operation_result LANGUAGE plpgsql AS $$
DECLARE
  refund wallets_refund;
  payment wallets_payment;
  wallet wallets_wallet;
  done ledger_journalentry;
  answer wallet_operation_result;
BEGIN
  SELECT * INTO wallet FROM wallets_wallet
   WHERE user_id = (SELECT user_id FROM wallets_refund WHERE reversal_id = p_reversal_id) FOR UPDATE;
  SELECT * INTO refund FROM wallets_refund WHERE reversal_id = p_reversal_id FOR UPDATE;
  IF refund.id IS NULL THEN
    RAISE EXCEPTION 'no refund %', p_reversal_id USING ERRCODE = 'no_data_found';
  ELSIF refund.status = 'SUCCEEDED' THEN  -- completed by a concurrent attempt: never twice
    SELECT * INTO done FROM ledger_journalentry WHERE id = refund.entry_id;
    RETURN wallet_entry_result('replayed', done);
  ELSIF refund.status <> 'REQUESTED' THEN
    RAISE EXCEPTION 'refund % is %, the gateway cancelled it', p_reversal_id, refund.status
      USING ERRCODE = 'check_violation';
  END IF;
  SELECT * INTO payment FROM wallets_payment WHERE id = refund.payment_id;
  UPDATE wallets_wallet SET held = held - refund.amount WHERE id = wallet.id RETURNING * INTO wallet;
  answer := wallet_entry_apply(
    wallet, 'REVERSAL', -refund.amount, wallet_payment_clearing_account(), refund.reversal_id, p_event_id,
    'REVERSAL_COMPLETED', jsonb_build_object('reversedAmount', refund.amount, 'reason', refund.reason),
    jsonb_build_object('reversedTransactionId', payment.entry_id, 'reversedTransactionType', 'CHARGE'),
    payment.entry_id, '', '', refund.reason, nullif(refund.key, ''), p_topic);
  UPDATE wallets_refund SET status = 'SUCCEEDED', entry_id = refund.reversal_id,
                            gateway_transaction_key = left(p_transaction_key, 64), updated_at = now()
   WHERE id = refund.id;
  RETURN wallet_idempotency_answer(refund.user_id, nullif(refund.key, ''), answer);
END $$;

-- The gateway refused: release the hold, nothing written, the refusal is the key's answer.
CREATE FUNCTION wallet_refund_fail(p_reversal_id uuid, p_code text, p_message text)
RETURNS wallet_operation_result LANGUAGE plpgsql AS $$
DECLARE
  refund wallets_refund;
BEGIN
  PERFORM 1 FROM wallets_wallet
   WHERE user_id = (SELECT user_id FROM wallets_refund WHERE reversal_id = p_reversal_id) FOR UPDATE;
  SELECT * INTO refund FROM wallets_refund WHERE reversal_id = p_reversal_id FOR UPDATE;
  IF refund.id IS NULL THEN
    RAISE EXCEPTION 'no refund %', p_reversal_id USING ERRCODE = 'no_data_found';
  ELSIF refund.status = 'REQUESTED' THEN
    UPDATE wallets_wallet SET held = held - refund.amount, updated_at = now() WHERE user_id = refund.user_id;
    UPDATE wallets_refund SET status = 'FAILED', failure_code = left(p_code, 64),
                              failure_message = left(p_message, 500), updated_at = now()
     WHERE id = refund.id;
  ELSIF refund.status <> 'FAILED' THEN
    RAISE EXCEPTION 'refund % is %, the gateway refused it', p_reversal_id, refund.status
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN wallet_idempotency_answer(refund.user_id, nullif(refund.key, ''),
    wallet_refusal('refund_refused', jsonb_build_object('gatewayCode', p_code, 'gatewayMessage', p_message)));
END $$;

-- Book what the gateway cancelled without us (its console): p_cancelled_total is all it has
-- cancelled of the payment; what our refunds do not account for is reversed now if the
-- wallet covers it, else recorded UNCOVERED for an operator. Nothing to book: refused 'nothing_to_book'.
CREATE FUNCTION wallet_refund_record(
  p_payment_id bigint, p_cancelled_total bigint, p_transaction_key text, p_reversal_id uuid, p_event_id uuid,
  p_topic text, p_reason text
) RETURNS wallet_operation_result LANGUAGE plpgsql AS $$
DECLARE
  payment wallets_payment;
  wallet wallets_wallet;
  excess bigint;
BEGIN
  SELECT * INTO payment FROM wallets_payment WHERE id = p_payment_id;
  SELECT * INTO wallet FROM wallets_wallet WHERE user_id = payment.user_id FOR UPDATE;
  SELECT * INTO payment FROM wallets_payment WHERE id = p_payment_id FOR UPDATE;
  excess := p_cancelled_total - coalesce((SELECT sum(amount) FROM wallets_refund WHERE payment_id = payment.id
                                           AND status IN ('REQUESTED', 'SUCCEEDED', 'UNCOVERED')), 0);
  IF payment.status <> 'CREDITED' OR excess <= 0 THEN
    RETURN wallet_refusal('nothing_to_book', NULL);
  END IF;
  INSERT INTO wallets_refund (user_id, payment_id, reversal_id, amount, reason, status, key, gateway_transaction_key,
                              failure_code, failure_message, attempts, created_at, updated_at)
  VALUES (payment.user_id, payment.id, p_reversal_id, excess, p_reason,
          CASE WHEN wallet.balance - wallet.held >= excess THEN 'REQUESTED' ELSE 'UNCOVERED' END, '',
          left(p_transaction_key, 64), '', '', 1, now(), now());
  IF wallet.balance - wallet.held < excess THEN
    RETURN wallet_refusal('insufficient_funds', jsonb_build_object('amount', excess, 'balance',
                          wallet.balance - wallet.held, 'reversal', true));
  END IF;
  UPDATE wallets_wallet SET held = held + excess WHERE id = wallet.id;
  RETURN wallet_refund_complete(p_reversal_id, p_event_id, p_topic, p_transaction_key);
END $$;
"""


def _functions_of_0003(*names: str) -> str:
    """The statements of migration 0003 that create these functions, as replacements (to go back)."""
    forward = importlib.import_module("wallets.migrations.0003_wallet_operations").FORWARD
    found = {m[1]: m[0] for m in re.finditer(r"CREATE FUNCTION (\w+)\(.*?\$\$;", forward, flags=re.S)}
    return "".join(found[name].replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1) + "\n" for name in names)


BACKWARD = r"""
DROP FUNCTION wallet_refund_record(bigint, bigint, text, uuid, uuid, text, text);
DROP FUNCTION wallet_refund_fail(uuid, text, text);
DROP FUNCTION wallet_refund_complete(uuid, uuid, text, text);
""" + _functions_of_0003("wallet_spend", "wallet_reverse") + r"""
DROP FUNCTION wallet_refund_result(wallets_refund, wallets_payment);
"""


class Migration(migrations.Migration):

    dependencies = [
        ("ledger", "0004_idempotency_key_not_unique_on_entries"),
        ("wallets", "0003_wallet_operations"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="wallet",
            name="held",
            field=models.BigIntegerField(default=0, db_default=0),
        ),
        migrations.AddConstraint(
            model_name="wallet",
            constraint=models.CheckConstraint(condition=models.Q(held__gte=0, held__lte=models.F("balance")),
                                              name="wallet_held_within_balance"),
        ),
        migrations.CreateModel(
            name="Refund",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("reversal_id", models.UUIDField(unique=True)),
                ("amount", models.BigIntegerField()),
                ("reason", models.CharField(blank=True, default="", max_length=200)),
                ("status", models.CharField(choices=[("REQUESTED", "Requested"), ("SUCCEEDED", "Succeeded"),
                                                     ("FAILED", "Failed"), ("UNCOVERED", "Uncovered")],
                                            default="REQUESTED", max_length=16)),
                ("key", models.CharField(blank=True, default="", max_length=255)),
                ("gateway_transaction_key", models.CharField(blank=True, default="", max_length=64)),
                ("failure_code", models.CharField(blank=True, default="", max_length=64)),
                ("failure_message", models.CharField(blank=True, default="", max_length=500)),
                ("attempts", models.PositiveIntegerField(default=0)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("entry", models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT,
                                               related_name="refund", to="ledger.journalentry")),
                ("payment", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="refunds",
                                              to="wallets.payment")),
                ("user", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="refunds",
                                           to=settings.AUTH_USER_MODEL)),
            ],
            options={
                "indexes": [models.Index(condition=models.Q(status="REQUESTED"), fields=["created_at"],
                                         name="refund_requested_idx")],
                "constraints": [
                    models.CheckConstraint(condition=models.Q(amount__gt=0), name="refund_amount_positive"),
                    models.CheckConstraint(
                        condition=models.Q(status="SUCCEEDED", entry__isnull=False)
                        | (~models.Q(status="SUCCEEDED") & models.Q(entry__isnull=True)),
                        name="refund_succeeded_has_entry"),
                    models.UniqueConstraint(fields=["user", "key"], condition=models.Q(status="REQUESTED") & ~models.Q(key=""),
                                            name="refund_requested_key_unique"),
                ],
            },
        ),
        migrations.RunSQL(FORWARD, BACKWARD),
    ]

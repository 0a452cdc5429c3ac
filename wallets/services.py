"""Wallet operations: charge, spend, reverse, each with its Idempotency-Key protocol.

Every operation is one PostgreSQL function (``wallets/sql/``) called in one
statement: the key claim, the wallet lock, the checks, the journal entry with its
postings, the balance, the outbox event and the key's recorded answer commit
together or not at all. A spend or a reversal is one round trip to PostgreSQL; a
charge is two (the payment is recorded before the gateway is asked, and
credited after), plus one if the gateway declines.

Concurrency: every operation of a user locks that user's wallet row first, so
operations on one wallet run one at a time and each sees the balance left by the
previous one. A charge locks its payment row before the wallet; nothing locks in
the other order, so there is no deadlock.

Idempotency (Stripe's semantics), with an ``IdempotencyKey``:
- a new key: the operation runs and its answer (the entry, or a refusal) is recorded;
- the same key and request again: the recorded answer, marked ``replayed``;
- the same key, another request: ``idempotency_key_reused`` (422);
- the same key while its first request still runs: ``idempotency_request_in_flight``
  (409); a charge's key left in flight by a request that died is taken over after
  ``IDEMPOTENCY_IN_FLIGHT_TIMEOUT_S``.

Reversal rules (see docs/invariants.md):
- charges and spends can be reversed, reversals cannot;
- a reversal may be partial; the reversals of one entry never add up to more
  than its amount; with no amount, a reversal takes what is left;
- reversing a spend gives the money back to the wallet (from merchant settlement);
- reversing a charge takes the money out of the wallet (back to payment
  clearing), and only if the balance covers it; a charge made through a gateway
  is refunded on the card first, as a saga (``wallets/sql/wallet_reverse.sql``: hold, cancel at the
  gateway, debit), and the wallet is debited if and only if the gateway cancels.
"""

import collections
import dataclasses
import enum
import hashlib
import json
import logging
import uuid
from datetime import date, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from psycopg.types.json import Jsonb

from accounts.services import operator_action_record
from outbox.services import outbox_relay_trigger
from prepaid.crypto import seal, unseal
from prepaid.db import delete_in_batches
from prepaid.errors import ApplicationError, CommonErrorCode
from prepaid.money import CURRENCY
from wallets import metrics, selectors
from wallets.errors import WalletErrorCode, WalletRefusal, wallet_error
from wallets.models import (
    EXPIRED_BALANCE_REFUND_NOTE,
    REMAINING_BALANCE_REFUND_NOTE,
    ChargeOrder,
    CustodyReport,
    Hold,
    HoldStatus,
    IdempotencyRecord,
    Operation,
    OperationKind,
    Payment,
    PaymentStatus,
    Payout,
    PayoutStatus,
    ReconcileRun,
    Refund,
    RefundGround,
    RefundRequest,
    RefundRequestStatus,
    RefundStatus,
    Wallet,
    WalletTier,
    account_number_masked,
)
from wallets.payments import GatewayPayment, PaymentDeclined, PaymentGatewayUnavailable, payment_gateway
from wallets.payouts import (
    BANK_CODES,
    BankAccount,
    PayoutGatewayUnavailable,
    PayoutRefused,
    payout_gateway,
)

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class IdempotencyKey:
    """A client's Idempotency-Key and the fingerprint of the request it came with."""

    key: str
    fingerprint: str


def idempotency_key(*, key: str, method: str, path: str, body: object) -> IdempotencyKey:
    """The key of a request; its fingerprint covers the method, the path and the JSON body (canonical)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    # surrogatepass: a lone surrogate (valid JSON, not valid UTF-8) is hashed, then refused by validation.
    digest = hashlib.sha256(f"{method} {path}\n{canonical}".encode("utf-8", "surrogatepass")).hexdigest()
    return IdempotencyKey(key=key, fingerprint=digest)


@dataclasses.dataclass(frozen=True)
class WalletOperation:
    """What an operation did: the wallet operation written (with ``balance_after``, the wallet's balance
    after it). ``replayed``: it was written by an earlier request with the same Idempotency-Key, and
    is that request's answer again."""

    transaction: Operation
    replayed: bool = False


class Outcome(enum.StrEnum):
    """What a wallet operation function answered (wallets/sql/wallet_operation_result.sql)."""

    DONE = "done"  # the entry was written
    REPLAYED = "replayed"  # the same request was answered before: its entry or its refusal
    REFUSED = "refused"  # a rule said no: error_code and error_detail
    STARTED = "started"  # a charge was claimed and its payment recorded: the gateway is asked next
    REFUNDING = "refunding"  # a refund's amount is held: the gateway is asked to cancel next
    NOT_APPLIED = "not_applied"  # an item of an all-or-nothing batch that was refused: rolled back, or never run


# A row of the SQL functions' wallet_operation_result (wallets/sql/wallet_operation_result.sql).
_Result = collections.namedtuple("_Result", [
    "outcome", "error_code", "error_detail", "entry_id", "kind", "amount", "balance_after", "reverses_id",
    "payment_key", "order_id", "description", "created_at", "payment_id",
])


def _call(function: str, **params) -> _Result:
    """One wallet operation function, in its own transaction (one statement in autocommit)."""
    # An operation commits on its own: inside a caller's transaction its commit would
    # not be one (what atomic(durable=True) refuses). Test cases' own blocks are allowed.
    if connection.in_atomic_block and not connection.atomic_blocks[-1]._from_testcase:
        raise RuntimeError("A wallet operation is durable: it cannot run inside another atomic block.")
    placeholders = ", ".join(f"p_{name} => %({name})s" for name in params)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(_Result._fields)} FROM {function}({placeholders})", params)  # noqa: S608
        return _Result(*cursor.fetchone())


def _refusal(result: _Result) -> ApplicationError:
    # Django's PostgreSQL backend hands jsonb over as text (its JSONField decodes it).
    detail = json.loads(result.error_detail) if isinstance(result.error_detail, str) else result.error_detail
    return wallet_error(result.error_code, detail, replayed=result.outcome == Outcome.REPLAYED)


def _answer(result: _Result, *, user_id: int, event_id: uuid.UUID | None = None,
            trigger: bool = True) -> WalletOperation:
    """The operation's entry, or its refusal raised as an ApplicationError. ``trigger``: queue the relay
    (a batch queues it once for all its items)."""
    if result.error_code:
        raise _refusal(result)
    entry = Operation(entry_id=result.entry_id, kind=result.kind, user_id=user_id, amount=result.amount,
                      reverses_id=result.reverses_id, payment_key=result.payment_key, order_id=result.order_id,
                      description=result.description, created_at=result.created_at)
    entry.balance_after = result.balance_after  # the wallet's, after it (its posting's)
    entry._state.adding = False  # it is in the database
    if result.outcome == Outcome.DONE:
        # The first line of an event's path (then the relay's "published", the consumer's "record").
        logger.info("committed %s entry=%s event=%s user=%s", result.kind, result.entry_id, event_id, user_id)
        if trigger:  # the operation has committed: its events can go (a transfer's, a return's: two users')
            outbox_relay_trigger(None if result.kind in (OperationKind.TRANSFER, OperationKind.REVERSAL)
                                 else [str(user_id)])
    return WalletOperation(transaction=entry, replayed=result.outcome == Outcome.REPLAYED)


def _key_params(idempotency: IdempotencyKey | None) -> dict:
    return {
        "key": idempotency.key if idempotency else None,
        "fingerprint": idempotency.fingerprint if idempotency else None,
        "key_ttl": timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL_S),
        "in_flight_timeout": timedelta(seconds=settings.IDEMPOTENCY_IN_FLIGHT_TIMEOUT_S),
    }


def _counted(kind: str, run) -> WalletOperation:
    """Run an operation, counting its outcome (prepaid_wallet_operations_total)."""
    try:
        operation = run()
    except ApplicationError as exc:
        unavailable = exc.code in (WalletErrorCode.PAYMENT_GATEWAY_UNAVAILABLE, WalletErrorCode.REFUND_PENDING)
        metrics.OPERATIONS.labels(kind, "unavailable" if unavailable else "refused").inc()
        raise
    metrics.OPERATIONS.labels(kind, "replayed" if operation.replayed else "done").inc()
    return operation


def _check_amount(amount: int, *, field: str = "amount") -> None:
    # The API validates first; this guards every other caller (commands, shell, tasks).
    if type(amount) is not int or not 1 <= amount <= settings.WALLET_AMOUNT_MAX:
        raise ApplicationError(
            CommonErrorCode.INVALID_INPUT,
            f"{field}: " + _("must be an integer number of won from 1 to %(max)s") % {
                "max": f"{settings.WALLET_AMOUNT_MAX:,}"},
            fields={field: [_("Must be an integer from 1 to %(max)s.") % {"max": settings.WALLET_AMOUNT_MAX}]},
        )


# --- Spend -----------------------------------------------------------------------


def wallet_spend(*, user_id: int, amount: int, description: str,
                 idempotency: IdempotencyKey | None = None) -> WalletOperation:
    return _counted("spend", lambda: _spend(user_id=user_id, amount=amount, description=description,
                                           idempotency=idempotency))


def _spend(*, user_id: int, amount: int, description: str, idempotency: IdempotencyKey | None) -> WalletOperation:
    _check_amount(amount)
    event_id = uuid.uuid4()
    result = _call(
        "wallet_spend", user_id=user_id, amount=amount, description=description, entry_id=uuid.uuid4(),
        event_id=event_id, topic=settings.KAFKA_TOPIC_WALLET_EVENTS, **_key_params(idempotency),
    )
    return _answer(result, user_id=user_id, event_id=event_id)


# --- Transfer (송금) --------------------------------------------------------------


def wallet_transfer(*, user_id: int, to: str, amount: int, message: str,
                    idempotency: IdempotencyKey | None = None) -> WalletOperation:
    """Send ``amount`` won to the user named ``to`` (``wallets/sql/wallet_transfer.sql``): final for the
    sender; the recipient may send it back (``wallet_reverse`` on it)."""
    return _counted("transfer", lambda: _transfer(user_id=user_id, to=to, amount=amount, message=message,
                                                  idempotency=idempotency))


def _transfer(*, user_id: int, to: str, amount: int, message: str,
              idempotency: IdempotencyKey | None) -> WalletOperation:
    _check_amount(amount)
    recipient = selectors.recipient_get(username=to)
    if recipient is None:
        raise wallet_error(WalletErrorCode.RECIPIENT_NOT_FOUND, {"to": to})
    event_id = uuid.uuid4()
    day_start = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    result = _call(
        "wallet_transfer", user_id=user_id, recipient_id=recipient.id, amount=amount, message=message,
        entry_id=uuid.uuid4(), sent_event_id=event_id, received_event_id=uuid.uuid4(),
        topic=settings.KAFKA_TOPIC_WALLET_EVENTS, limits=Jsonb(selectors.tier_limits()), day_start=day_start,
        **_key_params(idempotency),
    )
    return _answer(result, user_id=user_id, event_id=event_id)


def transfer_return_by_operator(*, transaction_id: uuid.UUID, reason: str, by) -> WalletOperation:
    """Send a transfer back from its recipient's wallet to its sender's, as its recipient may, on an
    operator's decision (a mistaken or fraudulent transfer); recorded with the reason."""
    if not reason.strip():
        raise ApplicationError(CommonErrorCode.INVALID_INPUT, "reason: " + _("an operator's return needs a reason"),
                               fields={"reason": [_("Required.")]})
    transfer = Operation.objects.filter(pk=transaction_id, kind=OperationKind.TRANSFER).first()
    if transfer is None:
        raise wallet_error(WalletErrorCode.TRANSACTION_NOT_FOUND, {"transactionId": str(transaction_id)})
    operation = wallet_reverse(user_id=transfer.counterparty_id, transaction_id=transfer.pk, amount=None,
                               reason=f"운영자 반환: {reason.strip()}"[:settings.WALLET_TEXT_MAX_LENGTH])
    operator_action_record(user=by, action="transfer_return", target=f"transaction:{transfer.pk}",
                           detail=f"{operation.transaction.amount} won: {reason.strip()}"[:500])
    return operation


# --- Verification tiers ---------------------------------------------------------------

TIER_SOURCES = ("operator", "identity_provider")


def wallet_tier_set(*, user_id: int, tier: str, by, source: str = "operator", reason: str = "",
                    reference: str = "") -> tuple[str, str]:
    """Set the user's verification tier (opening the wallet if it has none): what bounds its balance and
    its daily transfers from the next operation on. ``source``: an operator (the admin, the staff API) or
    the identity provider's hook (its ``reference``: the verification's id there). Recorded as an operator
    action, with the tier before and after, in the same transaction. Lowering a tier keeps the balance
    (over the new cap, only money going out is allowed). Returns (before, after)."""
    if tier not in WalletTier.values:
        raise ApplicationError(CommonErrorCode.INVALID_INPUT, "tier: " + _("one of %(tiers)s") % {
            "tiers": ", ".join(WalletTier.values)}, fields={"tier": [_("Unknown tier.")]})
    if source not in TIER_SOURCES:
        raise ValueError(f"source {source!r} is not one of {TIER_SOURCES}")
    if source == "operator" and not reason.strip():
        raise ApplicationError(CommonErrorCode.INVALID_INPUT, "reason: " + _("say why the tier changes"),
                               fields={"reason": [_("Required.")]})
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT wallet_open(%s, %s)", [user_id, CURRENCY])
        wallet = Wallet.objects.select_for_update().get(user_id=user_id)
        before = wallet.tier
        if before != tier:
            Wallet.objects.filter(pk=wallet.pk).update(tier=tier, updated_at=timezone.now())
        detail = f"{before} -> {tier} ({source}{': ' + reference if reference else ''})"
        if reason.strip():
            detail += f": {reason.strip()}"
        operator_action_record(user=by, action="wallet_tier_set", target=f"user:{user_id}", detail=detail[:500])
    logger.info("wallet tier: user=%s %s", user_id, detail)
    return before, tier


# --- Holds: authorize, then capture or void ------------------------------------------

# A row of wallet_hold_result (wallets/sql/wallet_hold_result.sql).
_HoldResult = collections.namedtuple("_HoldResult", [
    "outcome", "error_code", "error_detail", "hold_id", "amount", "captured", "status", "description", "expires_at",
    "created_at", "ended_at", "balance", "available",
])


@dataclasses.dataclass(frozen=True)
class HoldAnswer:
    """A hold after its placement or void, with the wallet's balance and available balance then."""

    hold: Hold
    balance: int
    available: int
    replayed: bool = False


def _hold_call(function: str, **params) -> HoldAnswer:
    if connection.in_atomic_block and not connection.atomic_blocks[-1]._from_testcase:
        raise RuntimeError("A hold operation is durable: it cannot run inside another atomic block.")
    placeholders = ", ".join(f"p_{name} => %({name})s" for name in params)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(_HoldResult._fields)} FROM {function}({placeholders})", params)  # noqa: S608
        result = _HoldResult(*cursor.fetchone())
    if result.error_code:
        detail = json.loads(result.error_detail) if isinstance(result.error_detail, str) else result.error_detail
        raise wallet_error(result.error_code, detail, replayed=result.outcome == Outcome.REPLAYED)
    hold = Hold(id=result.hold_id, user_id=params["user_id"], amount=result.amount, captured=result.captured,
                status=result.status, description=result.description, expires_at=result.expires_at,
                created_at=result.created_at, ended_at=result.ended_at)
    hold._state.adding = False
    if result.outcome == Outcome.DONE:
        outbox_relay_trigger([str(params["user_id"])])
    return HoldAnswer(hold=hold, balance=result.balance, available=result.available,
                      replayed=result.outcome == Outcome.REPLAYED)


def _hold_counted(kind: str, run):
    try:
        answer = run()
    except ApplicationError:
        metrics.OPERATIONS.labels(kind, "refused").inc()
        raise
    metrics.OPERATIONS.labels(kind, "replayed" if answer.replayed else "done").inc()
    return answer


def hold_place(*, user_id: int, amount: int, description: str, expires_in_s: int,
               idempotency: IdempotencyKey | None = None) -> HoldAnswer:
    """Set ``amount`` won aside (``wallets/sql/wallet_hold_place.sql``) until captured, voided or expired
    ``expires_in_s`` seconds from now."""
    _check_amount(amount)
    if type(expires_in_s) is not int or not 1 <= expires_in_s <= settings.HOLD_EXPIRY_MAX_S:
        raise ApplicationError(CommonErrorCode.INVALID_INPUT,
                               "expiresInS: " + _("must be an integer from 1 to %(max)s") % {
                                   "max": settings.HOLD_EXPIRY_MAX_S},
                               fields={"expiresInS": [_("From 1 to %(max)s.") % {"max": settings.HOLD_EXPIRY_MAX_S}]})
    return _hold_counted("hold", lambda: _hold_call(
        "wallet_hold_place", user_id=user_id, hold_id=uuid.uuid4(), amount=amount, description=description,
        expires_at=timezone.now() + timedelta(seconds=expires_in_s), event_id=uuid.uuid4(),
        topic=settings.KAFKA_TOPIC_WALLET_EVENTS, **_key_params(idempotency)))


def hold_void(*, user_id: int, hold_id: uuid.UUID, idempotency: IdempotencyKey | None = None) -> HoldAnswer:
    """Release what is left of an active hold."""
    return _hold_counted("hold_void", lambda: _hold_call(
        "wallet_hold_void", user_id=user_id, hold_id=hold_id, event_id=uuid.uuid4(),
        topic=settings.KAFKA_TOPIC_WALLET_EVENTS, **_key_params(idempotency)))


def hold_capture(*, user_id: int, hold_id: uuid.UUID, amount: int | None, final: bool = False,
                 idempotency: IdempotencyKey | None = None) -> WalletOperation:
    """Take ``amount`` won (default: all that is left) of an active hold: a CAPTURE operation. The hold
    ends when used up or when ``final``."""
    def run():
        if amount is not None:
            _check_amount(amount)
        event_id = uuid.uuid4()
        result = _call("wallet_hold_capture", user_id=user_id, hold_id=hold_id, amount=amount, final=final,
                       entry_id=uuid.uuid4(), event_id=event_id, topic=settings.KAFKA_TOPIC_WALLET_EVENTS,
                       **_key_params(idempotency))
        return _answer(result, user_id=user_id, event_id=event_id)
    return _counted("capture", run)


def hold_expire_due(*, batch_size: int | None = None) -> int:
    """The expiry sweep: end the active holds past their expiry (each in its own transaction, the wallet
    locked first, as a capture locks it); return how many it ended."""
    batch_size = batch_size or settings.HOLD_EXPIRY_BATCH_SIZE
    due = (Hold.objects.filter(status=HoldStatus.ACTIVE, expires_at__lte=timezone.now())
           .order_by("expires_at").values_list("id", flat=True)[:batch_size])
    expired = 0
    for hold_id in due:
        with connection.cursor() as cursor:
            cursor.execute("SELECT wallet_hold_expire(%s, %s, %s)",
                           [hold_id, uuid.uuid4(), settings.KAFKA_TOPIC_WALLET_EVENTS])
            expired += cursor.fetchone()[0]
    if expired:
        metrics.OPERATIONS.labels("hold_expiry", "done").inc(expired)
        outbox_relay_trigger()
    return expired


# --- Reverse -----------------------------------------------------------------------


def wallet_reverse(*, user_id: int, transaction_id: uuid.UUID, amount: int | None, reason: str,
                   idempotency: IdempotencyKey | None = None) -> WalletOperation:
    """Reverse all or part of a charge or a spend. A charge made through a gateway is
    refunded on the card first (``_refund_run``); the wallet is debited when, and only
    when, the gateway has cancelled."""
    return _counted("reversal", lambda: _reverse(user_id=user_id, transaction_id=transaction_id, amount=amount,
                                                 reason=reason, idempotency=idempotency))


def _reverse(*, user_id: int, transaction_id: uuid.UUID, amount: int | None, reason: str,
             idempotency: IdempotencyKey | None) -> WalletOperation:
    if amount is not None:
        _check_amount(amount)
    event_id = uuid.uuid4()
    result = _call(
        "wallet_reverse", user_id=user_id, transaction_id=transaction_id, amount=amount, reason=reason,
        entry_id=uuid.uuid4(), event_id=event_id, topic=settings.KAFKA_TOPIC_WALLET_EVENTS,
        **_key_params(idempotency),
    )
    if result.outcome == Outcome.REFUNDING:
        detail = json.loads(result.error_detail) if isinstance(result.error_detail, str) else result.error_detail
        return _refund_run(reversal_id=result.entry_id, user_id=user_id, gateway=detail["gateway"],
                           payment_key=result.payment_key, amount=result.amount, reason=result.description)
    return _answer(result, user_id=user_id, event_id=event_id)


def _refund_run(*, reversal_id: uuid.UUID, user_id: int, gateway: str, payment_key: str, amount: int,
                reason: str) -> WalletOperation:
    """A REQUESTED refund: ask the payment's gateway to cancel its amount, then complete or fail it.

    The gateway's Idempotency-Key is the refund's ``reversal_id``: asked again (by a
    retry, or by recovery after a crash) it answers what it did the first time and
    cancels once. No answer: the refund stays REQUESTED with its amount held, and
    recovery asks again; the client hears ``refund_pending``.
    """
    try:
        cancel = payment_gateway(gateway).cancel(payment_key=payment_key, amount=amount,
                                                 reason=reason or "wallet reversal", idempotency_key=str(reversal_id))
    except PaymentDeclined as exc:
        failed = _call("wallet_refund_fail", reversal_id=reversal_id, code=exc.code, message=exc.message)
        logger.warning("refund %s refused by %s: %s", reversal_id, gateway, exc.code)
        raise _refusal(failed) from exc
    except PaymentGatewayUnavailable as exc:
        raise wallet_error(WalletErrorCode.REFUND_PENDING) from exc
    # The point of no return is behind us: the money is back on the card.
    event_id = uuid.uuid4()
    done = _call("wallet_refund_complete", reversal_id=reversal_id, event_id=event_id,
                 topic=settings.KAFKA_TOPIC_WALLET_EVENTS, transaction_key=cancel.transaction_key)
    logger.info("refund %s: %s cancelled by %s (%s)", reversal_id, amount, gateway, cancel.transaction_key)
    return _answer(done, user_id=user_id, event_id=event_id)


# --- Remaining-balance refunds (잔액환불) and payouts ----------------------------------------


def bank_account_check(raw: dict | None) -> BankAccount | None:
    """The bank account a client gave (``bankCode``, ``accountNumber``, ``holderName``), checked; None if none."""
    if raw is None:
        return None
    errors = {}
    bank_code = raw.get("bankCode")
    if bank_code not in BANK_CODES:
        errors["bankAccount.bankCode"] = [_("Unknown bank code.")]
    number = raw.get("accountNumber")
    digits = number.replace("-", "") if isinstance(number, str) else ""
    if not (digits.isascii() and digits.isdigit() and 10 <= len(digits) <= 16):
        errors["bankAccount.accountNumber"] = [_("10 to 16 digits (hyphens allowed).")]
    holder = raw.get("holderName")
    if not isinstance(holder, str) or not 1 <= len(holder.strip()) <= 50:
        errors["bankAccount.holderName"] = [_("1 to 50 characters.")]
    if errors:
        field = next(iter(errors))
        raise ApplicationError(CommonErrorCode.INVALID_INPUT, f"{field}: {errors[field][0]}", fields=errors)
    return BankAccount(bank_code=bank_code, account_number=digits, holder_name=holder.strip())


# A refund request's rules, by the name wallet_refund_request_begin reads them with, and their settings.
REFUND_RULES = {"usedPercentMin": "WALLET_REFUND_USED_PERCENT_MIN",
                "smallChargeMaxWon": "WALLET_REFUND_SMALL_CHARGE_MAX_WON",
                "smallChargeUsedPercentMin": "WALLET_REFUND_SMALL_CHARGE_USED_PERCENT_MIN",
                "expiredRefundPercent": "WALLET_EXPIRED_REFUND_PERCENT"}


def _refund_rules() -> dict:
    return {name: getattr(settings, setting) for name, setting in REFUND_RULES.items()}


def refund_request_make(*, user_id: int, bank_account: BankAccount | None, ground: str = RefundGround.USED_SHARE,
                        by=None, idempotency: IdempotencyKey | None = None) -> tuple[RefundRequest, bool]:
    """Refund what is left of the wallet (``wallets/sql/wallet_refund_request_begin.sql``): to the cards it came
    from, newest charge first, and the rest (and the expired balance's refundable share) to ``bank_account``;
    then run it (``refund_request_advance``). ``ground``: the user's own request (``used_share``: the rule of
    the settings) or an operator's grant (``by``: recorded). Returns the request and whether it was made by an
    earlier request with the same key (a repeat runs what is left of it)."""
    if ground not in RefundGround.values:
        raise ValueError(f"ground {ground!r} is not one of {RefundGround.values}")
    if ground != RefundGround.USED_SHARE and by is None:
        raise ValueError("an operator's ground needs the operator (by)")
    event_id = uuid.uuid4()
    result = _call(
        "wallet_refund_request_begin", user_id=user_id, request_id=uuid.uuid4(), ground=ground,
        by=getattr(by, "username", "") if by is not None else "",
        bank_code=bank_account.bank_code if bank_account else None,
        account_number=seal(bank_account.account_number) if bank_account else None,
        account_masked=account_number_masked(bank_account.account_number) if bank_account else None,
        holder_name=bank_account.holder_name if bank_account else None, rules=Jsonb(_refund_rules()),
        payout_gateway=payout_gateway().name, event_id=event_id, topic=settings.KAFKA_TOPIC_WALLET_EVENTS,
        note=REMAINING_BALANCE_REFUND_NOTE, expired_window=timedelta(days=settings.WALLET_EXPIRED_REFUNDABLE_DAYS),
        **_key_params(idempotency))
    if result.error_code:
        metrics.OPERATIONS.labels("refund_request", "refused").inc()
        raise _refusal(result)
    replayed = result.outcome == Outcome.REPLAYED
    metrics.OPERATIONS.labels("refund_request", "replayed" if replayed else "done").inc()
    if not replayed:
        logger.info("refund request %s: user=%s %s won (%s)", result.entry_id, user_id, result.amount, ground)
        outbox_relay_trigger([str(user_id)])
        if by is not None:
            operator_action_record(user=by, action="refund_request", target=f"user:{user_id}",
                                   detail=f"{ground}: request {result.entry_id}, {result.amount} won")
    return refund_request_advance(request_id=result.entry_id), replayed


def refund_request_advance(*, request_id: uuid.UUID) -> RefundRequest:
    """Run what a processing refund request has left to do, each step once however often this runs (the
    request's own call, recovery): its card refunds (``_refund_run``: a refused one's part goes to the bank
    account), its payouts (``_payout_run``), then its end. A gateway that does not answer leaves its step
    REQUESTED for recovery (``payment_recover_pending``)."""
    for refund in Refund.objects.filter(request_id=request_id, status=RefundStatus.REQUESTED).select_related(
            "payment").order_by("id"):
        Refund.objects.filter(id=refund.id).update(attempts=F("attempts") + 1)
        try:
            _refund_run(reversal_id=refund.reversal_id, user_id=refund.user_id, gateway=refund.payment.gateway,
                        payment_key=refund.payment.payment_key, amount=refund.amount, reason=refund.reason)
        except ApplicationError as exc:
            logger.warning("refund request %s: card refund %s: %s", request_id, refund.reversal_id, exc.code)
    with connection.cursor() as cursor:
        cursor.execute("SELECT wallet_payout_begin(%s, %s, %s, %s)",
                       [request_id, uuid.uuid4(), payout_gateway().name, REMAINING_BALANCE_REFUND_NOTE])
    for payout in Payout.objects.filter(request_id=request_id, status=PayoutStatus.REQUESTED).order_by("created_at"):
        _payout_run(payout)
    with connection.cursor() as cursor:
        cursor.execute("SELECT wallet_refund_request_settle(%s, %s, %s)",
                       [request_id, uuid.uuid4(), settings.KAFKA_TOPIC_WALLET_EVENTS])
        status = cursor.fetchone()[0]
    request = RefundRequest.objects.get(id=request_id)
    if status != RefundRequestStatus.PROCESSING:
        outbox_relay_trigger([str(request.user_id)])
        logger.info("refund request %s: %s", request_id, status)
    return request


def _payout_run(payout: Payout) -> None:
    """Ask the payout's gateway to pay it (its id the gateway's Idempotency-Key: asked again, it pays once),
    then complete or fail it; no answer leaves it REQUESTED for recovery."""
    Payout.objects.filter(id=payout.id).update(attempts=F("attempts") + 1)
    request = payout.request
    account = BankAccount(bank_code=request.bank_code, account_number=unseal(request.account_number),
                          holder_name=request.holder_name)
    try:
        paid = payout_gateway(payout.gateway).pay(account=account, amount=payout.amount, idempotency_key=str(payout.id))
    except PayoutRefused as exc:
        with connection.cursor() as cursor:
            cursor.execute("SELECT wallet_payout_fail(%s, %s, %s)", [payout.id, exc.code, exc.message])
        logger.warning("payout %s refused by %s: %s", payout.id, payout.gateway, exc.code)
        return
    except PayoutGatewayUnavailable:
        logger.warning("payout %s: %s did not answer; recovery asks again", payout.id, payout.gateway)
        return
    event_id = uuid.uuid4()
    done = _call("wallet_payout_complete", payout_id=payout.id, event_id=event_id,
                 topic=settings.KAFKA_TOPIC_WALLET_EVENTS, transaction_key=paid.transaction_key,
                 note=EXPIRED_BALANCE_REFUND_NOTE if payout.from_expired else REMAINING_BALANCE_REFUND_NOTE)
    logger.info("payout %s: %s paid by %s (%s)", payout.id, payout.amount, payout.gateway, paid.transaction_key)
    if done.outcome == Outcome.DONE:
        logger.info("committed PAYOUT entry=%s event=%s user=%s", payout.id, event_id, payout.user_id)


# --- Expiry ----------------------------------------------------------------------------


def balance_expiry_sweep(*, batch_size: int | None = None) -> dict[str, int]:
    """Notices, then expiries (``wallets/sql/wallet_expiry_notice.sql``, ``wallet_expire.sql``): each
    ``WALLET_EXPIRY_NOTICE_DAYS_BEFORE`` threshold's notices to the wallets with money expiring within it, then
    the expiry of what is past ``WALLET_BALANCE_VALIDITY_DAYS``; at most ``batch_size`` wallets each (the
    next run goes on). Returns how many of each were written."""
    batch_size = batch_size or settings.WALLET_EXPIRY_BATCH_SIZE
    validity = timedelta(days=settings.WALLET_BALANCE_VALIDITY_DAYS)
    topic = settings.KAFKA_TOPIC_WALLET_EVENTS
    counts = {"notices": 0, "expiries": 0}
    touched = set()
    for days in settings.WALLET_EXPIRY_NOTICE_DAYS_BEFORE:
        for user_id in selectors.wallets_expiring(within=timedelta(days=days), limit=batch_size):
            with connection.cursor() as cursor:
                cursor.execute("SELECT wallet_expiry_notice(%s, %s, %s, %s, %s, %s)",
                               [user_id, days, validity, uuid.uuid4(), uuid.uuid4(), topic])
                if cursor.fetchone()[0]:
                    counts["notices"] += 1
                    touched.add(str(user_id))
    for user_id in selectors.wallets_expiring(within=timedelta(0), limit=batch_size):
        result = _call("wallet_expire", user_id=user_id, validity=validity,
                       refundable=timedelta(days=settings.WALLET_EXPIRED_REFUNDABLE_DAYS),
                       refund_percent=settings.WALLET_EXPIRED_REFUND_PERCENT, entry_id=uuid.uuid4(),
                       event_id=uuid.uuid4(), topic=topic)
        if result.outcome == Outcome.DONE:
            counts["expiries"] += 1
            touched.add(str(user_id))
            metrics.OPERATIONS.labels("expiry", "done").inc()
            logger.info("committed EXPIRY entry=%s user=%s amount=%s", result.entry_id, user_id, result.amount)
    if touched:
        outbox_relay_trigger(sorted(touched))
    return counts


# --- Batches ----------------------------------------------------------------------

BATCH_KINDS = ("spend", "transfer", "reversal", "capture")
# What each item of wallet_batch's p_items may hold (``_batch_item_params``).
BATCH_ITEM_FIELDS = ("type", "key", "fingerprint", "entryId", "eventId", "receivedEventId", "amount", "description",
                     "to", "message", "transactionId", "reason", "holdId", "final")


@dataclasses.dataclass(frozen=True)
class BatchItem:
    """One operation of a batch (``kind``: one of ``BATCH_KINDS``) with the fields it takes alone and
    its own Idempotency-Key (its fingerprint: the request the operation alone would be, so that the
    same key replays across a batch and the operation's own endpoint)."""

    kind: str
    idempotency: IdempotencyKey
    amount: int | None = None
    description: str = ""  # a spend's
    to: str = ""  # a transfer's recipient (username)
    message: str = ""  # a transfer's
    transaction_id: uuid.UUID | None = None  # a reversal's
    reason: str = ""  # a reversal's
    hold_id: uuid.UUID | None = None  # a capture's
    final: bool = False  # a capture's


@dataclasses.dataclass(frozen=True)
class BatchItemAnswer:
    """An item's answer: its operation (``operation``) or its refusal (``error``), as alone; neither: not
    applied (an all-or-nothing batch refused another item)."""

    operation: WalletOperation | None = None
    error: ApplicationError | None = None


@dataclasses.dataclass(frozen=True)
class BatchAnswer:
    items: list[BatchItemAnswer]
    atomic: bool
    # An atomic batch with an item not done: the index of that item; nothing was applied.
    refused_index: int | None = None


def _batch_item_params(item: BatchItem) -> dict:
    params = {"type": item.kind, "key": item.idempotency.key, "fingerprint": item.idempotency.fingerprint,
              "entryId": str(uuid.uuid4()), "eventId": str(uuid.uuid4()), "amount": item.amount}
    if item.kind == "spend":
        params["description"] = item.description
    elif item.kind == "transfer":
        params.update(to=item.to, message=item.message, receivedEventId=str(uuid.uuid4()))
    elif item.kind == "reversal":
        params.update(transactionId=str(item.transaction_id), reason=item.reason)
    else:
        params.update(holdId=str(item.hold_id), final=item.final)
    return params


def wallet_batch(*, user_id: int, items: list[BatchItem], atomic: bool = False) -> BatchAnswer:
    """Run ``items`` (spends, transfers, reversals, hold captures) on the user's wallet in one statement,
    one transaction (``wallets/sql/wallet_batch.sql``): each as alone (its key, answer, events), or all or
    nothing with ``atomic``. A card refund in a batch that is not atomic is finished after it, as alone."""
    if not 1 <= len(items) <= settings.WALLET_BATCH_ITEMS_MAX:
        raise ApplicationError(CommonErrorCode.INVALID_INPUT,
                               "items: " + _("from 1 to %(max)s operations") % {"max": settings.WALLET_BATCH_ITEMS_MAX},
                               fields={"items": [_("From 1 to %(max)s items.") % {
                                   "max": settings.WALLET_BATCH_ITEMS_MAX}]})
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        if item.kind not in BATCH_KINDS:
            raise ApplicationError(CommonErrorCode.INVALID_INPUT, f"items[{index}].type: " + _("one of %(kinds)s") % {
                                   "kinds": BATCH_KINDS}, fields={f"items[{index}].type": [_("Unknown type.")]})
        if item.amount is not None or item.kind in ("spend", "transfer"):
            _check_amount(item.amount, field=f"items[{index}].amount")
        if item.idempotency.key in seen:
            field = f"items[{index}].idempotencyKey"
            same = _("items[%(other)s] has the same key; each operation needs its own") % {
                "other": seen[item.idempotency.key]}
            raise ApplicationError(CommonErrorCode.INVALID_INPUT, f"{field}: {same}", fields={field: [_("Repeated.")]})
        seen[item.idempotency.key] = index
    params = [_batch_item_params(item) for item in items]
    day_start = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    key = _key_params(None)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(_Result._fields)} FROM wallet_batch(%s, %s, %s, %s, %s, %s, %s, %s)",  # noqa: S608
            [user_id, Jsonb(params), atomic, settings.KAFKA_TOPIC_WALLET_EVENTS, Jsonb(selectors.tier_limits()),
             day_start, key["key_ttl"], key["in_flight_timeout"]])
        rows = [_Result(*row) for row in cursor.fetchall()]
    # All or nothing: the one item not done (its refusal; every other is not_applied), if any.
    refused_index = next((i for i, row in enumerate(rows) if row.outcome != Outcome.NOT_APPLIED and (
        row.error_code or row.outcome not in (Outcome.DONE, Outcome.REPLAYED))), None) if atomic else None
    answers = [_batch_item_answer(item, row, param, user_id=user_id)
               for item, row, param in zip(items, rows, params, strict=True)]
    if any(answer.operation and not answer.operation.replayed for answer in answers):
        # Once for the batch: its transfers' recipients' events go to other partitions.
        outbox_relay_trigger(None if any(item.kind in ("transfer", "reversal") for item in items)
                             else [str(user_id)])
    return BatchAnswer(items=answers, atomic=atomic, refused_index=refused_index)


def batch_refusal(answer: BatchAnswer) -> ApplicationError:
    """An all-or-nothing batch not applied: ``batch_refused``, naming the item and saying why in its fields
    (``items[i]``: its code; ``items[i].<field>``: its own field messages)."""
    index = answer.refused_index
    refused = answer.items[index].error
    error = wallet_error(WalletErrorCode.BATCH_REFUSED, {"index": index, "code": refused.code,
                                                         "message": refused.message})
    error.fields = {f"items[{index}]": [str(refused.code)],
                    **{f"items[{index}].{name}": messages for name, messages in (refused.fields or {}).items()}}
    return error


def _batch_item_answer(item: BatchItem, row: _Result, param: dict, *, user_id: int) -> BatchItemAnswer:
    if row.outcome == Outcome.NOT_APPLIED:
        return BatchItemAnswer()  # rolled back with its all-or-nothing batch, or never run
    try:
        if row.outcome == Outcome.REFUNDING:  # a card refund (not atomic): the gateway, as alone
            detail = json.loads(row.error_detail) if isinstance(row.error_detail, str) else row.error_detail
            operation = _refund_run(reversal_id=row.entry_id, user_id=user_id, gateway=detail["gateway"],
                                    payment_key=row.payment_key, amount=row.amount, reason=row.description)
        else:
            operation = _answer(row, user_id=user_id, event_id=uuid.UUID(param["eventId"]), trigger=False)
    except ApplicationError as exc:
        unavailable = exc.code in (WalletErrorCode.PAYMENT_GATEWAY_UNAVAILABLE, WalletErrorCode.REFUND_PENDING)
        metrics.OPERATIONS.labels(item.kind, "unavailable" if unavailable else "refused").inc()
        return BatchItemAnswer(error=exc)
    metrics.OPERATIONS.labels(item.kind, "replayed" if operation.replayed else "done").inc()
    return BatchItemAnswer(operation=operation)


# --- Charge (through the payment gateway) ----------------------------------------


def _payment_credit(*, payment_id: int, user_id: int, key: str | None) -> WalletOperation:
    """Credit a confirmed payment to its wallet, once."""
    event_id = uuid.uuid4()
    result = _call(
        "wallet_charge_credit", payment_id=payment_id, key=key, entry_id=uuid.uuid4(), event_id=event_id,
        topic=settings.KAFKA_TOPIC_WALLET_EVENTS, currency=CURRENCY,
    )
    return _answer(result, user_id=user_id, event_id=event_id)


def _payment_confirm(*, payment: Payment, key: str | None) -> None:
    """Ask the gateway (outside any transaction: no lock is held while waiting for it).

    A decline fails the payment (and records the refusal under the key); no answer
    leaves it PENDING, for a retry or recovery. Either raises ApplicationError.
    """
    try:
        payment_gateway().confirm(payment_key=payment.payment_key, order_id=payment.order_id, amount=payment.amount)
    except PaymentDeclined as exc:
        declined = _call("wallet_charge_decline", payment_id=payment.id, key=key, code=exc.code, message=exc.message)
        raise _refusal(declined) from exc
    except PaymentGatewayUnavailable as exc:
        # Outcome unknown: nothing is recorded under the key (the client retries with it).
        if key is not None:
            IdempotencyRecord.objects.filter(user_id=payment.user_id, key=key, completed_at=None).delete()
        raise wallet_error(WalletErrorCode.PAYMENT_GATEWAY_UNAVAILABLE) from exc


def wallet_charge(*, user_id: int, amount: int, payment_key: str, order_id: str,
                  idempotency: IdempotencyKey | None = None) -> WalletOperation:
    """Charge the wallet: record the payment PENDING, ask the gateway, credit it once."""
    return _counted("charge", lambda: _charge(user_id=user_id, amount=amount, payment_key=payment_key,
                                              order_id=order_id, idempotency=idempotency))


def _charge(*, user_id: int, amount: int, payment_key: str, order_id: str,
            idempotency: IdempotencyKey | None) -> WalletOperation:
    _check_amount(amount)
    gateway = payment_gateway()
    begun = _call(
        "wallet_charge_begin", user_id=user_id, amount=amount, payment_key=payment_key, order_id=order_id,
        gateway=gateway.name, limits=Jsonb(selectors.tier_limits()), **_key_params(idempotency),
    )
    if begun.outcome != Outcome.STARTED:
        return _answer(begun, user_id=user_id)  # replayed, or refused
    payment = Payment(id=begun.payment_id, user_id=user_id, amount=amount, payment_key=payment_key,
                      order_id=order_id)
    key = idempotency.key if idempotency else None
    _payment_confirm(payment=payment, key=key)
    operation = _payment_credit(payment_id=payment.id, user_id=user_id, key=key)
    logger.info("charge committed: user=%s amount=%s order=%s entry=%s", user_id, amount, order_id,
                operation.transaction.id)
    return operation


def _payment_settle(payment: Payment) -> str:
    """Settle a PENDING payment by what its gateway says about its order: paid there →
    credited once; never paid there → FAILED; awaiting its confirm → confirmed again
    (safe to repeat). Returns the outcome; raises ApplicationError when the gateway
    does not answer or declines."""
    gateway = payment_gateway(payment.gateway)
    try:
        found = gateway.payment_of_order(payment.order_id)
    except PaymentGatewayUnavailable as exc:
        raise wallet_error(WalletErrorCode.PAYMENT_GATEWAY_UNAVAILABLE) from exc
    if found is not None and found.payment_key and (found.payment_key, found.total_amount) != (
            payment.payment_key, payment.amount):
        logger.error("payment %s: the gateway's payment of this order is another (%s, %s): left for an operator",
                     payment.order_id, found.payment_key, found.total_amount)
        return "skipped"
    if found is None or found.status in GatewayPayment.NEVER_PAID or found.status == "CANCELED":
        code = found.status if found else "NOT_FOUND_PAYMENT"
        _call("wallet_charge_decline", payment_id=payment.id, key=None, code=code,
              message="the gateway has no paid payment for this order")
        return "failed"
    if found.status in GatewayPayment.AWAITING_CONFIRM:
        _payment_confirm(payment=payment, key=None)
    elif found.status not in GatewayPayment.PAID:
        return "skipped"  # e.g. a virtual account waiting for its deposit
    _payment_credit(payment_id=payment.id, user_id=payment.user_id, key=None)
    return "credited"


def charge_order_create(*, user_id: int, amount: int) -> ChargeOrder:
    """Register a charge before the customer pays (the order the checkout widget is opened with)."""
    _check_amount(amount)
    wallet = selectors.wallet_get(user_id=user_id)
    tier = wallet.tier if wallet else WalletTier.UNVERIFIED
    balance_max = selectors.tier_limits()[tier]["balanceMax"]
    if (wallet.balance if wallet else 0) + amount > balance_max:
        raise wallet_error(WalletErrorCode.BALANCE_LIMIT_EXCEEDED, {"balanceMax": balance_max, "tier": tier})
    return ChargeOrder.objects.create(order_id=f"order-{uuid.uuid4().hex[:24]}", user_id=user_id, amount=amount,
                                      order_name=f"지갑 충전 {amount:,}원")


def charge_order_confirm(*, user_id: int, order_id: str, payment_key: str, amount: int) -> WalletOperation:
    """The customer paid for a registered order (the checkout came back with a payment key):
    confirm it for this user, this order and this amount only, then credit it once.

    The order id is the Idempotency-Key, so the checkout's return (reloaded, or opened
    twice) gets the same answer and never charges twice."""
    order = selectors.charge_order_get(user_id=user_id, order_id=order_id)
    if order is None:
        raise wallet_error(WalletErrorCode.ORDER_NOT_FOUND, {"orderId": order_id})
    if amount != order.amount:  # tampered with on the way back: the gateway is not asked
        raise wallet_error(WalletErrorCode.AMOUNT_MISMATCH, {"amount": amount, "ordered": order.amount})
    key = idempotency_key(key=f"checkout:{order_id}", method="CHECKOUT", path=order_id,
                          body={"paymentKey": payment_key, "amount": amount})
    return wallet_charge(user_id=user_id, amount=amount, payment_key=payment_key, order_id=order_id,
                         idempotency=key)


def customer_key(user_id: int) -> str:
    """The customer key Toss's widget is opened with: stable per user, not guessable from the id."""
    return "customer-" + salted_hmac("prepaid.wallets.customer_key", str(user_id)).hexdigest()[:32]


def payment_recover_pending(*, older_than_s: int | None = None, batch_size: int | None = None) -> dict[str, int]:
    """Settle PENDING payments left by requests that died or timed out between confirm and
    credit, and REQUESTED refunds left the same way between cancel and debit."""
    older_than_s = settings.PAYMENT_RECOVERY_AFTER_S if older_than_s is None else older_than_s
    batch_size = batch_size or settings.PAYMENT_RECOVERY_BATCH_SIZE
    cutoff = timezone.now() - timedelta(seconds=older_than_s)
    counts = {"credited": 0, "failed": 0, "unavailable": 0, "skipped": 0, "refunded": 0, "refund_failed": 0,
              "refund_unavailable": 0}
    pending = Payment.objects.filter(status=PaymentStatus.PENDING, created_at__lte=cutoff).order_by("id")
    for payment in pending[:batch_size]:
        Payment.objects.filter(id=payment.id).update(attempts=F("attempts") + 1)
        try:
            outcome = _payment_settle(payment)
        except ApplicationError as exc:
            outcome = {
                WalletErrorCode.PAYMENT_DECLINED: "failed",
                WalletErrorCode.PAYMENT_GATEWAY_UNAVAILABLE: "unavailable",
            }.get(exc.code, "skipped")
        counts[outcome] += 1
        logger.log(logging.INFO if outcome == "credited" else logging.WARNING,
                   "payment recovery: order=%s %s", payment.order_id, outcome)
    refunds = Refund.objects.filter(status=RefundStatus.REQUESTED, created_at__lte=cutoff, request__isnull=True)
    for refund_id in refunds.order_by("id").values_list("id", flat=True)[:batch_size]:
        outcome = refund_resume(refund_id=refund_id)
        counts[outcome] += 1
        logger.log(logging.INFO if outcome == "refunded" else logging.WARNING,
                   "refund recovery: %s %s", refund_id, outcome)
    counts["refund_requests"] = 0
    requests = RefundRequest.objects.filter(status=RefundRequestStatus.PROCESSING, created_at__lte=cutoff)
    for request_id in requests.order_by("created_at").values_list("id", flat=True)[:batch_size]:
        request = refund_request_advance(request_id=request_id)
        counts["refund_requests"] += 1
        logger.log(logging.INFO if request.status != RefundRequestStatus.PROCESSING else logging.WARNING,
                   "refund request recovery: %s %s", request_id, request.status)
    return counts


def refund_resume(*, refund_id: int, by=None) -> str:
    """Ask the gateway again for a REQUESTED refund (with its own key: it cancels once), then
    complete or fail it. Returns ``refunded``, ``refund_failed``, ``refund_unavailable`` or ``unchanged``."""
    refund = Refund.objects.select_related("payment").get(id=refund_id)
    if refund.status != RefundStatus.REQUESTED:
        outcome = "unchanged"
    else:
        Refund.objects.filter(id=refund.id).update(attempts=F("attempts") + 1)
        try:
            _refund_run(reversal_id=refund.reversal_id, user_id=refund.user_id, gateway=refund.payment.gateway,
                        payment_key=refund.payment.payment_key, amount=refund.amount, reason=refund.reason)
        except ApplicationError as exc:
            outcome = "refund_unavailable" if exc.code == WalletErrorCode.REFUND_PENDING else "refund_failed"
        else:
            outcome = "refunded"
    if by is not None:
        operator_action_record(user=by, action="refund_resume", target=f"refund:{refund.reversal_id}", detail=outcome)
    return outcome


def payment_sync(*, payment_key: str, by=None) -> str:
    """Bring a payment in line with its gateway (a webhook said it changed; an operator asked).

    Webhooks are not signed, so what the gateway says is read back from it, never taken
    from the notice. A PENDING payment is settled as recovery would; cancels made at the
    gateway without us (its console) are reversed in the ledger, once: what the
    refunds already account for is never booked again. Returns what happened;
    ``by``: the operator who asked (recorded).
    """
    outcome = _payment_sync(payment_key)
    if by is not None:
        operator_action_record(user=by, action="payment_lookup", target=f"payment:{payment_key}", detail=outcome)
    return outcome


def _payment_sync(payment_key: str) -> str:
    payment = Payment.objects.filter(payment_key=payment_key).order_by("-id").first()
    if payment is None:
        return "unknown"
    try:
        found = payment_gateway(payment.gateway).payment(payment_key)
    except PaymentGatewayUnavailable as exc:
        raise wallet_error(WalletErrorCode.PAYMENT_GATEWAY_UNAVAILABLE) from exc
    if found is None or found.order_id != payment.order_id:
        return "unknown"
    if payment.status == PaymentStatus.PENDING:
        return _payment_settle(payment)
    if payment.status != PaymentStatus.CREDITED or found.cancelled_amount == 0:
        return "unchanged"
    event_id = uuid.uuid4()
    booked = _call(
        "wallet_refund_record", payment_id=payment.id, cancelled_total=found.cancelled_amount,
        transaction_key=found.cancels[-1].transaction_key if found.cancels else "", reversal_id=uuid.uuid4(),
        event_id=event_id, topic=settings.KAFKA_TOPIC_WALLET_EVENTS,
        reason="결제사에서 취소됨",  # the toast's note: "cancelled at the payment company"
    )
    if booked.error_code == WalletRefusal.NOTHING_TO_BOOK:
        return "unchanged"
    if booked.error_code:
        logger.error("payment %s: %s cancelled at the gateway, more than the wallet holds: refund UNCOVERED, "
                     "for an operator", payment.order_id, found.cancelled_amount)
        return "uncovered"
    _answer(booked, user_id=payment.user_id, event_id=event_id)
    return "reversed"


# --- The ledger's reconcile --------------------------------------------------------


def ledger_reconcile(*, full: bool = False, limit: int = 1000) -> selectors.LedgerReconciliation:
    """Reconcile the ledger and record the run (``ReconcileRun``): the incremental pass over what was written
    since the last run's mark (the hourly run; the first run covers everything), or with ``full`` every wallet
    and entry (an operator's ``reconcile_ledger``). Read in one snapshot, so a wallet and its postings are
    seen as of the same moment."""
    started, outermost = timezone.now(), not connection.in_atomic_block
    with transaction.atomic():
        if outermost:  # (a caller's transaction has its own isolation)
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        last = selectors.reconcile_last_run()
        if full:
            found = selectors.wallet_ledger_reconcile(limit=limit)
        else:
            found = selectors.wallet_ledger_reconcile_since(
                from_posting_id=last.upto_posting_id if last else 0, since=last.upto_time if last else None,
                limit=limit)
        ReconcileRun.objects.create(
            kind=ReconcileRun.Kind.FULL if full else ReconcileRun.Kind.INCREMENTAL,
            from_posting_id=found.from_posting_id, upto_posting_id=found.upto_posting_id, upto_time=found.upto_time,
            postings_checked=found.postings_checked, wallets_checked=found.wallets_checked,
            mismatches=found.mismatches, started_at=started, finished_at=timezone.now())
    return found


# --- Idempotency keys ------------------------------------------------------------


def idempotency_purge_expired(*, batch_size: int | None = None) -> int:
    """Delete expired keys in bounded batches; return how many went."""
    batch_size = batch_size or settings.IDEMPOTENCY_PURGE_BATCH_SIZE
    cutoff = timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL_S)
    return delete_in_batches(IdempotencyRecord.objects.filter(created_at__lt=cutoff), batch_size=batch_size)


# --- The outstanding-balance report (선불충전금) -----------------------------------------


def custody_report_make(*, day: date) -> CustodyReport:
    """Write (or write again) the day's report from the ledger; an operator's custody record stays. A
    report whose books do not add up is logged as an error (it says by how much)."""
    figures = selectors.custody_figures(day=day)
    report, _created = CustodyReport.objects.update_or_create(day=day, defaults={
        "opening": figures.opening, "outstanding": figures.outstanding, "charged": figures.charged,
        "refunded": figures.refunded, "used": figures.used, "use_reversed": figures.use_reversed,
        "expired": figures.expired, "paid_out": figures.paid_out,
        "difference": figures.difference, "made_at": timezone.now()})
    if figures.difference:
        logger.error("custody report %s: the day's flows miss the balances by %s won", day, figures.difference)
    return report


def custody_amount_record(*, day: date, amount: int, by, note: str = "") -> CustodyReport:
    """Record what the trust account held at the day's end (an operator reads it from the trustee's
    statement): the report's custody ratio. Recorded as an operator action."""
    if type(amount) is not int or amount < 0:
        raise ApplicationError(CommonErrorCode.INVALID_INPUT, "custodyAmount: " + _("won, 0 or more"),
                               fields={"custodyAmount": [_("Won, 0 or more.")]})
    with transaction.atomic():
        report = CustodyReport.objects.select_for_update().filter(day=day).first() or custody_report_make(day=day)
        report.custody_amount, report.custody_note = amount, note.strip()[:300]
        report.custody_recorded_by, report.custody_recorded_at = getattr(by, "username", "") or "system", timezone.now()
        report.save(update_fields=["custody_amount", "custody_note", "custody_recorded_by", "custody_recorded_at"])
        operator_action_record(user=by, action="custody_amount_record", target=f"custody_report:{day}",
                               detail=f"{amount} won in custody, {report.outstanding} outstanding"
                                      f"{': ' + report.custody_note if report.custody_note else ''}"[:500])
    return report

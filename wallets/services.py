"""Wallet operations: charge, spend, reverse, and the idempotency records of the API.

Each operation is one ``transaction.atomic(durable=True)`` that writes the
journal entry with its postings, the wallet balance and exactly one outbox
event. Either all of it commits or none of it does.

Concurrency: every operation of a user locks that user's wallet row first
(``SELECT ... FOR UPDATE``), so operations on one wallet run one at a time and
each sees the balance left by the previous one. A charge locks its payment row
before the wallet; nothing locks in the other order, so there is no deadlock.

Reversal rules (see docs/invariants.md):
- charges and spends can be reversed, reversals cannot;
- a reversal may be partial; the reversals of one entry never add up to more
  than its amount; with no amount, a reversal takes what is left;
- reversing a spend gives the money back to the wallet (from merchant settlement);
- reversing a charge takes the money out of the wallet (back to payment
  clearing), and only if the balance covers it.
"""

import dataclasses
import hashlib
import json
import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from ledger.models import Account, EntryKind, JournalEntry
from ledger.selectors import ledger_entry_reversed_total
from ledger.services import ledger_entry_record, ledger_system_account, ledger_wallet_account_create
from outbox.services import outbox_event_record
from prepaid.db import delete_in_batches
from prepaid.errors import ApplicationError
from prepaid.events import SCHEMA_VERSION, EventType, event_validate
from prepaid.invariants import ensure
from prepaid.money import CURRENCY, won
from wallets.errors import WalletErrorCode
from wallets.models import IdempotencyRecord, Payment, PaymentStatus, Wallet
from wallets.payments import PaymentDeclined, PaymentGatewayUnavailable, payment_gateway

logger = logging.getLogger(__name__)


# --- Wallets -----------------------------------------------------------------


def wallet_ensure(*, user_id: int) -> Wallet:
    """The user's wallet, created with its ledger account on first use."""
    wallet = Wallet.objects.filter(user_id=user_id).first()
    if wallet is not None:
        return wallet
    try:
        with transaction.atomic():
            account = ledger_wallet_account_create(user_id=user_id)
            return Wallet.objects.create(user_id=user_id, account=account, currency=CURRENCY)
    except IntegrityError:
        # Another request created it first.
        return Wallet.objects.get(user_id=user_id)


def _wallet_lock(*, user_id: int) -> Wallet:
    """Lock the user's wallet row (creating the wallet on first use): operations on it now run one at a time."""
    wallet = Wallet.objects.select_for_update(of=("self",)).select_related("account").filter(user_id=user_id).first()
    if wallet is None:
        # First operation of this user: the wallet is created in a savepoint (a concurrent
        # first operation may win the race; then its wallet is the one locked).
        wallet_ensure(user_id=user_id)
        wallet = Wallet.objects.select_for_update(of=("self",)).select_related("account").get(user_id=user_id)
    return wallet


def _wallet_apply(
    *, wallet: Wallet, kind: EntryKind, delta: int, counter_account: Account, **entry_fields
) -> JournalEntry:
    """Move ``delta`` won into (or, negative, out of) a locked wallet: entry, balance, outbox event."""
    new_balance = wallet.balance + delta
    ensure(new_balance >= 0, f"wallet {wallet.id} would go negative: {wallet.balance} {delta:+d}")
    entry = ledger_entry_record(
        kind=kind,
        user_id=wallet.user_id,
        amount=abs(delta),
        balance_after=new_balance,
        legs=[(wallet.account, delta), (counter_account, -delta)],
        **entry_fields,
    )
    wallet.balance = new_balance
    wallet.save(update_fields=["balance", "updated_at"])

    event_id = uuid.uuid4()
    body = _event_body(entry)
    event_validate({"eventId": str(event_id), **body})
    outbox_event_record(event_id=event_id, event_type=body["eventType"], key=str(wallet.user_id), payload=body)
    return entry


EVENT_TYPE_BY_ENTRY_KIND = {
    EntryKind.CHARGE: EventType.CHARGE_COMPLETED,
    EntryKind.SPEND: EventType.SPEND_COMPLETED,
    EntryKind.REVERSAL: EventType.REVERSAL_COMPLETED,
}


def _event_body(entry: JournalEntry) -> dict:
    """The event describing a journal entry, but for its ``eventId`` (the outbox row holds it; see prepaid.events)."""
    event_type = EVENT_TYPE_BY_ENTRY_KIND[EntryKind(entry.kind)]
    metadata = {"transactionId": str(entry.id), "currency": CURRENCY}
    body = {
        "schemaVersion": SCHEMA_VERSION,
        "eventType": str(event_type),
        "userId": entry.user_id,
        "occurredAt": entry.created_at.isoformat(),
        "metadata": metadata,
        "newBalance": entry.balance_after,
    }
    if event_type is EventType.CHARGE_COMPLETED:
        body |= {"amount": entry.amount, "paymentKey": entry.payment_key, "orderId": entry.order_id}
    elif event_type is EventType.SPEND_COMPLETED:
        body |= {"amount": entry.amount, "description": entry.description}
    else:
        metadata["reversedTransactionId"] = str(entry.reverses_id)
        metadata["reversedTransactionType"] = entry.reverses.kind
        body |= {"reversedAmount": entry.amount, "reason": entry.description}
    return body


def _check_amount(amount: int, *, field: str = "amount") -> None:
    # The API validates first; this guards every other caller (commands, shell, tasks).
    if type(amount) is not int or not 1 <= amount <= settings.WALLET_AMOUNT_MAX:
        raise ApplicationError(
            "invalid_input",
            f"{field}: must be an integer number of won from 1 to {settings.WALLET_AMOUNT_MAX:,}",
            fields={field: [f"Must be an integer from 1 to {settings.WALLET_AMOUNT_MAX}."]},
        )


# --- Spend -----------------------------------------------------------------------


def wallet_spend(*, user_id: int, amount: int, description: str, idempotency_key: str = "") -> JournalEntry:
    _check_amount(amount)
    with transaction.atomic(durable=True):
        wallet = _wallet_lock(user_id=user_id)
        if wallet.balance < amount:
            raise ApplicationError(
                WalletErrorCode.INSUFFICIENT_FUNDS,
                f"amount: {won(amount)} is more than the balance of {won(wallet.balance)}",
                http_status=409,
                fields={"amount": ["Insufficient funds."]},
            )
        entry = _wallet_apply(
            wallet=wallet,
            kind=EntryKind.SPEND,
            delta=-amount,
            counter_account=ledger_system_account(code=Account.MERCHANT_SETTLEMENT_CODE),
            description=description,
            idempotency_key=idempotency_key,
        )
    logger.info("spend committed: user=%s amount=%s entry=%s", user_id, amount, entry.id)
    return entry


# --- Reverse -----------------------------------------------------------------------


def wallet_reverse(
    *, user_id: int, transaction_id: uuid.UUID, amount: int | None, reason: str, idempotency_key: str = ""
) -> JournalEntry:
    if amount is not None:
        _check_amount(amount)
    with transaction.atomic(durable=True):
        wallet = _wallet_lock(user_id=user_id)
        # Another user's entry is "not found" too: its existence is not disclosed.
        original = JournalEntry.objects.filter(user_id=user_id, id=transaction_id).first()
        if original is None:
            raise ApplicationError(
                WalletErrorCode.TRANSACTION_NOT_FOUND,
                f"transactionId: no transaction {transaction_id} in this wallet",
                http_status=404,
                fields={"transactionId": ["Not found."]},
            )
        if original.kind == EntryKind.REVERSAL:
            raise ApplicationError(
                WalletErrorCode.NOT_REVERSIBLE,
                "transactionId: a reversal cannot itself be reversed",
                http_status=422,
                fields={"transactionId": ["Not reversible."]},
            )
        remaining = original.amount - ledger_entry_reversed_total(entry=original)
        ensure(remaining >= 0, f"entry {original.id} is reversed beyond its amount")
        if remaining == 0:
            raise ApplicationError(
                WalletErrorCode.ALREADY_FULLY_REVERSED,
                f"transactionId: transaction {transaction_id} is already fully reversed",
                http_status=409,
                fields={"transactionId": ["Already fully reversed."]},
            )
        amount = remaining if amount is None else amount
        if amount > remaining:
            raise ApplicationError(
                WalletErrorCode.REVERSAL_EXCEEDS_REMAINING,
                f"amount: {won(amount)} is more than the {won(remaining)} left to reverse",
                http_status=422,
                fields={"amount": [f"At most {remaining} can be reversed."]},
            )
        if original.kind == EntryKind.SPEND:
            delta, counter_code = amount, Account.MERCHANT_SETTLEMENT_CODE
        else:
            if wallet.balance < amount:
                raise ApplicationError(
                    WalletErrorCode.INSUFFICIENT_FUNDS,
                    f"amount: reversing {won(amount)} of a charge needs that much in the wallet, "
                    f"which holds {won(wallet.balance)}",
                    http_status=409,
                    fields={"amount": ["Insufficient funds."]},
                )
            delta, counter_code = -amount, Account.PAYMENT_CLEARING_CODE
        entry = _wallet_apply(
            wallet=wallet,
            kind=EntryKind.REVERSAL,
            delta=delta,
            counter_account=ledger_system_account(code=counter_code),
            reverses=original,
            description=reason,
            idempotency_key=idempotency_key,
        )
    logger.info("reversal committed: user=%s amount=%s of=%s entry=%s", user_id, amount, original.id, entry.id)
    return entry


# --- Charge (through the payment gateway) ----------------------------------------


def _duplicate_order(order_id: str) -> ApplicationError:
    return ApplicationError(
        WalletErrorCode.DUPLICATE_ORDER,
        f"orderId: order {order_id} has already been used for a charge",
        http_status=409,
        fields={"orderId": ["Already used."]},
    )


def _payment_begin(*, user_id: int, amount: int, payment_key: str, order_id: str) -> Payment:
    """Record the payment as PENDING before the gateway is asked.

    A retry of the same charge (same user, key and amount) whose first attempt
    died before crediting resumes the pending payment.
    """
    try:
        with transaction.atomic():
            return Payment.objects.create(
                user_id=user_id, amount=amount, payment_key=payment_key, order_id=order_id,
                gateway=payment_gateway().name,
            )
    except IntegrityError:
        existing = Payment.objects.get(order_id=order_id)
    same_charge = (existing.user_id, existing.payment_key, existing.amount) == (user_id, payment_key, amount)
    if existing.status == PaymentStatus.PENDING and same_charge:
        return existing
    raise _duplicate_order(order_id)


def _payment_fail(*, payment_id: int, code: str, message: str) -> None:
    Payment.objects.filter(id=payment_id, status=PaymentStatus.PENDING).update(
        status=PaymentStatus.FAILED, failure_code=code[:64], failure_message=message[:500], updated_at=timezone.now()
    )


def _payment_credit(*, payment_id: int, idempotency_key: str = "") -> JournalEntry:
    """Credit a confirmed payment to its wallet, once."""
    with transaction.atomic(durable=True):
        payment = Payment.objects.select_for_update().get(id=payment_id)
        if payment.status != PaymentStatus.PENDING:
            # Credited (or failed) by a concurrent attempt: never twice.
            raise _duplicate_order(payment.order_id)
        wallet = _wallet_lock(user_id=payment.user_id)
        # The money has been taken from the card: it is credited even if the
        # balance cap (checked before confirming) was crossed meanwhile.
        entry = _wallet_apply(
            wallet=wallet,
            kind=EntryKind.CHARGE,
            delta=payment.amount,
            counter_account=ledger_system_account(code=Account.PAYMENT_CLEARING_CODE),
            payment_key=payment.payment_key,
            order_id=payment.order_id,
            idempotency_key=idempotency_key,
        )
        payment.status = PaymentStatus.CREDITED
        payment.entry = entry
        payment.save(update_fields=["status", "entry", "updated_at"])
    return entry


def _payment_confirm(*, payment: Payment) -> None:
    """Ask the gateway; a decline marks the payment FAILED. Raises ApplicationError on failure."""
    Payment.objects.filter(id=payment.id).update(attempts=payment.attempts + 1)
    try:
        payment_gateway().confirm(payment_key=payment.payment_key, order_id=payment.order_id, amount=payment.amount)
    except PaymentDeclined as exc:
        _payment_fail(payment_id=payment.id, code=exc.code, message=exc.message)
        raise ApplicationError(
            WalletErrorCode.PAYMENT_DECLINED, f"paymentKey: the payment was declined: {exc.message}",
            http_status=402, fields={"paymentKey": [exc.code]},
        ) from exc
    except PaymentGatewayUnavailable as exc:
        # Outcome unknown: the payment stays PENDING and recovery settles it.
        raise ApplicationError(
            WalletErrorCode.PAYMENT_GATEWAY_UNAVAILABLE,
            "paymentKey: the payment gateway did not answer; retry with the same Idempotency-Key",
            http_status=503,
        ) from exc


def wallet_charge(
    *, user_id: int, amount: int, payment_key: str, order_id: str, idempotency_key: str = ""
) -> JournalEntry:
    _check_amount(amount)
    wallet = wallet_ensure(user_id=user_id)
    if wallet.balance + amount > settings.WALLET_BALANCE_MAX:
        raise ApplicationError(
            WalletErrorCode.BALANCE_LIMIT_EXCEEDED,
            f"amount: the balance may not exceed {won(settings.WALLET_BALANCE_MAX)}",
            http_status=422,
            fields={"amount": ["Balance limit exceeded."]},
        )
    payment = _payment_begin(user_id=user_id, amount=amount, payment_key=payment_key, order_id=order_id)
    # The gateway is asked outside any database transaction: no lock is held while waiting for it.
    _payment_confirm(payment=payment)
    entry = _payment_credit(payment_id=payment.id, idempotency_key=idempotency_key)
    logger.info("charge committed: user=%s amount=%s order=%s entry=%s", user_id, amount, order_id, entry.id)
    return entry


def payment_recover_pending(*, older_than_s: int | None = None, batch_size: int | None = None) -> dict[str, int]:
    """Settle PENDING payments left by requests that died between confirm and credit.

    Confirming again is safe (the gateway's confirm is idempotent): a confirmed
    payment is credited, a declined one marked FAILED, an unanswered one left
    for the next run.
    """
    older_than_s = settings.PAYMENT_RECOVERY_AFTER_S if older_than_s is None else older_than_s
    batch_size = batch_size or settings.PAYMENT_RECOVERY_BATCH_SIZE
    cutoff = timezone.now() - timedelta(seconds=older_than_s)
    counts = {"credited": 0, "failed": 0, "unavailable": 0, "skipped": 0}
    pending = Payment.objects.filter(status=PaymentStatus.PENDING, created_at__lte=cutoff).order_by("id")
    for payment in pending[:batch_size]:
        try:
            _payment_confirm(payment=payment)
            _payment_credit(payment_id=payment.id)
        except ApplicationError as exc:
            outcome = {
                WalletErrorCode.PAYMENT_DECLINED: "failed",
                WalletErrorCode.PAYMENT_GATEWAY_UNAVAILABLE: "unavailable",
            }.get(exc.code, "skipped")
            counts[outcome] += 1
            logger.warning("payment recovery: order=%s %s (%s)", payment.order_id, outcome, exc.code)
        else:
            counts["credited"] += 1
            logger.info("payment recovery: order=%s credited", payment.order_id)
    return counts


# --- Idempotency keys ------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class IdempotencyStart:
    record: IdempotencyRecord
    # True: run the request. False: replay record.response_*.
    execute: bool


def idempotency_fingerprint(body: object) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotency_begin(*, user_id: int, key: str, method: str, path: str, fingerprint: str) -> IdempotencyStart:
    """Claim ``key`` for this request, or say how to answer a repeat (Stripe's semantics).

    - new key: the request runs;
    - same key, same request, finished: its first response is replayed;
    - same key, same request, still running: 409 (unless the runner died: taken over
      after ``IDEMPOTENCY_IN_FLIGHT_TIMEOUT_S``);
    - same key, another request: 422.
    """
    now = timezone.now()
    # INSERT ... ON CONFLICT: claiming a new key is one statement (no savepoint round trips).
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO wallets_idempotencyrecord (user_id, key, method, path, fingerprint, created_at) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (user_id, key) DO NOTHING RETURNING id",
            [user_id, key, method, path, fingerprint, now],
        )
        inserted = cursor.fetchone()
    if inserted is not None:
        record = IdempotencyRecord(id=inserted[0], user_id=user_id, key=key, method=method, path=path,
                                   fingerprint=fingerprint, created_at=now)
        return IdempotencyStart(record=record, execute=True)
    record = IdempotencyRecord.objects.get(user_id=user_id, key=key)

    if record.created_at <= now - timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL_S):
        # Expired (the purge has not deleted it yet): the key is free again.
        taken = IdempotencyRecord.objects.filter(id=record.id, created_at=record.created_at).update(
            method=method, path=path, fingerprint=fingerprint, created_at=now,
            completed_at=None, response_status=None, response_body=None,
        )
        if taken:
            record.refresh_from_db()
            return IdempotencyStart(record=record, execute=True)
        record.refresh_from_db()

    if (record.method, record.path, record.fingerprint) != (method, path, fingerprint):
        raise ApplicationError(
            WalletErrorCode.IDEMPOTENCY_KEY_REUSED,
            "Idempotency-Key: this key was used for a different request; use a new key for a new request",
            http_status=422,
        )
    if not record.in_flight:
        return IdempotencyStart(record=record, execute=False)
    if record.created_at <= now - timedelta(seconds=settings.IDEMPOTENCY_IN_FLIGHT_TIMEOUT_S):
        # The request that claimed the key died. Take it over, once.
        taken = IdempotencyRecord.objects.filter(id=record.id, created_at=record.created_at, completed_at=None).update(
            created_at=now
        )
        if taken:
            record.refresh_from_db()
            return IdempotencyStart(record=record, execute=True)
    raise ApplicationError(
        WalletErrorCode.IDEMPOTENCY_REQUEST_IN_FLIGHT,
        "Idempotency-Key: a request with this key is still being processed; retry later",
        http_status=409,
    )


def idempotency_complete(*, record: IdempotencyRecord, status: int, body: object) -> None:
    IdempotencyRecord.objects.filter(id=record.id).update(
        response_status=status, response_body=body, completed_at=timezone.now()
    )


def idempotency_release(*, record: IdempotencyRecord) -> None:
    """Forget a claimed key whose request ended without a result to keep (the client may retry)."""
    IdempotencyRecord.objects.filter(id=record.id, completed_at=None).delete()


def idempotency_purge_expired(*, batch_size: int | None = None) -> int:
    """Delete expired keys in bounded batches; return how many went."""
    batch_size = batch_size or settings.IDEMPOTENCY_PURGE_BATCH_SIZE
    cutoff = timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL_S)
    return delete_in_batches(IdempotencyRecord.objects.filter(created_at__lt=cutoff), batch_size=batch_size)

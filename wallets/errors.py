"""Error codes of wallet operations (the ``code`` of the API's error body), their HTTP
statuses, and the one place their messages are written.

The SQL operations (``wallets/sql/``) answer a refusal with a code and a detail (the
numbers its message needs); ``wallet_error`` turns the two into the error the API
returns, the same way the first time and on every replay.
"""

import enum

from prepaid.errors import ApplicationError, ErrorCode
from prepaid.money import won


class WalletErrorCode(ErrorCode):
    INSUFFICIENT_FUNDS = "insufficient_funds", 409
    BALANCE_LIMIT_EXCEEDED = "balance_limit_exceeded", 422
    DUPLICATE_ORDER = "duplicate_order", 409
    PAYMENT_DECLINED = "payment_declined", 402
    PAYMENT_GATEWAY_UNAVAILABLE = "payment_gateway_unavailable", 503
    TRANSACTION_NOT_FOUND = "transaction_not_found", 404
    NOT_REVERSIBLE = "not_reversible", 422
    ALREADY_FULLY_REVERSED = "already_fully_reversed", 409
    REVERSAL_EXCEEDS_REMAINING = "reversal_exceeds_remaining", 422
    ORDER_NOT_FOUND = "order_not_found", 404
    AMOUNT_MISMATCH = "amount_mismatch", 422
    REFUND_REFUSED = "refund_refused", 422
    REFUND_PENDING = "refund_pending", 503
    RECIPIENT_NOT_FOUND = "recipient_not_found", 404
    TRANSFER_TO_SELF = "transfer_to_self", 422
    TRANSFER_DAILY_LIMIT_EXCEEDED = "transfer_daily_limit_exceeded", 422
    RECIPIENT_BALANCE_LIMIT_EXCEEDED = "recipient_balance_limit_exceeded", 422
    STATEMENT_TOO_LONG = "statement_too_long", 422
    HOLD_NOT_FOUND = "hold_not_found", 404
    HOLD_NOT_ACTIVE = "hold_not_active", 409
    CAPTURE_EXCEEDS_HOLD = "capture_exceeds_hold", 422
    IDEMPOTENCY_KEY_MISSING = "idempotency_key_missing", 400
    IDEMPOTENCY_KEY_INVALID = "idempotency_key_invalid", 400
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused", 422
    IDEMPOTENCY_REQUEST_IN_FLIGHT = "idempotency_request_in_flight", 409
    # Batches (POST /api/v1/wallet/batches).
    BATCH_REFUSED = "batch_refused", 422  # an all-or-nothing batch with an item not done: nothing applied
    REFUND_NOT_IN_ATOMIC_BATCH = "refund_not_in_atomic_batch", 422  # a card refund cannot be all-or-nothing


class WalletRefusal(enum.StrEnum):
    """Refusals the SQL answers to the services and never to a client."""

    NOTHING_TO_BOOK = "nothing_to_book"  # wallet_refund_record: the gateway cancelled nothing we have not booked


def _insufficient_funds(d: dict) -> tuple[str, dict]:
    if d.get("reversal"):
        message = (f"amount: reversing {won(d['amount'])} of a charge needs that much in the wallet, "
                   f"which holds {won(d['balance'])}")
    else:
        message = f"amount: {won(d['amount'])} is more than the balance of {won(d['balance'])}"
    return message, {"amount": ["Insufficient funds."]}


_MESSAGES = {
    WalletErrorCode.INSUFFICIENT_FUNDS: _insufficient_funds,
    WalletErrorCode.BALANCE_LIMIT_EXCEEDED: lambda d: (
        f"amount: the balance may not exceed {won(d['balanceMax'])}", {"amount": ["Balance limit exceeded."]}),
    WalletErrorCode.DUPLICATE_ORDER: lambda d: (
        f"orderId: order {d['orderId']} has already been used for a charge", {"orderId": ["Already used."]}),
    WalletErrorCode.PAYMENT_DECLINED: lambda d: (
        f"paymentKey: the payment was declined: {d['gatewayMessage']}", {"paymentKey": [d["gatewayCode"]]}),
    WalletErrorCode.PAYMENT_GATEWAY_UNAVAILABLE: lambda d: (
        "paymentKey: the payment gateway did not answer; retry with the same Idempotency-Key", None),
    WalletErrorCode.TRANSACTION_NOT_FOUND: lambda d: (
        f"transactionId: no transaction {d['transactionId']} in this wallet", {"transactionId": ["Not found."]}),
    WalletErrorCode.NOT_REVERSIBLE: lambda d: (
        "transactionId: a transfer is final for its sender; its recipient may send it back" if d.get("transfer")
        else "transactionId: a reversal cannot itself be reversed", {"transactionId": ["Not reversible."]}),
    WalletErrorCode.ALREADY_FULLY_REVERSED: lambda d: (
        f"transactionId: transaction {d['transactionId']} is already fully reversed",
        {"transactionId": ["Already fully reversed."]}),
    WalletErrorCode.REVERSAL_EXCEEDS_REMAINING: lambda d: (
        f"amount: {won(d['amount'])} is more than the {won(d['remaining'])} left to reverse",
        {"amount": [f"At most {d['remaining']} can be reversed."]}),
    WalletErrorCode.ORDER_NOT_FOUND: lambda d: (
        f"orderId: no charge order {d['orderId']} of yours", {"orderId": ["Not found."]}),
    WalletErrorCode.AMOUNT_MISMATCH: lambda d: (
        f"amount: the payment is for {won(d['amount'])}, the order was for {won(d['ordered'])}",
        {"amount": ["Does not match the order."]}),
    WalletErrorCode.REFUND_REFUSED: lambda d: (
        f"transactionId: the card refund was refused, the wallet is unchanged: {d['gatewayMessage']}",
        {"transactionId": [d["gatewayCode"]]}),
    WalletErrorCode.REFUND_PENDING: lambda d: (
        "transactionId: the payment gateway did not answer the card refund; it is asked again automatically and "
        "the reversal is written when it confirms. Retry with the same Idempotency-Key for the outcome", None),
    WalletErrorCode.RECIPIENT_NOT_FOUND: lambda d: (
        f"to: no user {d['to']} to send money to", {"to": ["Not found."]}),
    WalletErrorCode.TRANSFER_TO_SELF: lambda d: ("to: money cannot be sent to your own wallet", {"to": ["Yourself."]}),
    WalletErrorCode.TRANSFER_DAILY_LIMIT_EXCEEDED: lambda d: (
        f"amount: {won(d['amount'])} more would take today's transfers past the daily limit of {won(d['dailyMax'])} "
        f"({won(d['sentToday'])} sent today)", {"amount": [f"At most {d['dailyMax'] - d['sentToday']} more today."]}),
    WalletErrorCode.RECIPIENT_BALANCE_LIMIT_EXCEEDED: lambda d: (
        f"amount: the recipient's wallet cannot take {won(d['amount'])} more (its balance limit)",
        {"amount": ["The recipient's balance limit."]}),
    WalletErrorCode.HOLD_NOT_FOUND: lambda d: (
        f"holdId: no hold {d['holdId']} in this wallet", {"holdId": ["Not found."]}),
    WalletErrorCode.HOLD_NOT_ACTIVE: lambda d: (
        f"holdId: hold {d['holdId']} is {d['status'].lower()}: nothing more can be captured or voided",
        {"holdId": [f"{d['status'].capitalize()}."]}),
    WalletErrorCode.CAPTURE_EXCEEDS_HOLD: lambda d: (
        f"amount: {won(d['amount'])} is more than the {won(d['remaining'])} left on the hold",
        {"amount": [f"At most {d['remaining']} can be captured."]}),
    WalletErrorCode.STATEMENT_TOO_LONG: lambda d: (
        f"to: the period holds more than {d['linesMax']:,} transactions; ask for a shorter one",
        {"to": ["Too many transactions in the period."]}),
    WalletErrorCode.BATCH_REFUSED: lambda d: (  # its fields: the item's, set by services.batch_refusal
        f"items[{d['index']}]: {d['code']}: {d['message']}; the batch is all or nothing, and nothing was applied",
        None),
    WalletErrorCode.REFUND_NOT_IN_ATOMIC_BATCH: lambda d: (
        f"transactionId: reversing {d['transactionId']} refunds a card, which cannot be part of an all-or-nothing "
        "batch; reverse it alone, or in a batch that is not atomic", {"transactionId": ["A card refund."]}),
    WalletErrorCode.IDEMPOTENCY_KEY_MISSING: lambda d: ("Idempotency-Key: the header is required on every POST", None),
    WalletErrorCode.IDEMPOTENCY_KEY_INVALID: lambda d: (
        f"Idempotency-Key: 1 to {d['maxLength']} printable ASCII characters", None),
    WalletErrorCode.IDEMPOTENCY_KEY_REUSED: lambda d: (
        "Idempotency-Key: this key was used for a different request; use a new key for a new request", None),
    WalletErrorCode.IDEMPOTENCY_REQUEST_IN_FLIGHT: lambda d: (
        "Idempotency-Key: a request with this key is still being processed; retry later", None),
}


def wallet_error(code: str | WalletErrorCode, detail: dict | None = None, *, replayed: bool = False
                 ) -> ApplicationError:
    """The error for a refusal ``code`` with its ``detail``."""
    code = WalletErrorCode(code)
    message, fields = _MESSAGES[code](detail or {})
    return ApplicationError(code, message, fields=fields, replayed=replayed)

"""Error codes of wallet operations (the ``code`` of the API's error body), their HTTP
statuses, and the one place their messages are written.

The SQL operations (``wallets/sql/``) answer a refusal with a code and a detail (the
numbers its message needs); ``wallet_error`` turns the two into the error the API
returns, the same way the first time and on every replay.
"""

import enum

from django.utils.translation import gettext as _

from prepaid.errors import ApplicationError, ErrorCode
from prepaid.money import won
from wallets.models import WalletTier


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
    # Remaining-balance refunds (POST /api/v1/wallet/refund-requests).
    REFUND_NOT_ELIGIBLE = "refund_not_eligible", 422
    NOTHING_TO_REFUND = "nothing_to_refund", 409
    REFUND_REQUEST_OPEN = "refund_request_open", 409
    BANK_ACCOUNT_REQUIRED = "bank_account_required", 422
    REFUND_REQUEST_NOT_FOUND = "refund_request_not_found", 404
    # Batches (POST /api/v1/wallet/batches).
    BATCH_REFUSED = "batch_refused", 422  # an all-or-nothing batch with an item not done: nothing applied
    REFUND_NOT_IN_ATOMIC_BATCH = "refund_not_in_atomic_batch", 422  # a card refund cannot be all-or-nothing


class WalletRefusal(enum.StrEnum):
    """Refusals the SQL answers to the services and never to a client."""

    NOTHING_TO_BOOK = "nothing_to_book"  # wallet_refund_record: the gateway cancelled nothing we have not booked
    NOTHING_EXPIRED = "nothing_expired"  # wallet_expire: nothing of the wallet is past its validity


def _said(field: str, text: str) -> str:
    """A message names its field first; the field's name is the API's, in every language."""
    return f"{field}: {text}"


def _insufficient_funds(d: dict) -> tuple[str, dict]:
    if d.get("reversal"):
        message = _("reversing %(amount)s of a charge needs that much in the wallet, which holds %(balance)s")
    else:
        message = _("%(amount)s is more than the balance of %(balance)s")
    return (_said("amount", message % {"amount": won(d["amount"]), "balance": won(d["balance"])}),
            {"amount": [_("Insufficient funds.")]})


def _balance_limit_exceeded(d: dict) -> tuple[str, dict]:
    if "tier" in d:
        text = _("the balance of a %(tier)s wallet may not exceed %(cap)s") % {
            "tier": WalletTier(d["tier"]).label, "cap": won(d["balanceMax"])}
    else:
        text = _("the balance may not exceed %(cap)s") % {"cap": won(d["balanceMax"])}
    return _said("amount", text), {"amount": [_("Balance limit exceeded.")]}


_MESSAGES = {
    WalletErrorCode.INSUFFICIENT_FUNDS: _insufficient_funds,
    WalletErrorCode.BALANCE_LIMIT_EXCEEDED: _balance_limit_exceeded,
    WalletErrorCode.DUPLICATE_ORDER: lambda d: (
        _said("orderId", _("order %(order)s has already been used for a charge") % {"order": d["orderId"]}),
        {"orderId": [_("Already used.")]}),
    WalletErrorCode.PAYMENT_DECLINED: lambda d: (
        _said("paymentKey", _("the payment was declined: %(why)s") % {"why": d["gatewayMessage"]}),
        {"paymentKey": [d["gatewayCode"]]}),
    WalletErrorCode.PAYMENT_GATEWAY_UNAVAILABLE: lambda d: (
        _said("paymentKey", _("the payment gateway did not answer; retry with the same Idempotency-Key")), None),
    WalletErrorCode.TRANSACTION_NOT_FOUND: lambda d: (
        _said("transactionId", _("no transaction %(id)s in this wallet") % {"id": d["transactionId"]}),
        {"transactionId": [_("Not found.")]}),
    WalletErrorCode.NOT_REVERSIBLE: lambda d: (
        _said("transactionId", _("a transfer is final for its sender; its recipient may send it back")
              if d.get("transfer") else _("a reversal cannot itself be reversed")),
        {"transactionId": [_("Not reversible.")]}),
    WalletErrorCode.ALREADY_FULLY_REVERSED: lambda d: (
        _said("transactionId", _("transaction %(id)s is already fully reversed") % {"id": d["transactionId"]}),
        {"transactionId": [_("Already fully reversed.")]}),
    WalletErrorCode.REVERSAL_EXCEEDS_REMAINING: lambda d: (
        _said("amount", _("%(amount)s is more than the %(remaining)s left to reverse") % {
            "amount": won(d["amount"]), "remaining": won(d["remaining"])}),
        {"amount": [_("At most %(remaining)s can be reversed.") % {"remaining": d["remaining"]}]}),
    WalletErrorCode.ORDER_NOT_FOUND: lambda d: (
        _said("orderId", _("no charge order %(order)s of yours") % {"order": d["orderId"]}),
        {"orderId": [_("Not found.")]}),
    WalletErrorCode.AMOUNT_MISMATCH: lambda d: (
        _said("amount", _("the payment is for %(amount)s, the order was for %(ordered)s") % {
            "amount": won(d["amount"]), "ordered": won(d["ordered"])}),
        {"amount": [_("Does not match the order.")]}),
    WalletErrorCode.REFUND_REFUSED: lambda d: (
        _said("transactionId", _("the card refund was refused, the wallet is unchanged: %(why)s") % {
            "why": d["gatewayMessage"]}),
        {"transactionId": [d["gatewayCode"]]}),
    WalletErrorCode.REFUND_PENDING: lambda d: (
        _said("transactionId", _("the payment gateway did not answer the card refund; it is asked again "
                                 "automatically and the reversal is written when it confirms. Retry with the same "
                                 "Idempotency-Key for the outcome")), None),
    WalletErrorCode.RECIPIENT_NOT_FOUND: lambda d: (
        _said("to", _("no user %(name)s to send money to") % {"name": d["to"]}), {"to": [_("Not found.")]}),
    WalletErrorCode.TRANSFER_TO_SELF: lambda d: (
        _said("to", _("money cannot be sent to your own wallet")), {"to": [_("Yourself.")]}),
    WalletErrorCode.TRANSFER_DAILY_LIMIT_EXCEEDED: lambda d: (
        _said("amount", _("%(amount)s more would take today's transfers past the daily limit of %(max)s "
                          "(%(sent)s sent today)") % {
            "amount": won(d["amount"]), "max": won(d["dailyMax"]), "sent": won(d["sentToday"])}),
        {"amount": [_("At most %(left)s more today.") % {"left": d["dailyMax"] - d["sentToday"]}]}),
    WalletErrorCode.RECIPIENT_BALANCE_LIMIT_EXCEEDED: lambda d: (
        _said("amount", _("the recipient's wallet cannot take %(amount)s more (its balance limit)") % {
            "amount": won(d["amount"])}),
        {"amount": [_("The recipient's balance limit.")]}),
    WalletErrorCode.HOLD_NOT_FOUND: lambda d: (
        _said("holdId", _("no hold %(id)s in this wallet") % {"id": d["holdId"]}), {"holdId": [_("Not found.")]}),
    WalletErrorCode.HOLD_NOT_ACTIVE: lambda d: (
        _said("holdId", _("hold %(id)s is %(status)s: nothing more can be captured or voided") % {
            "id": d["holdId"], "status": hold_status_label(d["status"])}),
        {"holdId": [hold_status_label(d["status"]).capitalize() + "."]}),
    WalletErrorCode.CAPTURE_EXCEEDS_HOLD: lambda d: (
        _said("amount", _("%(amount)s is more than the %(remaining)s left on the hold") % {
            "amount": won(d["amount"]), "remaining": won(d["remaining"])}),
        {"amount": [_("At most %(remaining)s can be captured.") % {"remaining": d["remaining"]}]}),
    WalletErrorCode.STATEMENT_TOO_LONG: lambda d: (
        _said("to", _("the period holds more than %(max)s transactions; ask for a shorter one") % {
            "max": f"{d['linesMax']:,}"}),
        {"to": [_("Too many transactions in the period.")]}),
    WalletErrorCode.REFUND_NOT_ELIGIBLE: lambda d: (
        _said("ground", _("the remaining balance is refunded once %(percent)s%% of the last charge (%(charge)s) "
                          "has been used; %(used)s has been") % {
            "percent": d["requiredPercent"], "charge": won(d["lastCharge"]), "used": won(d["used"])}),
        {"ground": [_("Not eligible yet.")]}),
    WalletErrorCode.NOTHING_TO_REFUND: lambda d: (
        _said("amount", _("the wallet has nothing available to refund")), {"amount": [_("Nothing to refund.")]}),
    WalletErrorCode.REFUND_REQUEST_OPEN: lambda d: (
        _said("requestId", _("refund request %(id)s is still being processed") % {"id": d["requestId"]}),
        {"requestId": [_("Still being processed.")]}),
    WalletErrorCode.BANK_ACCOUNT_REQUIRED: lambda d: (
        _said("bankAccount", _("%(amount)s cannot go back to a card; give a bank account to pay it to") % {
            "amount": won(d["amount"])}),
        {"bankAccount": [_("This field is required.")]}),
    WalletErrorCode.REFUND_REQUEST_NOT_FOUND: lambda d: (
        _said("requestId", _("no refund request %(id)s of yours") % {"id": d["requestId"]}),
        {"requestId": [_("Not found.")]}),
    WalletErrorCode.BATCH_REFUSED: lambda d: (  # its fields: the item's, set by services.batch_refusal
        _said(f"items[{d['index']}]", _("%(code)s: %(message)s; the batch is all or nothing, and nothing was "
                                        "applied") % {"code": d["code"], "message": d["message"]}),
        None),
    WalletErrorCode.REFUND_NOT_IN_ATOMIC_BATCH: lambda d: (
        _said("transactionId", _("reversing %(id)s refunds a card, which cannot be part of an all-or-nothing "
                                 "batch; reverse it alone, or in a batch that is not atomic") % {
            "id": d["transactionId"]}),
        {"transactionId": [_("A card refund.")]}),
    WalletErrorCode.IDEMPOTENCY_KEY_MISSING: lambda d: (
        _said("Idempotency-Key", _("the header is required on every POST")), None),
    WalletErrorCode.IDEMPOTENCY_KEY_INVALID: lambda d: (
        _said("Idempotency-Key", _("1 to %(max)s printable ASCII characters") % {"max": d["maxLength"]}), None),
    WalletErrorCode.IDEMPOTENCY_KEY_REUSED: lambda d: (
        _said("Idempotency-Key", _("this key was used for a different request; use a new key for a new request")),
        None),
    WalletErrorCode.IDEMPOTENCY_REQUEST_IN_FLIGHT: lambda d: (
        _said("Idempotency-Key", _("a request with this key is still being processed; retry later")), None),
}


def hold_status_label(status: str) -> str:
    """A hold's status as people read it (the API's value is the enum's)."""
    labels = {"ACTIVE": _("active"), "CAPTURED": _("captured"), "VOIDED": _("voided"), "EXPIRED": _("expired")}
    return labels.get(status, status.lower())


def wallet_error(code: str | WalletErrorCode, detail: dict | None = None, *, replayed: bool = False
                 ) -> ApplicationError:
    """The error for a refusal ``code`` with its ``detail``."""
    code = WalletErrorCode(code)
    message, fields = _MESSAGES[code](detail or {})
    return ApplicationError(code, message, fields=fields, replayed=replayed)

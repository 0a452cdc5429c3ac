"""Error codes of wallet operations (the ``code`` of the API's error body)."""

import enum


class WalletErrorCode(enum.StrEnum):
    INSUFFICIENT_FUNDS = "insufficient_funds"
    BALANCE_LIMIT_EXCEEDED = "balance_limit_exceeded"
    DUPLICATE_ORDER = "duplicate_order"
    PAYMENT_DECLINED = "payment_declined"
    PAYMENT_GATEWAY_UNAVAILABLE = "payment_gateway_unavailable"
    TRANSACTION_NOT_FOUND = "transaction_not_found"
    NOT_REVERSIBLE = "not_reversible"
    ALREADY_FULLY_REVERSED = "already_fully_reversed"
    REVERSAL_EXCEEDS_REMAINING = "reversal_exceeds_remaining"
    IDEMPOTENCY_KEY_MISSING = "idempotency_key_missing"
    IDEMPOTENCY_KEY_INVALID = "idempotency_key_invalid"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    IDEMPOTENCY_REQUEST_IN_FLIGHT = "idempotency_request_in_flight"

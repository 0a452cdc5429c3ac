"""Toss Payments (https://docs.tosspayments.com/reference), behind ``PaymentGateway``.

HTTP Basic auth with ``base64("<secret key>:")``; errors come as ``{code, message}``.
Which of Toss's answers mean what here:

- a temporary failure (5xx, ``PROVIDER_ERROR``, ``FAILED_INTERNAL_SYSTEM_PROCESSING``,
  a timeout, no connection, a 401 ``UNAUTHORIZED_KEY`` which is our misconfiguration,
  not the customer's) is ``PaymentGatewayUnavailable``: the outcome is unknown and is
  settled later by reading the payment back;
- ``ALREADY_PROCESSED_PAYMENT`` on a confirm: an earlier confirm succeeded if the
  payment reads back DONE for this order and amount (then it is a confirmation);
- any other error is ``PaymentDeclined`` with Toss's code and message;
- a success whose body we cannot read (not JSON, an HTML error page, truncated, a field
  missing or of the wrong type) is ``PaymentGatewayUnavailable`` too: Toss may have done
  it, so the outcome is unknown, and recovery reads it back or asks again with the same
  Idempotency-Key. Logged with the answer's shape (its keys and their types, never a
  value) and counted (``prepaid_gateway_answers_unreadable_total``).

The secret key is sent only in the Authorization header and never logged; the client
(one per process, pooled) has a connect and a read timeout from the settings.
"""

import logging
import threading

import httpx
from django.conf import settings

from wallets import metrics
from wallets.payments import (
    GatewayPayment,
    PaymentCancel,
    PaymentConfirmation,
    PaymentDeclined,
    PaymentGatewayUnavailable,
)

logger = logging.getLogger(__name__)

TEMPORARY_CODES = frozenset({
    "PROVIDER_ERROR", "FAILED_INTERNAL_SYSTEM_PROCESSING", "FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING",
    "UNKNOWN_PAYMENT_ERROR", "UNAUTHORIZED_KEY",
})

_clients: dict[tuple, httpx.Client] = {}
_clients_lock = threading.Lock()


def _client() -> httpx.Client:
    config = (settings.TOSS_API_BASE_URL, settings.TOSS_SECRET_KEY, settings.TOSS_CONNECT_TIMEOUT_S,
              settings.TOSS_READ_TIMEOUT_S)
    with _clients_lock:
        if config not in _clients:
            base_url, secret_key, connect_s, read_s = config
            _clients[config] = httpx.Client(
                base_url=base_url, auth=httpx.BasicAuth(secret_key, ""),
                timeout=httpx.Timeout(read_s, connect=connect_s),
                headers={"Content-Type": "application/json"},
            )
        return _clients[config]


class UnreadableAnswer(ValueError):
    """A success from Toss whose body is not the Payment object its API documents."""


def _shape(value: object) -> object:
    """What ``value`` looks like, without what it says: keys and type names (safe to log)."""
    if isinstance(value, dict):
        return {str(key)[:40]: _shape(item) for key, item in list(value.items())[:40]}
    if isinstance(value, list):
        return [_shape(value[0]), f"x{len(value)}"] if value else []
    return type(value).__name__


def _field(body: dict, name: str, kind: type, *, optional: bool = False):
    value = body.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise UnreadableAnswer(f"{name}: expected {kind.__name__}, got {type(value).__name__}")
    return value


def _payment(body: object) -> GatewayPayment:
    """Toss's Payment object, checked field by field (``UnreadableAnswer`` if it is not one)."""
    if not isinstance(body, dict):
        raise UnreadableAnswer(f"expected a JSON object, got {type(body).__name__}")
    cancels = []
    for cancel in _field(body, "cancels", list, optional=True) or ():
        if not isinstance(cancel, dict):
            raise UnreadableAnswer("cancels[]: expected objects")
        if (_field(cancel, "cancelStatus", str, optional=True) or "DONE") == "DONE":
            cancels.append(PaymentCancel(transaction_key=_field(cancel, "transactionKey", str),
                                         amount=_field(cancel, "cancelAmount", int)))
    return GatewayPayment(payment_key=_field(body, "paymentKey", str), order_id=_field(body, "orderId", str),
                          status=_field(body, "status", str), total_amount=_field(body, "totalAmount", int),
                          balance_amount=_field(body, "balanceAmount", int), cancels=tuple(cancels))


def _read_payment(body: object, *, operation: str) -> GatewayPayment:
    """The payment in a successful answer; an answer we cannot read is an unknown outcome."""
    try:
        return _payment(body)
    except UnreadableAnswer as exc:
        metrics.GATEWAY_ANSWERS_UNREADABLE.labels("toss", operation).inc()
        logger.warning("toss %s: unreadable answer (%s), shape %s", operation, exc, _shape(body))
        raise PaymentGatewayUnavailable(f"Toss {operation}: unreadable answer ({exc})") from exc


class TossPaymentsGateway:
    name = "toss"

    def __repr__(self) -> str:
        return f"<TossPaymentsGateway {settings.TOSS_API_BASE_URL}>"  # never the key

    def _call(self, method: str, path: str, *, operation: str, json: dict | None = None,
              headers: dict | None = None) -> object:
        try:
            response = _client().request(method, path, json=json, headers=headers)
        except httpx.HTTPError as exc:  # timeouts, refused connections, broken answers
            logger.warning("toss %s: no answer (%s)", operation, type(exc).__name__)
            raise PaymentGatewayUnavailable(f"Toss {operation}: no answer ({type(exc).__name__})") from exc
        try:
            body = response.json()
        except ValueError:  # an HTML error page, a truncated body: no payment, no error code
            body = None
        if response.is_success:
            return body
        if not isinstance(body, dict):
            body = {}
        code, message = str(body.get("code", "")), str(body.get("message", ""))
        if response.status_code >= 500 or code in TEMPORARY_CODES or not code:
            level = logging.ERROR if code == "UNAUTHORIZED_KEY" else logging.WARNING
            logger.log(level, "toss %s: %s %s %s", operation, response.status_code, code, message)
            raise PaymentGatewayUnavailable(f"Toss {operation}: {response.status_code} {code}")
        raise PaymentDeclined(code, message)

    def confirm(self, *, payment_key: str, order_id: str, amount: int) -> PaymentConfirmation:
        try:
            confirmed = _read_payment(self._call("POST", "/v1/payments/confirm", operation="confirm",
                                                 json={"paymentKey": payment_key, "orderId": order_id,
                                                       "amount": amount}), operation="confirm")
            if (confirmed.order_id, confirmed.total_amount) != (order_id, amount):
                raise PaymentGatewayUnavailable("Toss confirm: answered for another order or amount")
        except PaymentDeclined as exc:
            if exc.code != "ALREADY_PROCESSED_PAYMENT":
                raise
            found = self.payment(payment_key)  # did our earlier confirm succeed?
            if not (found and found.status in GatewayPayment.PAID and found.order_id == order_id
                    and found.total_amount == amount):
                raise
        return PaymentConfirmation(payment_key=payment_key, order_id=order_id, amount=amount)

    def cancel(self, *, payment_key: str, amount: int, reason: str, idempotency_key: str) -> PaymentCancel:
        body = self._call("POST", f"/v1/payments/{payment_key}/cancel", operation="cancel",
                          json={"cancelReason": reason[:200] or "고객 요청", "cancelAmount": amount},
                          headers={"Idempotency-Key": idempotency_key})
        cancels = _read_payment(body, operation="cancel").cancels
        if not cancels:
            raise PaymentGatewayUnavailable("Toss cancel: answered without a cancel")
        return cancels[-1]

    def _lookup(self, path: str) -> GatewayPayment | None:
        """A payment read back (None: Toss has none there; any other refusal: no usable answer)."""
        try:
            return _read_payment(self._call("GET", path, operation="lookup"), operation="lookup")
        except PaymentDeclined as exc:
            if exc.code == "NOT_FOUND_PAYMENT":
                return None
            raise PaymentGatewayUnavailable(f"Toss lookup: {exc.code}") from exc

    def payment(self, payment_key: str) -> GatewayPayment | None:
        return self._lookup(f"/v1/payments/{payment_key}")

    def payment_of_order(self, order_id: str) -> GatewayPayment | None:
        return self._lookup(f"/v1/payments/orders/{order_id}")

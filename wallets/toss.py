"""Toss Payments (https://docs.tosspayments.com/reference), behind ``PaymentGateway``.

HTTP Basic auth with ``base64("<secret key>:")``; errors come as ``{code, message}``.
Which of Toss's answers mean what here:

- a temporary failure (5xx, ``PROVIDER_ERROR``, ``FAILED_INTERNAL_SYSTEM_PROCESSING``,
  a timeout, no connection, a 401 ``UNAUTHORIZED_KEY`` which is our misconfiguration,
  not the customer's) is ``PaymentGatewayUnavailable``: the outcome is unknown and is
  settled later by reading the payment back;
- ``ALREADY_PROCESSED_PAYMENT`` on a confirm: an earlier confirm succeeded if the
  payment reads back DONE for this order and amount (then it is a confirmation);
- any other error is ``PaymentDeclined`` with Toss's code and message.

The secret key is sent only in the Authorization header and never logged; the client
(one per process, pooled) has a connect and a read timeout from the settings.
"""

import logging
import threading

import httpx
from django.conf import settings

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


def _payment(body: dict) -> GatewayPayment:
    cancels = tuple(PaymentCancel(transaction_key=c["transactionKey"], amount=c["cancelAmount"])
                    for c in body.get("cancels") or () if c.get("cancelStatus", "DONE") == "DONE")
    return GatewayPayment(payment_key=body["paymentKey"], order_id=body["orderId"], status=body["status"],
                          total_amount=body["totalAmount"], balance_amount=body["balanceAmount"], cancels=cancels)


class TossPaymentsGateway:
    name = "toss"

    def __repr__(self) -> str:
        return f"<TossPaymentsGateway {settings.TOSS_API_BASE_URL}>"  # never the key

    def _call(self, method: str, path: str, *, operation: str, json: dict | None = None,
              headers: dict | None = None) -> dict:
        try:
            response = _client().request(method, path, json=json, headers=headers)
        except httpx.HTTPError as exc:  # timeouts, refused connections, broken answers
            logger.warning("toss %s: no answer (%s)", operation, type(exc).__name__)
            raise PaymentGatewayUnavailable(f"Toss {operation}: no answer ({type(exc).__name__})") from exc
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.is_success:
            return body
        code, message = str(body.get("code", "")), str(body.get("message", ""))
        if response.status_code >= 500 or code in TEMPORARY_CODES or not code:
            level = logging.ERROR if code == "UNAUTHORIZED_KEY" else logging.WARNING
            logger.log(level, "toss %s: %s %s %s", operation, response.status_code, code, message)
            raise PaymentGatewayUnavailable(f"Toss {operation}: {response.status_code} {code}")
        raise PaymentDeclined(code, message)

    def confirm(self, *, payment_key: str, order_id: str, amount: int) -> PaymentConfirmation:
        try:
            self._call("POST", "/v1/payments/confirm", operation="confirm",
                       json={"paymentKey": payment_key, "orderId": order_id, "amount": amount})
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
        cancels = _payment(body).cancels
        if not cancels:
            raise PaymentGatewayUnavailable("Toss cancel: answered without a cancel")
        return cancels[-1]

    def _lookup(self, path: str) -> GatewayPayment | None:
        """A payment read back (None: Toss has none there; any other refusal: no usable answer)."""
        try:
            return _payment(self._call("GET", path, operation="lookup"))
        except PaymentDeclined as exc:
            if exc.code == "NOT_FOUND_PAYMENT":
                return None
            raise PaymentGatewayUnavailable(f"Toss lookup: {exc.code}") from exc

    def payment(self, payment_key: str) -> GatewayPayment | None:
        return self._lookup(f"/v1/payments/{payment_key}")

    def payment_of_order(self, order_id: str) -> GatewayPayment | None:
        return self._lookup(f"/v1/payments/orders/{order_id}")

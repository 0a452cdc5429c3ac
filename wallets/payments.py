"""The payment gateways that confirm charges and refund them.

``PaymentGateway`` is the interface; ``payment_gateway()`` returns the one the
``PAYMENT_GATEWAY`` setting names (``sandbox``, ``toss``, or an import path), and
``payment_gateway(name)`` the one a payment was made through (its refunds go back
the same way). ``SandboxGateway`` is the local default; ``wallets.toss`` is Toss
Payments.

Contracts:
- ``confirm`` is safe to repeat for one (payment_key, order_id, amount): confirming a
  payment that was already confirmed returns the same confirmation (Toss's
  ``ALREADY_PROCESSED_PAYMENT`` is resolved by reading the payment back), which is
  what lets payment recovery retry a charge interrupted by a crash or a timeout.
- ``cancel`` is idempotent per ``idempotency_key``: asked again with the same key, the
  gateway answers what it answered the first time and cancels once.
- ``PaymentDeclined``: the gateway said no and will say no again. ``PaymentGatewayUnavailable``:
  no usable answer (timeout, 5xx, a temporary error); the outcome is unknown.
"""

import dataclasses
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string


@dataclasses.dataclass(frozen=True)
class PaymentConfirmation:
    payment_key: str
    order_id: str
    amount: int


@dataclasses.dataclass(frozen=True)
class PaymentCancel:
    """One cancel (refund) of a payment at the gateway."""

    transaction_key: str
    amount: int


@dataclasses.dataclass(frozen=True)
class GatewayPayment:
    """A payment as the gateway knows it (Toss's statuses: READY, IN_PROGRESS, DONE,
    PARTIAL_CANCELED, CANCELED, ABORTED, EXPIRED, WAITING_FOR_DEPOSIT)."""

    payment_key: str
    order_id: str
    status: str
    total_amount: int
    balance_amount: int  # what is left after the cancels
    cancels: tuple[PaymentCancel, ...] = ()

    PAID = frozenset({"DONE", "PARTIAL_CANCELED"})
    NEVER_PAID = frozenset({"ABORTED", "EXPIRED"})
    AWAITING_CONFIRM = frozenset({"READY", "IN_PROGRESS"})

    @property
    def cancelled_amount(self) -> int:
        return self.total_amount - self.balance_amount


class PaymentDeclined(Exception):
    """The gateway refused; it will not succeed if asked again."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class PaymentGatewayUnavailable(Exception):
    """No usable answer (timeout, 5xx, a temporary error): the outcome is unknown."""


class PaymentGateway(Protocol):
    name: str

    def confirm(self, *, payment_key: str, order_id: str, amount: int) -> PaymentConfirmation: ...

    def cancel(self, *, payment_key: str, amount: int, reason: str, idempotency_key: str) -> PaymentCancel: ...

    def payment(self, payment_key: str) -> GatewayPayment | None: ...

    def payment_of_order(self, order_id: str) -> GatewayPayment | None: ...


class SandboxGateway:
    """Approves every payment and refund except the amounts the settings pick.

    ``PAYMENT_SANDBOX_DECLINED_AMOUNTS``: declined (code ``REJECT_CARD_PAYMENT``).
    ``PAYMENT_SANDBOX_UNAVAILABLE_AMOUNTS``: the gateway does not answer.
    ``PAYMENT_SANDBOX_CANCEL_REFUSED_AMOUNTS``: refunds of these amounts are refused
    (code ``NOT_CANCELABLE_PAYMENT``). It keeps no state: asked about a payment, it
    says it awaits its confirm, so recovery confirms again.
    """

    name = "sandbox"

    def confirm(self, *, payment_key: str, order_id: str, amount: int) -> PaymentConfirmation:
        if amount in settings.PAYMENT_SANDBOX_UNAVAILABLE_AMOUNTS:
            raise PaymentGatewayUnavailable("sandbox gateway: no answer for this amount")
        if amount in settings.PAYMENT_SANDBOX_DECLINED_AMOUNTS:
            raise PaymentDeclined("REJECT_CARD_PAYMENT", "the card issuer declined the payment (sandbox)")
        return PaymentConfirmation(payment_key=payment_key, order_id=order_id, amount=amount)

    def cancel(self, *, payment_key: str, amount: int, reason: str, idempotency_key: str) -> PaymentCancel:
        if amount in settings.PAYMENT_SANDBOX_UNAVAILABLE_AMOUNTS:
            raise PaymentGatewayUnavailable("sandbox gateway: no answer for this amount")
        if amount in settings.PAYMENT_SANDBOX_CANCEL_REFUSED_AMOUNTS:
            raise PaymentDeclined("NOT_CANCELABLE_PAYMENT", "the card issuer refused the refund (sandbox)")
        return PaymentCancel(transaction_key=f"sandbox-{idempotency_key}", amount=amount)

    def payment(self, payment_key: str) -> GatewayPayment | None:
        return None

    def payment_of_order(self, order_id: str) -> GatewayPayment | None:
        return GatewayPayment(payment_key="", order_id=order_id, status="READY", total_amount=0, balance_amount=0)


GATEWAYS = {"sandbox": "wallets.payments.SandboxGateway", "toss": "wallets.toss.TossPaymentsGateway"}


def payment_gateway(name: str | None = None) -> PaymentGateway:
    """The gateway the settings select, or (``name``) the one a payment was made through."""
    configured = import_string(GATEWAYS.get(settings.PAYMENT_GATEWAY, settings.PAYMENT_GATEWAY))()
    if name is None or name == configured.name:
        return configured
    return import_string(GATEWAYS[name])()

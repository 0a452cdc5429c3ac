"""The payment gateway that confirms charges.

``PaymentGateway`` is the interface; ``payment_gateway()`` returns the one named
by the ``PAYMENT_GATEWAY`` setting. ``SandboxGateway`` is the local default for
development and tests; the Toss Payments client plugs in the same way.

Contract of ``confirm``: idempotent for one (payment_key, order_id, amount).
Confirming a payment that was already confirmed returns the same confirmation,
which is what lets payment recovery retry a charge interrupted by a crash.
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


class PaymentDeclined(Exception):
    """The gateway refused the payment; it will not succeed if asked again."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class PaymentGatewayUnavailable(Exception):
    """No answer (timeout, 5xx): the payment may or may not have been confirmed."""


class PaymentGateway(Protocol):
    name: str

    def confirm(self, *, payment_key: str, order_id: str, amount: int) -> PaymentConfirmation: ...


class SandboxGateway:
    """Approves every payment except the amounts the settings pick.

    ``PAYMENT_SANDBOX_DECLINED_AMOUNTS``: declined (code ``REJECT_CARD_PAYMENT``).
    ``PAYMENT_SANDBOX_UNAVAILABLE_AMOUNTS``: the gateway does not answer.
    """

    name = "sandbox"

    def confirm(self, *, payment_key: str, order_id: str, amount: int) -> PaymentConfirmation:
        if amount in settings.PAYMENT_SANDBOX_UNAVAILABLE_AMOUNTS:
            raise PaymentGatewayUnavailable("sandbox gateway: no answer for this amount")
        if amount in settings.PAYMENT_SANDBOX_DECLINED_AMOUNTS:
            raise PaymentDeclined("REJECT_CARD_PAYMENT", "the card issuer declined the payment (sandbox)")
        return PaymentConfirmation(payment_key=payment_key, order_id=order_id, amount=amount)


def payment_gateway() -> PaymentGateway:
    return import_string(settings.PAYMENT_GATEWAY)()

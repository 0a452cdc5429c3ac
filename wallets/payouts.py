"""The payout gateways that pay remaining-balance refunds to users' bank accounts.

``PayoutGateway`` is the interface; ``payout_gateway()`` returns the one the ``PAYOUT_GATEWAY``
setting names (``sandbox``, or an import path), ``payout_gateway(name)`` the one a payout was
made through (recovery asks the same one again). ``SandboxPayoutGateway`` is the local default;
Toss Payments' payout API is meant to come behind the same interface.

Contracts (as for ``wallets.payments``):
- ``pay`` is idempotent per ``idempotency_key`` (the payout's id): asked again, the gateway
  answers what it answered the first time and pays once. That is what lets recovery ask again
  after a crash or a timeout.
- ``PayoutRefused``: the gateway (or the bank) said no and will say no again (a closed account,
  a holder's name that does not match). ``PayoutGatewayUnavailable``: no usable answer; the
  outcome is unknown, and the payout stays REQUESTED for recovery.
"""

import dataclasses
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

# The banks a payout may go to, by their Korea Financial Telecommunications & Clearings Institute code.
BANK_CODES = {
    "002": "KDB산업은행", "003": "IBK기업은행", "004": "KB국민은행", "007": "수협은행", "011": "NH농협은행",
    "020": "우리은행", "023": "SC제일은행", "027": "한국씨티은행", "031": "iM뱅크", "032": "부산은행",
    "034": "광주은행", "035": "제주은행", "037": "전북은행", "039": "경남은행", "045": "새마을금고",
    "048": "신협", "071": "우체국", "081": "하나은행", "088": "신한은행", "089": "케이뱅크", "090": "카카오뱅크",
    "092": "토스뱅크",
}


@dataclasses.dataclass(frozen=True)
class BankAccount:
    bank_code: str
    account_number: str  # digits only
    holder_name: str


@dataclasses.dataclass(frozen=True)
class PayoutConfirmation:
    transaction_key: str
    amount: int


class PayoutRefused(Exception):
    """The gateway refused; it will not succeed if asked again."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class PayoutGatewayUnavailable(Exception):
    """No usable answer (timeout, 5xx, a temporary error): the outcome is unknown."""


class PayoutGateway(Protocol):
    name: str

    def pay(self, *, account: BankAccount, amount: int, idempotency_key: str) -> PayoutConfirmation: ...


class SandboxPayoutGateway:
    """Pays every payout except what the settings pick: ``PAYOUT_SANDBOX_REFUSED_AMOUNTS`` and
    ``PAYOUT_SANDBOX_REFUSED_ACCOUNTS`` are refused (``INVALID_ACCOUNT``), ``PAYOUT_SANDBOX_UNAVAILABLE_AMOUNTS``
    are not answered. It keeps no state: asked again with a key, it pays "again" with the same
    transaction key, as a gateway that remembers the key answers."""

    name = "sandbox"

    def pay(self, *, account: BankAccount, amount: int, idempotency_key: str) -> PayoutConfirmation:
        if amount in settings.PAYOUT_SANDBOX_UNAVAILABLE_AMOUNTS:
            raise PayoutGatewayUnavailable("sandbox payout gateway: no answer for this amount")
        if amount in settings.PAYOUT_SANDBOX_REFUSED_AMOUNTS or account.account_number in \
                settings.PAYOUT_SANDBOX_REFUSED_ACCOUNTS:
            raise PayoutRefused("INVALID_ACCOUNT", "the bank refused the transfer to this account (sandbox)")
        return PayoutConfirmation(transaction_key=f"sandbox-payout-{idempotency_key}", amount=amount)


GATEWAYS = {"sandbox": "wallets.payouts.SandboxPayoutGateway"}


def payout_gateway(name: str | None = None) -> PayoutGateway:
    """The gateway the settings select, or (``name``) the one a payout was made through."""
    return import_string(GATEWAYS.get(name or settings.PAYOUT_GATEWAY, name or settings.PAYOUT_GATEWAY))()

"""Wallets, the payments that charge them, and idempotency records of the API."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from prepaid.money import CURRENCY

# A wallet's ledger account is coded "wallet:<user id>" (opened by wallets/sql/wallet_charge_credit.sql).
WALLET_ACCOUNT_CODE_PREFIX = "wallet:"
# A user's expired balance is coded "expired:<user id>" (wallets/sql/wallet_expired_account.sql).
EXPIRED_ACCOUNT_CODE_PREFIX = "expired:"
# What an account number shows of itself: the mask over all but its last four digits.
ACCOUNT_NUMBER_MASK = "*"


def account_number_masked(digits: str) -> str:
    return ACCOUNT_NUMBER_MASK * max(0, len(digits) - 4) + digits[-4:]
# The notes a remaining-balance refund's card refunds, holds and payouts carry (the user reads them), and an
# expired balance's refund.
REMAINING_BALANCE_REFUND_NOTE = "잔액환불"
EXPIRED_BALANCE_REFUND_NOTE = "만료잔액 환불"


class WalletTier(models.TextChoices):
    """How far the user's identity is verified (docs/compliance.md): what bounds the wallet's balance and
    its daily transfers (``WALLET_BALANCE_MAX_<TIER>_WON``, ``TRANSFER_DAILY_MAX_<TIER>_WON``)."""

    UNVERIFIED = "unverified", _("unverified")
    VERIFIED = "verified", _("verified")  # real-name verified (실명인증)


class Wallet(models.Model):
    """One per user. ``balance`` (won) always equals the sum of the account's postings."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="wallet",
                                verbose_name=_("user"))
    account = models.OneToOneField("ledger.Account", on_delete=models.PROTECT, related_name="wallet",
                                   verbose_name=_("account"))
    currency = models.CharField(max_length=3, default=CURRENCY, verbose_name=_("currency"))
    balance = models.BigIntegerField(default=0, verbose_name=_("balance"))
    # Set by an operator or the identity provider's hook (services.wallet_tier_set), never by the user.
    tier = models.CharField(max_length=16, choices=WalletTier.choices, default=WalletTier.UNVERIFIED,
                            db_default=WalletTier.UNVERIFIED, verbose_name=_("tier"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("wallet")
        verbose_name_plural = _("wallets")
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name="wallet_balance_non_negative"),
            models.CheckConstraint(condition=Q(currency=CURRENCY), name="wallet_currency_krw"),
            models.CheckConstraint(condition=Q(tier__in=WalletTier.values), name="wallet_tier_known"),
        ]

    def __str__(self) -> str:
        return f"wallet of {self.user} ({self.balance:,} {self.currency})"


class OperationKind(models.TextChoices):
    CHARGE = "CHARGE"
    SPEND = "SPEND"
    REVERSAL = "REVERSAL"
    TRANSFER = "TRANSFER"
    CAPTURE = "CAPTURE"  # a spend from a hold
    PAYOUT = "PAYOUT"  # a remaining-balance refund paid to the user's bank account (Payout)
    EXPIRY = "EXPIRY"  # money past its validity, moved to the user's expired-balance account


class Operation(models.Model):
    """What makes a journal entry a wallet operation: who asked, what, how much, the entry it
    reverses, the payment's references and the request's Idempotency-Key. Its id is its entry's
    (the public transaction id); the wallet's balance after it is its posting's
    (``wallets.selectors``)."""

    entry = models.OneToOneField("ledger.JournalEntry", primary_key=True, db_column="id", on_delete=models.PROTECT,
                                 related_name="operation", verbose_name=_("entry"))
    kind = models.CharField(max_length=16, choices=OperationKind.choices, verbose_name=_("kind"))
    # Indexed by operation_user_created_idx (user, time, id) only: a plain index on the user would tempt a
    # generic plan into reading and sorting all of a user's operations for a page (bench/history.py).
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="wallet_operations",
                             db_index=False,
                             verbose_name=_("user"))
    # The other wallet's user: a transfer's recipient; a return's payee (the transfer's sender).
    counterparty = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                     db_index=False,
                                     related_name="wallet_operations_received", verbose_name=_("counterparty"))
    # Positive won: what was charged, spent, transferred or reversed.
    amount = models.BigIntegerField(verbose_name=_("amount"))
    reverses = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversals",
                                 verbose_name=_("reverses"))
    hold = models.ForeignKey("wallets.Hold", null=True, blank=True, on_delete=models.PROTECT, related_name="captures",
                             verbose_name=_("hold"))
    # External references: the payment gateway's keys (charges), free text (spends, reversals).
    payment_key = models.CharField(max_length=200, blank=True, default="", verbose_name=_("payment key"))
    order_id = models.CharField(max_length=64, blank=True, default="", verbose_name=_("order id"))
    description = models.CharField(max_length=500, blank=True, default="", verbose_name=_("description"))
    # The Idempotency-Key of the request that wrote it (for operators; the key's record, written in
    # the same transaction, is what makes a repeat replay instead of writing again).
    idempotency_key = models.CharField(max_length=255, blank=True, default="", verbose_name=_("idempotency key"))
    created_at = models.DateTimeField(verbose_name=_("created at"))

    class Meta:
        verbose_name = _("operation")
        verbose_name_plural = _("operations")
        ordering = ["-created_at", "-pk"]  # (not "-entry": that would order by the entry's own ordering, a join)
        indexes = [
            models.Index(fields=["user", "-created_at", "-entry"], name="operation_user_created_idx"),
            models.Index(fields=["created_at"], name="operation_created_idx"),  # the admin's changelist
            # the admin's search by a charge's references (whole: a partial index of the rows that have one is
            # out of a prepared statement's generic plan's reach; the empty ones deduplicate to little)
            models.Index(fields=["order_id"], name="operation_order_id_idx"),
            models.Index(fields=["payment_key"], name="operation_payment_key_idx"),
            models.Index(fields=["counterparty", "-created_at", "-entry"], condition=Q(counterparty__isnull=False),
                         name="operation_counterparty_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="operation_amount_positive"),
            # Only reversals point at an operation, and every reversal does.
            models.CheckConstraint(
                condition=(Q(kind=OperationKind.REVERSAL) & Q(reverses__isnull=False))
                | (~Q(kind=OperationKind.REVERSAL) & Q(reverses__isnull=True)),
                name="operation_reverses_only_for_reversals",
            ),
            # Only transfers and their returns have a counterparty, and it is another user.
            models.CheckConstraint(
                condition=Q(counterparty__isnull=True) | (Q(kind__in=[OperationKind.TRANSFER, OperationKind.REVERSAL])
                                                          & ~Q(counterparty=F("user"))),
                name="operation_counterparty_of_transfers"),
            models.CheckConstraint(condition=~Q(kind=OperationKind.TRANSFER) | Q(counterparty__isnull=False),
                                   name="operation_transfer_has_counterparty"),
            models.CheckConstraint(condition=(Q(kind=OperationKind.CAPTURE) & Q(hold__isnull=False))
                                   | (~Q(kind=OperationKind.CAPTURE) & Q(hold__isnull=True)),
                                   name="operation_capture_of_a_hold"),
            # The same order can never be credited twice.
            models.UniqueConstraint(fields=["order_id"], condition=Q(kind=OperationKind.CHARGE),
                                    name="operation_charge_order_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount:,} ({self.pk})"

    @property
    def id(self):
        """The transaction id (its journal entry's)."""
        return self.pk


class HoldStatus(models.TextChoices):
    ACTIVE = "ACTIVE"  # holding what is left of it (amount less captured) until it ends or expires
    CAPTURED = "CAPTURED"  # used up, or captured and marked final: it holds nothing more
    VOIDED = "VOIDED"  # released by its holder (or, a refund's, because the gateway refused the refund)
    EXPIRED = "EXPIRED"  # released by the expiry sweep


class HoldPurpose(models.TextChoices):
    CLIENT = "CLIENT"  # placed through the API: captured by the client, or voided, or it expires
    REFUND = "REFUND"  # a card refund on its way (Refund): captured by its reversal, voided if refused


class Hold(models.Model):
    """Money set aside in a wallet (authorize, then capture or void): the available balance (the balance
    less what active holds keep) drops, the balance does not. Captures, each a wallet operation, take
    from it until it is used up or marked final; what is left is released when it is voided or when it
    expires (``hold_expire_due``). A hold past its expiry holds nothing even before the sweep ends it."""

    id = models.UUIDField(primary_key=True, verbose_name=_("id"))  # the public hold id
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="holds",
                             verbose_name=_("user"))
    purpose = models.CharField(max_length=16, choices=HoldPurpose.choices, default=HoldPurpose.CLIENT,
                               verbose_name=_("purpose"))
    amount = models.BigIntegerField(verbose_name=_("amount"))  # won authorized
    captured = models.BigIntegerField(default=0, verbose_name=_("captured"))  # won captured so far
    status = models.CharField(max_length=16, choices=HoldStatus.choices, default=HoldStatus.ACTIVE,
                              verbose_name=_("status"))
    description = models.CharField(max_length=500, blank=True, default="", verbose_name=_("description"))
    idempotency_key = models.CharField(max_length=255, blank=True, default="", verbose_name=_("idempotency key"))
    # none: a refund's, held until the gateway answers
    expires_at = models.DateTimeField(null=True, blank=True, verbose_name=_("expires at"))
    created_at = models.DateTimeField(verbose_name=_("created at"))
    ended_at = models.DateTimeField(null=True, blank=True, verbose_name=_("ended at"))

    class Meta:
        verbose_name = _("hold")
        verbose_name_plural = _("holds")
        indexes = [
            models.Index(fields=["user"], condition=Q(status="ACTIVE"), name="hold_active_user_idx"),
            models.Index(fields=["expires_at"], condition=Q(status="ACTIVE"), name="hold_active_expiry_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="hold_amount_positive"),
            models.CheckConstraint(condition=Q(captured__gte=0, captured__lte=F("amount")),
                                   name="hold_captured_within_amount"),
            models.CheckConstraint(condition=Q(status="ACTIVE", ended_at__isnull=True)
                                   | (~Q(status="ACTIVE") & Q(ended_at__isnull=False)),
                                   name="hold_ended_when_not_active"),
        ]

    def __str__(self) -> str:
        return f"hold {self.amount:,} ({self.status})"

    @property
    def remaining(self) -> int:
        return self.amount - self.captured if self.status == HoldStatus.ACTIVE else 0


class PaymentStatus(models.TextChoices):
    # Recorded before the gateway is asked: a crash after the gateway confirmed
    # leaves this row behind, and payment recovery settles it.
    PENDING = "PENDING"
    CREDITED = "CREDITED"
    FAILED = "FAILED"


class Payment(models.Model):
    """A charge through the payment gateway, keyed by the merchant's ``order_id``."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payments",
                             verbose_name=_("user"))
    order_id = models.CharField(max_length=64, unique=True, verbose_name=_("order id"))
    payment_key = models.CharField(max_length=200, db_index=True, verbose_name=_("payment key"))
    amount = models.BigIntegerField(verbose_name=_("amount"))
    status = models.CharField(max_length=16, choices=PaymentStatus.choices, default=PaymentStatus.PENDING,
                              verbose_name=_("status"))
    gateway = models.CharField(max_length=64, verbose_name=_("gateway"))
    failure_code = models.CharField(max_length=64, blank=True, default="", verbose_name=_("failure code"))
    failure_message = models.CharField(max_length=500, blank=True, default="", verbose_name=_("failure message"))
    entry = models.OneToOneField(
        "ledger.JournalEntry", null=True, blank=True, on_delete=models.PROTECT, related_name="payment",
        verbose_name=_("entry"))
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        indexes = [
            models.Index(fields=["created_at"], condition=Q(status="PENDING"), name="payment_pending_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=Q(status="CREDITED", entry__isnull=False) | (~Q(status="CREDITED") & Q(entry__isnull=True)),
                name="payment_credited_has_entry",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id} {self.amount:,} {self.status}"


class ChargeOrder(models.Model):
    """A charge registered before the customer pays (Toss's checkout: order first, then pay).

    The widget is opened with this order's id and amount; when the browser comes back with
    a payment key, the charge is confirmed only for this user, this order and this amount
    (a tampered amount never reaches the gateway). Its Payment, once confirmed, has the same
    ``order_id``."""

    order_id = models.CharField(max_length=64, unique=True, verbose_name=_("order id"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="charge_orders",
                             verbose_name=_("user"))
    amount = models.BigIntegerField(verbose_name=_("amount"))
    order_name = models.CharField(max_length=100, verbose_name=_("order name"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("charge order")
        verbose_name_plural = _("charge orders")
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="charge_order_amount_positive")]

    def __str__(self) -> str:
        return f"{self.order_id} {self.amount:,}"


class RefundStatus(models.TextChoices):
    REQUESTED = "REQUESTED"  # the amount is held; the gateway is asked to cancel it (or will be, by recovery)
    SUCCEEDED = "SUCCEEDED"  # the gateway cancelled it; the reversal entry is written
    FAILED = "FAILED"  # the gateway refused; the hold is released and nothing was written
    UNCOVERED = "UNCOVERED"  # cancelled at the gateway without us while the wallet could not cover it: for an operator


class Refund(models.Model):
    """Part or all of a charge cancelled on the card: the saga of a charge's reversal
    (``wallets/sql/wallet_reverse.sql`` and docs/architecture.md tell its steps and its point of
    no return)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="refunds",
                             verbose_name=_("user"))
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("payment"))
    # The remaining-balance refund this card refund is part of, if any.
    request = models.ForeignKey("wallets.RefundRequest", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="refunds", verbose_name=_("refund request"))
    # The id the reversal's journal entry gets, and the Idempotency-Key the gateway is asked with.
    reversal_id = models.UUIDField(unique=True, verbose_name=_("reversal id"))
    amount = models.BigIntegerField(verbose_name=_("amount"))
    reason = models.CharField(max_length=200, blank=True, default="", verbose_name=_("reason"))
    status = models.CharField(max_length=16, choices=RefundStatus.choices, default=RefundStatus.REQUESTED,
                              verbose_name=_("status"))
    # the client's Idempotency-Key, if any
    key = models.CharField(max_length=255, blank=True, default="", verbose_name=_("key"))
    entry = models.OneToOneField(
        "ledger.JournalEntry", null=True, blank=True, on_delete=models.PROTECT, related_name="refund",
        verbose_name=_("entry"))
    # What keeps the amount in the wallet while the gateway is asked (REQUESTED); captured by the
    # reversal, voided if the gateway refuses.
    hold = models.OneToOneField(Hold, null=True, blank=True, on_delete=models.PROTECT, related_name="refund",
                                verbose_name=_("hold"))
    gateway_transaction_key = models.CharField(max_length=64, blank=True, default="",
                                               verbose_name=_("gateway transaction key"))
    failure_code = models.CharField(max_length=64, blank=True, default="", verbose_name=_("failure code"))
    failure_message = models.CharField(max_length=500, blank=True, default="", verbose_name=_("failure message"))
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        indexes = [
            models.Index(fields=["created_at"], condition=Q(status="REQUESTED"), name="refund_requested_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
            models.CheckConstraint(
                condition=Q(status="SUCCEEDED", entry__isnull=False) | (~Q(status="SUCCEEDED") & Q(entry__isnull=True)),
                name="refund_succeeded_has_entry",
            ),
            models.UniqueConstraint(fields=["user", "key"], condition=Q(status="REQUESTED") & ~Q(key=""),
                                    name="refund_requested_key_unique"),
        ]

    def __str__(self) -> str:
        return f"refund {self.amount:,} of {self.payment.order_id} {self.status}"


class RefundGround(models.TextChoices):
    """Why a user may have the remaining balance refunded (docs/compliance.md)."""

    USED_SHARE = "used_share", _("enough of the last charge used")  # the user's own request
    SERVICE_UNAVAILABLE = "service_unavailable", _("the service cannot be used")  # an operator's grant
    MERCHANTS_CUT = "merchants_cut", _("merchants cut")
    TERMS_WORSENED = "terms_worsened", _("terms worsened")


class RefundRequestStatus(models.TextChoices):
    PROCESSING = "PROCESSING"  # card refunds or payouts on their way
    COMPLETED = "COMPLETED"  # everything it set out to refund was refunded
    PARTIAL = "PARTIAL"  # ended with some of it left in the wallet (a card and the bank both refused)


class RefundRequest(models.Model):
    """A remaining-balance refund (잔액환불): what the wallet had available, refunded to the cards it came from
    (partial cancels, newest charge first: ``Refund`` rows) and, for what no card takes back, paid to the
    user's bank account (``Payout`` rows); and the expired balance at ``WALLET_EXPIRED_REFUND_PERCENT``. The
    wallet is debited as each refund completes (``wallets/sql/wallet_refund_request_begin.sql``)."""

    id = models.UUIDField(primary_key=True, verbose_name=_("id"))  # the public request id
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="refund_requests",
                             verbose_name=_("user"))
    ground = models.CharField(max_length=32, choices=RefundGround.choices, verbose_name=_("ground"))
    status = models.CharField(max_length=16, choices=RefundRequestStatus.choices,
                              default=RefundRequestStatus.PROCESSING, verbose_name=_("status"))
    amount = models.BigIntegerField(verbose_name=_("amount"))  # of the wallet's balance, won
    to_cards = models.BigIntegerField(verbose_name=_("to cards"))  # planned at the start
    expired_amount = models.BigIntegerField(default=0, verbose_name=_("expired amount"))  # expired balance taken
    expired_refund = models.BigIntegerField(default=0, verbose_name=_("expired refund"))  # what is paid for it
    bank_code = models.CharField(max_length=3, blank=True, default="", verbose_name=_("bank code"))
    # Sealed (prepaid/crypto.py: only the payout opens it); what every answer, event and page shows is the mask.
    account_number = models.CharField(max_length=200, blank=True, default="", verbose_name=_("account number"))
    account_masked = models.CharField(max_length=20, blank=True, default="", verbose_name=_("account"))
    holder_name = models.CharField(max_length=50, blank=True, default="", verbose_name=_("holder name"))
    by = models.CharField(max_length=150, blank=True, default="", verbose_name=_("by"))  # an operator's grant
    idempotency_key = models.CharField(max_length=255, blank=True, default="", verbose_name=_("idempotency key"))
    created_at = models.DateTimeField(verbose_name=_("created at"))
    completed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("completed at"))

    class Meta:
        verbose_name = _("remaining-balance refund")
        verbose_name_plural = _("remaining-balance refunds")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "-created_at"], name="refund_request_user_idx"),
                   models.Index(fields=["created_at"], name="refund_request_created_idx"),
                   models.Index(fields=["created_at"], condition=Q(status="PROCESSING"),
                                name="refund_request_processing_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0, to_cards__gte=0, to_cards__lte=F("amount"),
                                               expired_amount__gte=0, expired_refund__gte=0,
                                               expired_refund__lte=F("expired_amount")),
                                   name="refund_request_amounts"),
            models.CheckConstraint(condition=Q(amount__gt=0) | Q(expired_amount__gt=0),
                                   name="refund_request_not_empty"),
            # One request at a time per user.
            models.UniqueConstraint(fields=["user"], condition=Q(status="PROCESSING"),
                                    name="refund_request_one_open"),
        ]

    def __str__(self) -> str:
        return f"refund request {self.amount:,} ({self.status})"


class PayoutStatus(models.TextChoices):
    REQUESTED = "REQUESTED"  # held (from the wallet), the payout gateway asked (or to be, by recovery)
    SUCCEEDED = "SUCCEEDED"  # paid: its entry written
    FAILED = "FAILED"  # the gateway refused: the hold released, nothing written


class Payout(models.Model):
    """A payment to the user's bank account, part of a remaining-balance refund: from the wallet (held, then
    debited when the gateway pays: a PAYOUT operation) or from the expired balance (``from_expired``: its
    share paid, the rest to the issuer). Its id is the gateway's Idempotency-Key and its entry's id."""

    id = models.UUIDField(primary_key=True, verbose_name=_("id"))
    request = models.ForeignKey(RefundRequest, on_delete=models.PROTECT, related_name="payouts",
                                verbose_name=_("refund request"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payouts",
                             verbose_name=_("user"))
    amount = models.BigIntegerField(verbose_name=_("amount"))  # won paid to the bank account
    from_expired = models.BigIntegerField(default=0, verbose_name=_("from expired"))  # expired won it settles
    status = models.CharField(max_length=16, choices=PayoutStatus.choices, default=PayoutStatus.REQUESTED,
                              verbose_name=_("status"))
    gateway = models.CharField(max_length=64, verbose_name=_("gateway"))
    hold = models.OneToOneField(Hold, null=True, blank=True, on_delete=models.PROTECT, related_name="payout",
                                verbose_name=_("hold"))
    entry = models.OneToOneField("ledger.JournalEntry", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="payout", verbose_name=_("entry"))
    gateway_transaction_key = models.CharField(max_length=64, blank=True, default="",
                                               verbose_name=_("gateway transaction key"))
    failure_code = models.CharField(max_length=64, blank=True, default="", verbose_name=_("failure code"))
    failure_message = models.CharField(max_length=500, blank=True, default="", verbose_name=_("failure message"))
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    created_at = models.DateTimeField(verbose_name=_("created at"))
    updated_at = models.DateTimeField(verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("payout")
        verbose_name_plural = _("payouts")
        indexes = [models.Index(fields=["created_at"], condition=Q(status="REQUESTED"), name="payout_requested_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0) & Q(from_expired__gte=0), name="payout_amounts"),
            models.CheckConstraint(condition=Q(status="SUCCEEDED", entry__isnull=False)
                                   | (~Q(status="SUCCEEDED") & Q(entry__isnull=True)),
                                   name="payout_succeeded_has_entry"),
            # From the wallet: held while it runs; from the expired balance: nothing to hold.
            models.CheckConstraint(condition=Q(from_expired=0, hold__isnull=False)
                                   | Q(from_expired__gt=0, hold__isnull=True), name="payout_wallet_ones_held"),
        ]

    def __str__(self) -> str:
        return f"payout {self.amount:,} ({self.status})"


class ExpiryNotice(models.Model):
    """A notice that some of a wallet's money expires soon (``WALLET_EXPIRY_NOTICE_DAYS_BEFORE``), sent as a
    BALANCE_EXPIRY_NOTICE event on every channel the user chose."""

    id = models.UUIDField(primary_key=True, verbose_name=_("id"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="expiry_notices",
                             verbose_name=_("user"))
    days_before = models.FloatField(verbose_name=_("days before"))
    amount = models.BigIntegerField(verbose_name=_("amount"))  # won that expire by expires_by
    expires_by = models.DateTimeField(verbose_name=_("expires by"))
    created_at = models.DateTimeField(verbose_name=_("created at"))

    class Meta:
        verbose_name = _("expiry notice")
        verbose_name_plural = _("expiry notices")
        indexes = [models.Index(fields=["user", "days_before", "-created_at"], name="expiry_notice_user_idx")]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="expiry_notice_amount_positive")]

    def __str__(self) -> str:
        return f"{self.amount:,} by {self.expires_by:%Y-%m-%d}"


class IdempotencyRecord(models.Model):
    """The answer to a POST with an ``Idempotency-Key``, replayed for repeats (Stripe's semantics).

    Written by the wallet operations themselves (the SQL functions of ``wallets/sql/``),
    in the operation's own transaction: an operation that committed always has its
    answer recorded. A charge's key is "in flight" (no answer yet) while the payment
    gateway is asked.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
                             verbose_name=_("user"))
    key = models.CharField(max_length=255, verbose_name=_("key"))
    # sha256 of the request (method, path, canonical JSON body): the same key with another request is refused.
    fingerprint = models.CharField(max_length=64, verbose_name=_("fingerprint"))
    # The answer: the journal entry written, or a refusal (its code and what its message says).
    entry = models.ForeignKey("ledger.JournalEntry", null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+", db_index=False, verbose_name=_("entry"))
    error_code = models.CharField(max_length=64, blank=True, default="", verbose_name=_("error code"))
    error_detail = models.JSONField(null=True, blank=True, verbose_name=_("error detail"))
    created_at = models.DateTimeField(default=timezone.now, db_index=True, verbose_name=_("created at"))
    completed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("completed at"))

    class Meta:
        verbose_name = _("idempotency record")
        verbose_name_plural = _("idempotency records")
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_user_key_unique")]

    def __str__(self) -> str:
        return self.key

    @property
    def in_flight(self) -> bool:
        return self.completed_at is None


class CustodyReport(models.Model):
    """One day's outstanding prepaid balance (선불충전금, docs/compliance.md), Korean time, from the ledger's
    wallet accounts: what users held at the day's end (held money included), the day's flows, and whether
    they add up. An operator records what the trust account held (``custody_amount``); the ratio of the two
    is ``prepaid_custody_ratio``, alerted on below 1."""

    day = models.DateField(unique=True, verbose_name=_("day"))  # Korean time
    opening = models.BigIntegerField(verbose_name=_("opening"))  # users' balances at the day's start
    outstanding = models.BigIntegerField(verbose_name=_("outstanding"))  # users' balances at the day's end
    charged = models.BigIntegerField(verbose_name=_("charged"))  # paid in by card
    refunded = models.BigIntegerField(verbose_name=_("refunded"))  # refunded to cards (reversed charges)
    used = models.BigIntegerField(verbose_name=_("used"))  # spent at merchants (spends, hold captures)
    # spends and captures reversed back into wallets
    use_reversed = models.BigIntegerField(verbose_name=_("use reversed"))
    # expired: moved from wallets to the users' expired balances; paid out: to users' bank accounts (refunds of
    # remaining and of expired balances; the issuer's share of the expired ones is not in it).
    expired = models.BigIntegerField(default=0, verbose_name=_("expired"))
    paid_out = models.BigIntegerField(default=0, verbose_name=_("paid out"))
    # closing - opening - (what the day's postings moved in and out of the wallets): 0 when the books agree.
    difference = models.BigIntegerField(verbose_name=_("difference"))
    made_at = models.DateTimeField(verbose_name=_("made at"))
    # won in the trust account, as recorded
    custody_amount = models.BigIntegerField(null=True, blank=True, verbose_name=_("custody amount"))
    custody_note = models.CharField(max_length=300, blank=True, default="", verbose_name=_("custody note"))
    custody_recorded_by = models.CharField(max_length=150, blank=True, default="",
                                           verbose_name=_("custody recorded by"))
    custody_recorded_at = models.DateTimeField(null=True, blank=True, verbose_name=_("custody recorded at"))

    class Meta:
        verbose_name = _("outstanding balance report")
        verbose_name_plural = _("outstanding balance reports")
        ordering = ["-day"]
        constraints = [models.CheckConstraint(condition=Q(custody_amount__gte=0) | Q(custody_amount=None),
                                              name="custody_amount_non_negative")]

    def __str__(self) -> str:
        return f"{self.day}: {self.outstanding:,}"

    @property
    def reconciled(self) -> bool:
        return self.difference == 0

    @property
    def custody_ratio(self) -> float | None:
        """The trust account's share of what users hold (1 when they hold nothing); None before it is recorded."""
        if self.custody_amount is None:
            return None
        return self.custody_amount / self.outstanding if self.outstanding else 1.0


class ReconcileRun(models.Model):
    """One run of the ledger's reconcile (``reconcile_ledger``): a full pass over every wallet and entry, or
    an incremental one over the postings written since the last run's mark. Its mark (``upto_posting_id``)
    is where the next incremental run starts: the highest posting old enough that no transaction still
    running can write one below it (``LEDGER_RECONCILE_SETTLE_S``)."""

    class Kind(models.TextChoices):
        FULL = "FULL", _("full")
        INCREMENTAL = "INCREMENTAL", _("incremental")

    kind = models.CharField(max_length=16, choices=Kind.choices, verbose_name=_("kind"))
    from_posting_id = models.BigIntegerField(verbose_name=_("from posting id"))  # excluded
    upto_posting_id = models.BigIntegerField(verbose_name=_("up to posting id"))  # included: the next run's mark
    upto_time = models.DateTimeField(null=True, blank=True, verbose_name=_("up to time"))
    postings_checked = models.BigIntegerField(verbose_name=_("postings checked"))
    wallets_checked = models.BigIntegerField(verbose_name=_("wallets checked"))
    mismatches = models.IntegerField(verbose_name=_("mismatches"))
    started_at = models.DateTimeField(verbose_name=_("started at"))
    finished_at = models.DateTimeField(verbose_name=_("finished at"))

    class Meta:
        verbose_name = _("ledger reconcile run")
        verbose_name_plural = _("ledger reconcile runs")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.from_posting_id}..{self.upto_posting_id}: {self.mismatches} mismatch(es)"

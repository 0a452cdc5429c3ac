"""Double-entry ledger: accounts, journal entries and their postings.

Each journal entry has two or more postings whose amounts (in won) sum to zero.
An account's balance is the sum of its postings. Entries and postings are
append-only: PostgreSQL triggers refuse UPDATE and DELETE, and a deferred
constraint trigger refuses a transaction that leaves an entry unbalanced
(``ledger/sql/``). The ledger knows accounts, not what owns them: the wallets
app opens one account per wallet.

Sign convention: a positive posting on a wallet account is money owed to the
user (it raises the balance); system accounts take the opposite side.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from prepaid.money import CURRENCY


class AccountKind(models.TextChoices):
    WALLET = "WALLET", "user wallet"
    PAYMENT_CLEARING = "PAYMENT_CLEARING", "payment clearing (money received from the payment gateway)"
    MERCHANT_SETTLEMENT = "MERCHANT_SETTLEMENT", "merchant settlement (money spent at merchants)"


class Account(models.Model):
    # Stable codes of the system accounts (created on first use: ledger.services.ledger_system_account).
    PAYMENT_CLEARING_CODE = "system:payment-clearing"
    MERCHANT_SETTLEMENT_CODE = "system:merchant-settlement"

    code = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=32, choices=AccountKind.choices)
    currency = models.CharField(max_length=3, default=CURRENCY)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.code


class EntryKind(models.TextChoices):
    CHARGE = "CHARGE"
    SPEND = "SPEND"
    REVERSAL = "REVERSAL"


class JournalEntry(models.Model):
    """One wallet operation. ``id`` is the public transaction id."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=16, choices=EntryKind.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="journal_entries")
    # Positive won: what was charged, spent or reversed.
    amount = models.BigIntegerField()
    # The user's wallet balance right after this entry (a statement column).
    balance_after = models.BigIntegerField()
    reverses = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversals"
    )
    # External references: the payment gateway's keys (charges), free text (spends, reversals).
    payment_key = models.CharField(max_length=200, blank=True, default="")
    order_id = models.CharField(max_length=64, blank=True, default="")
    description = models.CharField(max_length=500, blank=True, default="")
    # The Idempotency-Key of the request that wrote it (for operators; the key's record, written in
    # the same transaction, is what makes a repeat replay instead of writing again).
    idempotency_key = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name_plural = "journal entries"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"], name="entry_user_created_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="entry_amount_positive"),
            models.CheckConstraint(condition=Q(balance_after__gte=0), name="entry_balance_after_non_negative"),
            # Only reversals point at an entry, and every reversal does.
            models.CheckConstraint(
                condition=(Q(kind=EntryKind.REVERSAL) & Q(reverses__isnull=False))
                | (~Q(kind=EntryKind.REVERSAL) & Q(reverses__isnull=True)),
                name="entry_reverses_only_for_reversals",
            ),
            # The same order can never be credited twice.
            models.UniqueConstraint(
                fields=["order_id"], condition=Q(kind=EntryKind.CHARGE), name="entry_charge_order_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} ({self.id})"


class Posting(models.Model):
    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="postings")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="postings")
    # Signed won; the postings of one entry sum to zero.
    amount = models.BigIntegerField()

    class Meta:
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="posting_amount_non_zero")]

    def __str__(self) -> str:
        return f"{self.account.code} {self.amount:+d}"

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

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from prepaid.money import CURRENCY


class AccountKind(models.TextChoices):
    WALLET = "WALLET", "user wallet"
    PAYMENT_CLEARING = "PAYMENT_CLEARING", "payment clearing (money received from the payment gateway)"
    MERCHANT_SETTLEMENT = "MERCHANT_SETTLEMENT", "merchant settlement (money spent at merchants)"
    PAYOUT_CLEARING = "PAYOUT_CLEARING", "payout clearing (money paid to users' bank accounts)"
    EXPIRED_BALANCE = "EXPIRED_BALANCE", "a user's expired balance (refundable in part until the limitation ends)"
    EXPIRY_INCOME = "EXPIRY_INCOME", "the issuer's share of expired balances refunded"


class Account(models.Model):
    # Stable codes of the system accounts (created on first use: ledger.services.ledger_system_account).
    PAYMENT_CLEARING_CODE = "system:payment-clearing"
    MERCHANT_SETTLEMENT_CODE = "system:merchant-settlement"
    PAYOUT_CLEARING_CODE = "system:payout-clearing"
    EXPIRY_INCOME_CODE = "system:expiry-income"

    code = models.CharField(max_length=64, unique=True, verbose_name=_("code"))
    kind = models.CharField(max_length=32, choices=AccountKind.choices, verbose_name=_("kind"))
    currency = models.CharField(max_length=3, default=CURRENCY, verbose_name=_("currency"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("ledger account")
        verbose_name_plural = _("ledger accounts")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.code


class JournalEntry(models.Model):
    """A movement of money between accounts: two or more postings summing to zero.

    ``kind`` and ``description`` are the writer's words (the wallets app writes its operation
    kinds, ``wallets.models.OperationKind``); what made the entry (who, which payment, which
    request) is the writer's to keep. A wallet operation's id is its entry's id.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False, verbose_name=_("id"))
    kind = models.CharField(max_length=32, verbose_name=_("kind"))
    description = models.CharField(max_length=500, blank=True, default="", verbose_name=_("description"))
    created_at = models.DateTimeField(db_index=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("journal entry")
        verbose_name_plural = _("journal entries")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} ({self.id})"


class Posting(models.Model):
    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="postings", verbose_name=_("entry"))
    # Indexed by posting_account_time_idx (account, time, id) only: a plain index on the account would tempt a
    # generic plan into reading all of an account's postings for one (bench/history.py).
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="postings", db_index=False,
                                verbose_name=_("account"))
    # Signed won; the postings of one entry sum to zero.
    amount = models.BigIntegerField(verbose_name=_("amount"))
    # The account's balance right after this posting, where the account's balance is kept (a wallet's:
    # its owner locks it); null on the system accounts, which every operation touches and none locks.
    balance_after = models.BigIntegerField(null=True, blank=True, verbose_name=_("balance after"))
    # The entry's time, kept with the posting: an account's history and its balance at a moment are
    # read from one index (account, time).
    created_at = models.DateTimeField(verbose_name=_("created at"))

    class Meta:
        verbose_name = _("posting")
        verbose_name_plural = _("postings")
        ordering = ["id"]
        indexes = [models.Index(fields=["account", "created_at", "id"], name="posting_account_time_idx")]
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="posting_amount_non_zero")]

    def __str__(self) -> str:
        return f"{self.account.code} {self.amount:+d}"

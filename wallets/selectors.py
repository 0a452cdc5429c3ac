"""Reads of wallets and their transactions. Every list is bounded (paginated)."""

import dataclasses

from django.db.models import BigIntegerField, F, Func, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from ledger.models import Posting
from ledger.selectors import ledger_unbalanced_entries
from wallets.models import ChargeOrder, Operation, Wallet


def wallet_get(*, user_id: int) -> Wallet | None:
    return Wallet.objects.filter(user_id=user_id).first()


def wallet_transactions(*, user_id: int) -> QuerySet[Operation]:
    """The user's wallet operations, newest first, each with the wallet's balance after it (its
    posting's), how much of it was reversed and how much can still be: the rule ``wallet_reverse``
    applies (wallets/sql/wallet_reversible_amount.sql)."""
    balance_after = Posting.objects.filter(entry_id=OuterRef("pk"), account__wallet__user_id=user_id)
    reversed_amount = (Operation.objects.filter(reverses_id=OuterRef("pk")).order_by()
                       .values("reverses_id").annotate(total=Sum("amount")).values("total"))
    return (
        Operation.objects.filter(user_id=user_id)
        .annotate(balance_after=Subquery(balance_after.values("balance_after")[:1]),
                  reversed_amount=Coalesce(Subquery(reversed_amount), 0),
                  reversible_amount=Func(F("pk"), function="wallet_reversible_amount",
                                         output_field=BigIntegerField()))
        .order_by("-created_at", "-pk")
    )


def wallet_balance_mismatches(*, limit: int = 1000) -> list[dict]:
    """Wallets whose balance differs from the sum of their account's postings."""
    rows = (
        Wallet.objects.annotate(posted=Coalesce(Sum("account__postings__amount"), 0))
        .exclude(balance=F("posted"))
        .order_by("id")
        .values("id", "user_id", "balance", "posted")[:limit]
    )
    return list(rows)


@dataclasses.dataclass(frozen=True)
class LedgerReconciliation:
    """What ``reconcile_ledger`` found: wallets whose balance is not their postings, unbalanced entries."""

    wallet_mismatches: list[dict]
    unbalanced_entries: list[dict]

    @property
    def clean(self) -> bool:
        return not self.wallet_mismatches and not self.unbalanced_entries


def wallet_ledger_reconcile(*, limit: int = 1000) -> LedgerReconciliation:
    """Check wallets against the ledger and the ledger against itself (at most ``limit`` of each)."""
    return LedgerReconciliation(wallet_mismatches=wallet_balance_mismatches(limit=limit),
                                unbalanced_entries=ledger_unbalanced_entries(limit=limit))


def charge_order_get(*, user_id: int, order_id: str) -> ChargeOrder | None:
    """The user's charge order (another user's is not found)."""
    return ChargeOrder.objects.filter(order_id=order_id, user_id=user_id).first()
